#!/usr/bin/env bash
# `make contract`: the local stack on a free port, then schemathesis runs every operation of openapi.json
# with a valid token of each role: no 5xx, every response as its schema says, every error problem+json.
set -euo pipefail
cd "$(dirname "$0")/.."
PY=.venv/bin/python
PORT=${CONTRACT_PORT:-$($PY -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')}
BASE="http://127.0.0.1:$PORT"
mkdir -p target/contract
cargo build -q -p local --bin local
# One search-index shard (SearchShards=1, a value the template allows): a search reads 2 Queries per day
# instead of 16, and the search routes (/slots/search, /fhir/Slot, $find) took more than half of each
# role's run against the emulator. The contract is the routes' answers, which the shard count does not
# change; search.rs covers the default 8 shards. PARAMETER_OVERRIDES set by the caller wins.
PARAMETER_OVERRIDES=${PARAMETER_OVERRIDES:-SearchShards=1} PORT=$PORT RUST_LOG=warn target/debug/local \
  > target/contract/stack.log 2>&1 &
stack=$!
trap 'kill $stack 2>/dev/null || true' EXIT
for _ in $(seq 1 100); do
  curl -sf "$BASE/_local/openapi.json" -o /dev/null && break
  sleep 0.2
done
token() {
  curl -sf -X POST "$BASE/_local/token" -H 'content-type: application/json' \
    -d "{\"sub\": \"$($PY -c 'import uuid; print(uuid.uuid4())')\", \"roles\": [$1]}" \
    | $PY -c 'import json, sys; print(json.load(sys.stdin)["token"])'
}
status=0
# One worker: CPython 3.11's ast.parse is not safe across threads (hypothesis parses its lambdas'
# sources while drawing), and two workers intermittently die with "SystemError: AST constructor
# recursion depth mismatch" (https://github.com/python/cpython/issues/106905). The bulk body's schema (a
# week of optional sessions, each HH:MM) makes hypothesis filter many draws: its health check for that
# is about generation speed, not the API, so it is off.
# Two seeds: the second draws other strings than the first (a non-ASCII reminder offset that panicked
# was found by a seed other than 7). CONTRACT_SEEDS="7 1130" by default. Each seed's four roles run in
# a process of their own, the seeds side by side (two processes, not two workers in one: see above),
# against the one stack: what one run writes, the other reads as any other client's data.
run_seed() {
  local seed=$1 failed=0
  for role in '"patient"' '"provider"' '"staff"' '"admin"'; do
    name=$(echo "$role" | tr -d '"')
    echo "== schemathesis as $name, seed $seed"
    .venv/bin/st run openapi.json --url "$BASE" \
      -H "Authorization: Bearer $(token "$role")" \
      --checks not_a_server_error,status_code_conformance,content_type_conformance,response_schema_conformance,negative_data_rejection \
      --max-examples "${CONTRACT_EXAMPLES:-40}" --seed "$seed" --generation-deterministic --no-color \
      --workers 1 --request-timeout 30 --suppress-health-check=filter_too_much \
      --report junit --report-junit-path "target/contract/$name-$seed.xml" || failed=1
  done
  return $failed
}
pids=()
for seed in ${CONTRACT_SEEDS:-7 1130}; do
  run_seed "$seed" > "target/contract/seed-$seed.log" 2>&1 &
  pids+=($!)
done
for pid in "${pids[@]}"; do
  wait "$pid" || status=1
done
for seed in ${CONTRACT_SEEDS:-7 1130}; do
  cat "target/contract/seed-$seed.log"
done
# Whatever the requests were, every change they made reached publish: a parked stream record is a
# change whose effects were not sent (it failed to decode, or AWS refused it for good).
if grep -q "stream record parked" target/contract/stack.log; then
  echo "stream records were parked during the contract run (target/contract/stack.log):"
  grep "stream record parked" target/contract/stack.log | head -5
  status=1
fi
# Whatever the requests, no function did what its IAM policies do not allow (the emulator enforces
# them, local/src/iam.rs): a refusal in the background (publish, the worker) answers no request a 5xx.
emulator=$(sed -n 's/^emulator on \(http:[^ ]*\)$/\1/p' target/contract/stack.log | head -1)
if ! curl -sf "$emulator/_emulator/iam" | $PY -c '
import json, sys
refused = json.load(sys.stdin)["refused"]
if refused:
    print(f"the emulator refused {len(refused)} requests their IAM policies do not allow:")
    print(*refused[:5], sep="\n")
    sys.exit(1)'; then
  status=1
fi
exit $status
