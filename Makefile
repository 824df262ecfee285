# Two commands for a newcomer: `make dev` (the whole stack on 127.0.0.1:3000) and `make test`.
# Everything they need is installed here: a Python venv with the pinned emulator and linters, and the
# rustup components.

SHELL := /bin/bash
VENV := .venv
PY := $(VENV)/bin/python
export EMULATOR_PYTHON := $(abspath $(PY))
export SAM_CLI_TELEMETRY := 0
export PATH := $(abspath $(VENV))/bin:$(PATH)

.PHONY: emulator invoke soak dev test lint build bench bench-cost bench-contention bench-largest bench-search bench-feed contract venv toolchain tools docs-check ci clean replay-parked

$(VENV)/.installed: local/requirements.txt
	@echo "First run: installing the emulator (moto), cfn-lint, SAM CLI, cargo-lambda and zig into $(VENV) (about a minute)..."
	python3 -m venv $(VENV)
	set -o pipefail; $(VENV)/bin/pip install --disable-pip-version-check --progress-bar off -r local/requirements.txt \
		| { grep --line-buffered '^Collecting' || true; } | sed -u -E 's/^Collecting ([^ ]+).*/  \1/'
	@echo "Installed into $(VENV)."
	touch $@

venv: $(VENV)/.installed

toolchain:
	rustup component add rustfmt clippy

## Node tools, pinned in tools/package-lock.json: Redocly CLI (lints openapi.json) and Redoc (renders it
## at /_local/docs).
TOOLS := tools/node_modules/.installed
export REDOCLY_TELEMETRY := off
export REDOCLY_SUPPRESS_UPDATE_NOTICE := true
$(TOOLS): tools/package.json tools/package-lock.json
	cd tools && npm ci --no-audit --no-fund --ignore-scripts --loglevel=error
	touch $@

tools: $(TOOLS)

## The whole stack locally: emulator, template.yaml's resources and routes on 127.0.0.1:3000.
dev: venv tools
	cargo run -p local --bin local

## The emulator alone: template.yaml's resources provisioned and the events/ fixtures' items seeded, no
## HTTP server and no pollers (POLLERS=1: with them), on EMULATOR_PORT (default 4010); writes local/env.json for
## `sam local --env-vars` (AWS_ENDPOINT_URL: CONTAINER_EMULATOR_URL, default host.docker.internal).
emulator: venv
	cargo run -q -p local --bin emulator

## One function alone under cargo-lambda's runtime emulator, against `make emulator`'s resources:
## make invoke FUNCTION=get-appointment [EVENT=events/get-appointment.json].
invoke: venv
	@test -n "$(FUNCTION)" || { echo "make invoke FUNCTION=<name> [EVENT=events/<name>.json]"; exit 2; }
	cargo build -q -p functions --bin $(FUNCTION) -p local --bin invoke
	$${CARGO_TARGET_DIR:-target}/debug/invoke $(FUNCTION) $(EVENT)

## The randomized invariants test, many rounds both ways (INVARIANTS_ROUNDS, INVARIANTS_SEED to repeat one).
soak: venv
	INVARIANTS_ROUNDS=$${INVARIANTS_ROUNDS:-200} cargo test -p clinic-tests --test invariants -- --nocapture

## Replays the records publish parked, through the running `make dev` (PORT, default 3000).
replay-parked:
	@curl -sS --fail-with-body -X POST http://127.0.0.1:$${PORT:-3000}/_local/replay-parked; echo

## All tests: unit, store and API against the emulator, end to end over HTTP (local/test.sh: the
## binaries that mostly wait on the clock run in a lane beside the others, largest.rs alone last).
## (tests/tests/invoke.rs runs these functions' binaries as `make invoke` does: cargo test builds
## no other package's executables, so they are built first.)
INVOKED := --bin get-appointment --bin create-appointment --bin publish --bin invoke
test: venv
	cargo build -p functions -p local $(INVOKED)
	local/test.sh

lint: venv toolchain tools
	cargo fmt --all --check
	cargo clippy --workspace --all-targets -- -D warnings
	cfn-lint template.yaml
	sam validate --lint --region us-east-1
	tools/node_modules/.bin/redocly lint --config tools/redocly.yaml openapi.json

## /_local/docs in headless Chromium (Debian's `chromium`; .ci/run installs it): every operation renders.
docs-check: venv tools
	cargo test -p clinic-tests --test docs -- --ignored

## Every function for Lambda (arm64), through cargo-lambda and zig.
build: venv
	rustup target add aarch64-unknown-linux-gnu
	sam build --beta-features

## Cold start, first response and peak memory of every function's release binary (10 rounds).
bench: venv
	cargo build --release -p functions -p local --bins
	$${CARGO_TARGET_DIR:-target}/release/coldstart 10

## What each operation uses on AWS (DynamoDB units, Lambda invocations and GB-seconds, events, SQS
## requests, schedules) and costs at us-east-1's on-demand prices; a million bookings' month beside the
## reference design's always-on stack. Release code, as `make bench` (local/src/cost.rs).
bench-cost: venv
	cargo build --release -p local --bin cost
	$${CARGO_TARGET_DIR:-target}/release/cost

## A search page against an index of 10,000 providers x 16 slots a day: requests, openings read, read
## units, wall, CPU, peak memory (local/src/bin/search-bench.rs). Seeding 190,000 items takes minutes.
bench-search: venv
	cargo build --release -p local --bin search-bench
	$${CARGO_TARGET_DIR:-target}/release/search-bench

## write-slot-feed over FEED_BENCH_PROVIDERS (100) providers x 16 slots a day x 14 days: requests, files,
## wall, CPU and peak memory, in parts of FEED_BENCH_PER_FILE (25) and as one part (local/src/bin/feed-bench.rs).
bench-feed: venv
	cargo build --release -p local --bin feed-bench
	$${CARGO_TARGET_DIR:-target}/release/feed-bench

## 50 concurrent bookings of a 3-seat slot, without faults and with transaction_conflict=0.3.
bench-contention: venv
	cargo build --release -p local --bin contention
	target/release/contention

## The largest requests accepted (bulk, block, a full day's schedule): wall, CPU, peak memory, requests.
bench-largest: venv
	cargo build --release -p local --bin largest
	target/release/largest

## schemathesis against the running local stack: every operation of openapi.json as each role.
contract: venv
	local/contract.sh

ci: test lint contract

clean:
	rm -rf target .aws-sam $(VENV) tools/node_modules
