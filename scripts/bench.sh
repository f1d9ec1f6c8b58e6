#!/usr/bin/env bash
# `make bench`: installs what the benchmarks need (wrk from Debian, twiggy
# from crates.io), then runs the native microbenchmarks (criterion) and the
# end-to-end, size and memory benchmarks (bench/run.mjs), which write
# bench/results.md and bench/results.json, then the revocation bound between two
# gates (bench/bound.mjs, printed). 12 min 33 s on 2026-12-02 with BENCH_BASE, builds included (plus a few
# minutes, once, to install twiggy); nothing here
# is part of `make test`. Knobs: BENCH_SECONDS, BENCH_ROUNDS,
# BENCH_CONNECTIONS, BENCH_MIXED_REQUESTS, BENCH_COMPARE (see bench/run.mjs),
# and BENCH_BASE=<git revision>: that revision of the gate is built and added
# to BENCH_COMPARE as gate@base-<rev>, so a before/after comes from one run
# (`BENCH_BASE=e329657 make bench`: main before issue 15).
set -euo pipefail
cd "$(dirname "$0")/.."
log() { printf '[bench] %s\n' "$*" >&2; }
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"

if ! command -v wrk >/dev/null; then
  log "installing wrk (Debian package)"
  SUDO=""
  [ "$(id -u)" -eq 0 ] || SUDO=sudo
  $SUDO apt-get update -qq
  $SUDO apt-get install -y -qq wrk
fi

TWIGGY_VERSION=0.8.0
if [ "$(twiggy --version 2>/dev/null | awk '{print $NF}')" != "$TWIGGY_VERSION" ]; then
  log "installing twiggy $TWIGGY_VERSION (a few minutes, once)"
  cargo install twiggy --version "$TWIGGY_VERSION" --force
fi

if [ -n "${BENCH_BASE:-}" ]; then
  # The base is built in a temporary git worktree that shares this
  # checkout's node_modules, with a cargo target directory of its own kept in
  # target/bench-base (sharing target/ would let the base's module replace
  # this checkout's in target/wasm32-unknown-unknown/release).
  rev=$(git rev-parse --short "${BENCH_BASE}^{commit}")
  base_tmp=$(mktemp -d)
  trap 'git worktree remove --force "$base_tmp/src" >/dev/null 2>&1 || true; rm -rf "$base_tmp"' EXIT
  log "building the gate at $BENCH_BASE ($rev) to compare with"
  git worktree add --quiet --detach "$base_tmp/src" "$rev"
  ln -s "$PWD/node_modules" "$base_tmp/src/node_modules"
  (cd "$base_tmp/src" && CARGO_TARGET_DIR="$OLDPWD/target/bench-base" bash scripts/build.sh >/dev/null)
  mkdir -p "$base_tmp/base-$rev"
  cp "$base_tmp/src/build/index.js" "$base_tmp/src/build/index_bg.wasm" "$base_tmp/base-$rev/"
  export BENCH_COMPARE="$base_tmp/base-$rev${BENCH_COMPARE:+,$BENCH_COMPARE}"
fi

log "building the CLI (mints the cookies) and the loopback origin"
cargo build --quiet --release -p session-gate-cli --bin session-gate --example bench_origin

log "microbenchmarks (criterion)"
cargo bench --quiet -p session-gate-core --bench cookie

log "end to end, memory and size"
node bench/run.mjs

log "the revocation bound between two gates, and Durable Object calls (bench/bound.mjs)"
cargo build --quiet -p session-gate-cli --bin session-gate   # tests/e2e/harness.mjs mints with the debug CLI
node bench/bound.mjs
