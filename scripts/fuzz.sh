#!/usr/bin/env bash
# Fuzzes the core's parsers with cargo-fuzz (libFuzzer): the cookie codec, the
# path normaliser with the URL scrubbers, the settings parser, and the DBSC
# proof parser with the challenge check. Each target
# runs for RUNS executions (default 1,000,000) and the counts are printed.
#
# cargo-fuzz wants a nightly toolchain; only stable is installed here, so the
# build runs with RUSTC_BOOTSTRAP=1, which lets stable rustc take the nightly
# flags cargo-fuzz passes (-Zsanitizer=address works with the sanitizer
# runtime stable ships). FUZZ_SANITIZER=none skips AddressSanitizer (faster
# build and runs); the core is forbid(unsafe_code), so the fuzzers mainly
# look for panics, failed invariants, hangs and blow-ups. Not part of
# `make test`.
set -euo pipefail
cd "$(dirname "$0")/.."

RUNS="${1:-1000000}"
TARGETS="${FUZZ_TARGETS:-cookie path settings dbsc_proof}"
SANITIZER="${FUZZ_SANITIZER:-address}"
CARGO_FUZZ_VERSION=0.13.2
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
log() { printf '[fuzz] %s\n' "$*"; }

have=$("$CARGO_BIN/cargo-fuzz" --version 2>/dev/null | awk '{print $NF}' || true)
if [ "$have" != "$CARGO_FUZZ_VERSION" ]; then
  log "installing cargo-fuzz $CARGO_FUZZ_VERSION"
  cargo install cargo-fuzz --version "$CARGO_FUZZ_VERSION" --force
fi

# Small seed corpora, generated: valid cookies under the fuzz targets' key
# ring, their payloads, Cookie headers, hostile paths and a full settings set.
KEYS="k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE,k0:AgICAgICAgICAgICAgICAgICAgICAgICAgICAgICAgI"
seed() { # seed TARGET NAME MODE-BYTE-OR-EMPTY TEXT
  local dir="crates/core/fuzz/corpus/$1"
  mkdir -p "$dir"
  if [ -n "$3" ]; then printf "\\x$3%s" "$4" > "$dir/seed-$2"; else printf '%s' "$4" > "$dir/seed-$2"; fi
}
if [ ! -d crates/core/fuzz/corpus/cookie ]; then
  log "generating seed corpora"
  cargo build --quiet -p session-gate-cli
  i=0
  for args in "--sub alice" "--sub zoë --roles admin,viewer" "--sub a\"b\\c --roles x" "--sub 日本語 --iat 1 --seen 2"; do
    # shellcheck disable=SC2086
    cookie=$(SESSION_KEYS="$KEYS" target/debug/session-gate mint $args)
    payload=$(printf '%s' "$cookie" | cut -d. -f3)
    padded="$payload$(printf '%*s' $(( (4 - ${#payload} % 4) % 4 )) '' | tr ' ' '=')"
    json=$(printf '%s' "$padded" | tr -- '-_' '+/' | base64 -d)
    seed cookie "raw$i" 00 "$cookie"
    seed cookie "header$i" 01 "theme=dark; __Host-session=$cookie; __HOST-SESSION=x"
    seed cookie "json$i" 02 "$json"
    seed cookie "payload$i" 03 "$payload"
    i=$((i + 1))
  done
  i=0
  for p in "/" "/a/./b/../c//d/" "/public/..;/admin" "/public/%2e%2e/admin" "/a%2fb" "/%C3%A9/%c0%ae" \
           "/a;jsessionid=1/b;v=2?sid=3&q=4#f" "/;sid=1/evil.com" "https://x.test/p;sid=1?phpsessid=2&a#f" \
           "//x.test/a?SID=1;b=2" "/%252e%252e/x" "/a%00b" "/~user/%7e/%41"; do
    seed path "$i" "" "$p"
    i=$((i + 1))
  done
  seed settings full "" "SESSION_KEYS=$KEYS
