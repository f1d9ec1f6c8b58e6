# session-gate: `make dev` runs the gate in front of the demo origin;
# `make test` runs every test. Both install what they need first.
SHELL := /bin/bash
CARGO_BIN := $(or $(CARGO_HOME),$(HOME)/.cargo)/bin
export PATH := $(CARGO_BIN):$(PATH)
export WRANGLER_SEND_METRICS := false

.PHONY: deps build cli demo-origin dev test test-native test-wasm test-e2e lint dry-run clean

## Install the wasm target, wasm-bindgen-cli, worker-build and npm packages (idempotent).
deps:
	@bash scripts/install.sh

## Build the Worker bundle into build/.
build: deps
	@bash scripts/build.sh

## Build the native command-line tool (target/debug/session-gate).
cli:
	@cargo build --quiet --bin session-gate

## Build the demo origin (target/debug/demo-origin), native only.
demo-origin:
	@cargo build --quiet -p demo-origin

## Run the gate on http://127.0.0.1:8787 in front of the demo origin, with local KV.
dev: deps cli demo-origin
	@bash scripts/dev.sh

## Run every test: native, wasm32, end to end.
test: deps test-native test-wasm test-e2e

test-native:
	cargo test

test-wasm:
	cargo test --target wasm32-unknown-unknown --test vectors --test core_wasm

test-e2e: build cli
	rm -rf tests/e2e/.state
	node --test --test-concurrency=1 tests/e2e/*.test.mjs
	node --test tests/e2e/logs.check.mjs

## Formatting and lints, as CI runs them.
lint:
	cargo fmt --all -- --check
	cargo clippy --all-targets -- -D warnings
	cargo clippy --target wasm32-unknown-unknown --lib -- -D warnings

## The exact upload bundle `wrangler deploy` would send, and its size.
dry-run: build
	npx wrangler deploy --dry-run --outdir dist

clean:
	rm -rf build dist target/wasm32-unknown-unknown .wrangler
