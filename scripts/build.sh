#!/usr/bin/env bash
# Builds the Worker bundle into build/ with worker-build, using the tools the
# project installs (scripts/install.sh) instead of worker-build's own
# downloads, which cannot work without network access beyond the registries.
# wrangler.toml's [build] command runs this, so `npx wrangler dev` and
# `npx wrangler deploy` need nothing set by hand.
set -euo pipefail
cd "$(dirname "$0")/.."
CARGO_BIN="${CARGO_HOME:-$HOME/.cargo}/bin"
export PATH="$CARGO_BIN:$PATH"
export WASM_BINDGEN_BIN="$CARGO_BIN/wasm-bindgen"
# worker-build bundles its entry through scripts/esbuild-entry.mjs, which
# gives the Worker a plain default export and then runs node_modules' esbuild.
export ESBUILD_BIN="$PWD/scripts/esbuild-entry.mjs"
export WASM_OPT_BIN="$PWD/node_modules/.bin/wasm-opt"
for tool in "$WASM_BINDGEN_BIN" "$ESBUILD_BIN" "$PWD/node_modules/.bin/esbuild" "$WASM_OPT_BIN" "$CARGO_BIN/worker-build"; do
  if [ ! -x "$tool" ]; then
    echo "build: $tool is missing; run 'make deps' (scripts/install.sh) first" >&2
    exit 1
  fi
done
worker-build --release
if [ "${SESSION_GATE_WASM_NAMES:-}" != keep ]; then
  # The module with its names stays in target/ for size analysis (make bench).
  mkdir -p target && cp build/index_bg.wasm target/index_bg.with-names.wasm
  node scripts/strip-wasm-names.mjs build/index_bg.wasm
fi