ORIGIN_URL=https://origin.example:8443
COOKIE_NAME=__Host-session
IDLE_TIMEOUT=1800
ABSOLUTE_TIMEOUT=43200
REFRESH_INTERVAL=60
CLOCK_SKEW=60
PUBLIC_PATHS=/assets/*,/favicon.ico
LOGIN_PATH=/login
SESSION_PARAMS=sid,jsessionid
REFERRER_POLICY=no-referrer
REVOCATION_CACHE=10
KV_FAILURE=open
CSRF=off
ORIGIN_SECRET=0123456789abcdef0123456789abcdef"
  seed settings minimal "" "SESSION_KEYS=k1:AQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQEBAQE"
fi

if [ ! -d crates/core/fuzz/corpus/dbsc_proof ]; then
  # The spec's example proof (w3c/webappsec-dbsc, "Secure-Session-Response"),
  # a registration header with a P-256 jwk, a payload with extra claims, and
  # a challenge's shape.
  seed dbsc_proof spec 00 '"eyJhbGciOiJFUzI1NiIsInR5cCI6ImRic2Mrand0In0.eyJhdWQiOiJodHRwczovL2V4YW1wbGUuY29tL3JlZyIsImp0aSI6ImN2IiwiaWF0IjoiMTcyNTU3OTA1NSIsImp3ayI6eyJrdHkiOiJFQyIsImNydiI6IlAtMjU2IiwieCI6IjZfR0Iydm9RMHFyb01oNk9sREZDRlNfU0pyaVFpMVBUdnZCT2hHWjNiSEkiLCJ5IjoiSWVnT0pVTHlFN1N4SF9DZDFLQ0VSN2xXQnZHRkhRLWgweHlqelVqRUlXRSJ9LCJhdXRob3JpemF0aW9uIjoiYWMifQ.6Fb_vVBDmfNghQiBmIGe8o7tBfYPbPCywhQruP0vIhxgmcJmuNTaMHeVn_M8ZnOm1_bzIitbZqCWEn-1Qzmtyw"'
  seed dbsc_proof header 01 '{"alg":"ES256","typ":"dbsc+jwt","jwk":{"kty":"EC","crv":"P-256","x":"6_GB2voQ0qroMh6OlDFCFS_SJriQi1PTvvBOhGZ3bHI","y":"IegOJULyE7SxH_Cd1KCER7lWBvGFHQ-h0xyjzUjEIWE"}}'
  seed dbsc_proof payload 02 '{"aud":"https://example.com/reg","jti":"cv","iat":"1725579055","authorization":"ac","n":[1.5e3,null,true]}'
  seed dbsc_proof challenge 03 'AAABjM3gAAAJCQkJCQkJCQkJCQkJCQkJq83vEjRWeJCrze8SNFZ4kA'
fi

log "building the fuzz targets (sanitizer: $SANITIZER)"
RUSTC_BOOTSTRAP=1 cargo fuzz build --fuzz-dir crates/core/fuzz -s "$SANITIZER"

summary=()
for target in $TARGETS; do
  log "$target: $RUNS runs"
  out="crates/core/fuzz/artifacts/$target.log"
  mkdir -p crates/core/fuzz/artifacts
  start=$(date +%s)
  set +e
  RUSTC_BOOTSTRAP=1 cargo fuzz run --fuzz-dir crates/core/fuzz -s "$SANITIZER" "$target" "crates/core/fuzz/corpus/$target" -- \
    -runs="$RUNS" -print_final_stats=1 -max_len=4096 -timeout=10 > "$out" 2>&1
  status=$?
  set -e
  secs=$(( $(date +%s) - start ))
  grep -E '^(#[0-9]+[[:space:]]+(INITED|DONE)|Done [0-9]+ runs|stat::number_of_executed_units|stat::peak_rss)' "$out" || true
  execs=$(sed -n 's/^stat::number_of_executed_units: *//p' "$out" | tail -1)
  if [ "$status" -ne 0 ]; then
    grep -E -A3 'panicked|ERROR|Test unit written' "$out" || tail -20 "$out"
    log "$target FAILED (exit $status) after ${execs:-?} executions; see $out"
    exit "$status"
  fi
  summary+=("$target: ${execs:-?} executions in ${secs}s")
done
log "summary"
for line in "${summary[@]}"; do log "  $line"; done
