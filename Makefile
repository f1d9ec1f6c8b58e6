# session-gate: `make dev` runs the gate in front of the demo origin;
# `make test` runs every test. Both install what they need first.
SHELL := /bin/bash
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CARGO_BIN):$(PATH)
export WRANGLER_SEND_METRICS := false

.PHONY: deps chromium build cli demo-origin dev test test-native test-wasm test-e2e test-browser test-apps lint dry-run bench clean fuzz

## Install the wasm target, wasm-bindgen-cli, worker-build and npm packages (idempotent).
deps:
	@bash scripts/install.sh

## Debian's Chromium for the browser tests, installed only when missing.
chromium:
	@if [ ! -x /usr/bin/chromium ]; then \
	  echo "[install] installing chromium and chromium-driver (apt)"; \
	  SUDO=$$([ "$$(id -u)" = 0 ] || echo sudo); \
	  $$SUDO apt-get update && DEBIAN_FRONTEND=noninteractive $$SUDO apt-get install -y chromium chromium-driver; \
	fi

## Build the Worker bundle into build/.
build: deps
	@bash scripts/build.sh

## Build the native command-line tool (target/debug/session-gate).
cli:
	@cargo build --quiet -p session-gate-cli

## Build the demo origin (target/debug/demo-origin), native only.
demo-origin:
	@cargo build --quiet -p demo-origin

## Run the gate on http://127.0.0.1:8787 in front of the demo origin, with local KV.
dev: deps cli demo-origin
	@bash scripts/dev.sh

## Run every test: native, wasm32, end to end, in a browser.
test: deps test-native test-wasm test-e2e test-browser

## Every crate of the workspace natively: the core (unit, integration,
## property and vector tests), the Worker, the CLI, the demo origin.
test-native:
	cargo test --workspace

## The core's tests under wasm32 (wasm-bindgen-test-runner, .cargo/config.toml).
test-wasm:
	cargo test -p session-gate-core --target wasm32-unknown-unknown --test vectors --test core_wasm --test gate_flow --test bound_ids --test admin --test dbsc

test-e2e: build cli
	rm -rf tests/e2e/.state
	node --test --test-concurrency=1 tests/e2e/*.test.mjs
	node --test tests/e2e/logs.check.mjs

## Fuzz the cookie codec, the path normaliser and the settings parser with cargo-fuzz,
## FUZZ_RUNS executions each (not part of `make test`).
FUZZ_RUNS ?= 1000000
fuzz:
	@bash scripts/fuzz.sh $(FUZZ_RUNS)

## Headless Chromium against the built worker in front of the demo origin.
test-browser: build cli demo-origin chromium
	@bash scripts/test-browser.sh

## Real apps from PyPI (Django admin, Jupyter Server, Datasette, a Gradio chat)
## behind the built worker, driven with Chromium (tests/apps/; not part of
## `test`). The pinned virtualenv is cached in ~/.cache/session-gate/apps-venv/
## (outside the checkout, so a fresh clone reuses it); skipped with a message
## only when it is missing and PyPI cannot be reached.
test-apps: build cli chromium
	node --test --test-concurrency=1 tests/apps/*.test.mjs

## Formatting and lints, as CI runs them.
lint:
	cargo fmt --all -- --check
	cargo clippy --workspace --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown -p session-gate -p session-gate-core --lib -- -D warnings

## Benchmarks, never part of `test`: microbenchmarks, the gate beside a
## pass-through and a JavaScript peer under workerd, size, memory. Writes
## bench/results.md; BENCHMARKS.md explains it.
bench: deps build
	@bash scripts/bench.sh

## The exact upload bundle `wrangler deploy` would send, and its size.
dry-run: build
	npx wrangler deploy --dry-run --outdir dist

clean:
	rm -rf build dist target/wasm32-unknown-unknown .wrangler
