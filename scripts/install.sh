#!/usr/bin/env bash
# Installs everything session-gate's build and tests need, idempotently:
# the wasm32 target, wasm-bindgen-cli at the exact version Cargo.lock pins,
# worker-build, and the npm packages (wrangler, esbuild, binaryen).
# Each step is skipped when what it installs is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

log() { printf '[install] %s\n' "$*"; }
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"

if ! rustup target list --installed | grep -qx wasm32-unknown-unknown; then
  log "adding the wasm32-unknown-unknown target"
  rustup target add wasm32-unknown-unknown
fi

# wasm-bindgen-cli must match the wasm-bindgen crate in Cargo.lock exactly.
if [ ! -f Cargo.lock ]; then cargo generate-lockfile; fi
WB_VERSION=$(awk '/^name = "wasm-bindgen"$/ {getline; gsub(/version = |"/, ""); print; exit}' Cargo.lock)
have_wb=$("$CARGO_BIN/wasm-bindgen" --version 2>/dev/null | awk '{print $NF}' || true)
if [ "$have_wb" != "$WB_VERSION" ] || [ ! -x "$CARGO_BIN/wasm-bindgen-test-runner" ]; then
  log "installing wasm-bindgen-cli $WB_VERSION (a few minutes)"
  # Not --locked: one crate version its lock pins is missing from the registry.
  cargo install wasm-bindgen-cli --version "$WB_VERSION" --force
fi

WORKER_BUILD_VERSION=0.8.7
have_wbuild=$("$CARGO_BIN/worker-build" --version 2>/dev/null | awk '{print $NF}' || true)
if [ "$have_wbuild" != "$WORKER_BUILD_VERSION" ]; then
  log "installing worker-build $WORKER_BUILD_VERSION (about six minutes)"
  cargo install worker-build --version "$WORKER_BUILD_VERSION" --locked --force
fi

# npm packages: reinstall only when package.json or package-lock.json changed
# since the last install. The stamp holds their hash, not a time: a fresh
# checkout or a copied node_modules has new mtimes and the same packages.
stamp=node_modules/.install-stamp
want=$(cat package.json package-lock.json | sha256sum | cut -d' ' -f1)
if [ "$(cat "$stamp" 2>/dev/null)" != "$want" ]; then
  log "installing npm packages"
  npm ci --no-fund --no-audit --loglevel=error
  echo "$want" > "$stamp"
fi
