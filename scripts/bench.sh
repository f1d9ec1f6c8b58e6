#!/usr/bin/env bash
# `make bench`: installs what the benchmarks need (wrk from Debian, twiggy
# from crates.io), then runs the native microbenchmarks (criterion) and the
# end-to-end, size and memory benchmarks (bench/run.mjs), which write
# bench/results.md and bench/results.json, then the revocation bound between two
# gates (bench/bound.mjs, printed). 8 min 18 s on 2026-12-02 (plus a few
# minutes, once, to install twiggy); nothing here
# is part of `make test`. Knobs: BENCH_SECONDS, BENCH_ROUNDS,
# BENCH_CONNECTIONS, BENCH_MIXED_REQUESTS, BENCH_COMPARE (see bench/run.mjs).
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

log "building the CLI (mints the cookies) and the loopback origin"
cargo build --quiet --release -p session-gate-cli --bin session-gate --example bench_origin

log "microbenchmarks (criterion)"
cargo bench --quiet -p session-gate-core --bench cookie

log "end to end, memory and size"
node bench/run.mjs

log "the revocation bound between two gates, and Durable Object calls (bench/bound.mjs)"
cargo build --quiet -p session-gate-cli --bin session-gate   # tests/e2e/harness.mjs mints with the debug CLI
node bench/bound.mjs
