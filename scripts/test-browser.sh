#!/usr/bin/env bash
# The browser tests (make test-browser). tests/browser/dbsc.test.mjs spends
# about 130 of its ~140 s waiting for a bound cookie to expire: Chromium
# limits how often a key may sign, so BOUND_COOKIE_TTL cannot be short there
# (docs/device-binding.md). It runs beside the other files, which run one at
# a time as before, instead of after them; its report is printed after
# theirs, and either failing fails the target.
set -uo pipefail
cd "$(dirname "$0")/.."
log=$(mktemp)
node --test tests/browser/dbsc.test.mjs >"$log" 2>&1 &
dbsc=$!
mapfile -t others < <(ls tests/browser/*.test.mjs | grep -v '/dbsc\.test\.mjs$')
node --test --test-concurrency=1 "${others[@]}"
rc=$?
wait "$dbsc"
rc_dbsc=$?
echo "# tests/browser/dbsc.test.mjs (ran beside the files above)"
cat "$log"
rm -f "$log"
exit $((rc != 0 || rc_dbsc != 0))
