#!/usr/bin/env bash
# Inside the guest: sets up each baseline device, runs fio-baseline.sh on it,
# removes it. Prints fio-baseline's JSON lines, plus for zram a
# {"label":"zram","workload":"space",...} line after the sequential write and
# after the whole run. Options before the targets go to fio-baseline.sh.
#   baselines.sh [--size-mib N] [--runtime S] [fio-baseline options] [loop] [zram] [brd]
# Host side: test/vm/vm-run --mem 3072 -- bench/guest/baselines.sh loop zram
set -euo pipefail
here="$(cd "$(dirname "$0")" && pwd)"
opts=() size_mib=256
while [ $# -gt 0 ] && [[ "$1" == --* ]]; do
  case "$1" in
    --no-refill) opts+=("$1"); shift ;;
    --size-mib) size_mib=$2; opts+=("$1" "$2"); shift 2 ;;
    *) opts+=("$1" "$2"); shift 2 ;;
  esac
done
[ $# -gt 0 ] || set -- loop zram
for target in "$@"; do
  dev=$("$here/baseline-dev.sh" "$target" "$size_mib")
  trap '"$here/baseline-dev.sh" remove "$dev"' EXIT
  if [ "$target" = zram ]; then
    "$here/fio-baseline.sh" "${opts[@]}" --workloads seqwrite-1m "$dev" "$target"
    echo "{\"label\":\"zram\",\"workload\":\"space-after-seqwrite\",\"zram\":$("$here/baseline-dev.sh" zram-stats "$dev")}"
    "$here/fio-baseline.sh" "${opts[@]}" --workloads randread-4k,randwrite-4k "$dev" "$target"
    echo "{\"label\":\"zram\",\"workload\":\"space-at-end\",\"zram\":$("$here/baseline-dev.sh" zram-stats "$dev")}"
  else
    "$here/fio-baseline.sh" "${opts[@]}" "$dev" "$target"
  fi
  "$here/baseline-dev.sh" remove "$dev"
  trap - EXIT
done
