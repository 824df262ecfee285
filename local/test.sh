#!/usr/bin/env bash
# `make test`: every test of the workspace, in two lanes, then the largest requests alone.
#
# Four test binaries spend most of their time waiting on the clock, not on a core: the README's
# walkthrough waits a real minute or two for a 30-minute reminder (the minimum lead is a minute), the cost
# bench follows a reminder through Scheduler the same way, parking waits out the stream's retries, and
# reminders waits for schedules to come due. Measured alone (busy core-seconds over wall seconds, from
# /proc/stat): readme 57/126, cost 24/66, parking 15/33, reminders 15/26. They run one after another in a
# lane of their own, beside the other binaries, which run one after another as `cargo test` runs them.
# `functions` is left out: its binaries hold no tests (clippy still checks them).
set -euo pipefail
cd "$(dirname "$0")/.."
WAITING=(readme cost parking reminders)
# Run last, with the machine to itself: largest.rs sends the biggest requests the API takes (a bulk of
# 90 days x 16 slots: 11.5 s alone against the emulator, under its function's 29 s timeout), and beside
# the waiting lane one ran past 29 s on this 2-core machine.
ALONE=(largest)

# Build every test target once, so neither lane compiles while the other runs. Both lanes select the
# same packages as this build (only their targets differ), so cargo resolves the same features and
# reuses what it built: `-p clinic-tests` alone would unify features differently and compile again.
PACKAGES=(--workspace --exclude functions)
cargo test "${PACKAGES[@]}" --all-targets --no-run

waiting_args=()
for name in "${WAITING[@]}"; do waiting_args+=(--test "$name"); done
# Everything else `--all-targets` holds: libraries, binaries and every other integration test (the
# workspace has no benches or examples).
other_args=(--lib --bins)
for file in tests/tests/*.rs shared/tests/*.rs; do
  name=$(basename "$file" .rs)
  [[ " ${WAITING[*]} ${ALONE[*]} " == *" $name "* ]] || other_args+=(--test "$name")
done

mkdir -p target
log=target/test-waiting.log
# A process group of its own (setsid, as .ci/run starts make emulator), so a failure in the other lane
# stops it together with the stacks and emulators its tests started.
setsid cargo test "${PACKAGES[@]}" "${waiting_args[@]}" > "$log" 2>&1 &
waiting=$!
trap 'kill -- -$waiting 2>/dev/null || true' EXIT

status=0
cargo test "${PACKAGES[@]}" "${other_args[@]}" || status=$?

if [ "$status" -ne 0 ]; then
  echo "== make test: a test failed above; the waiting lane (${WAITING[*]}) is stopped"
  exit "$status"
fi
wait "$waiting" || status=$?
trap - EXIT
echo "== make test: the waiting lane (${WAITING[*]}), run beside the others"
cat "$log"
[ "$status" -eq 0 ] || exit "$status"
alone_args=()
for name in "${ALONE[@]}"; do alone_args+=(--test "$name"); done
echo "== make test: alone (${ALONE[*]})"
cargo test "${PACKAGES[@]}" "${alone_args[@]}"
