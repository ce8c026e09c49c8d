#!/usr/bin/env bash
# `npm test`: the guest files and the host suites as two vitest runs at once
# (projects "guest" and "host" of vitest.config.ts), each one file at a time.
# A guest keeps ~1.25 of the two cores busy (its two vCPU threads often wait),
# so the host suites mostly use the idle share. Guest files never overlap each
# other: guests whose vCPUs get descheduled stall each other (three at once
# took 2.4-3.2 times as long each, more than the shared cores explain).
# With arguments it is a plain `vitest run ARGS` (one file, a directory, ...).
set -uo pipefail
cd "$(dirname "$0")/.."
[ $# -eq 0 ] || exec npx vitest run "$@"

# --no-cache: two runs must not write vitest's one results file at once.
npx vitest run --no-cache --project host &
host=$!
npx vitest run --no-cache --project guest
guest_rc=$?
wait "$host"
host_rc=$?
echo "npm test: guest files exit ${guest_rc}, host suites exit ${host_rc}"
[ "$guest_rc" = 0 ] && [ "$host_rc" = 0 ]
