#!/usr/bin/env bash
# Compares node/V8 settings for the packed daemon against zram in ONE boot of
# the QEMU guest (test/vm/vm-run --modules zram) or natively as root with
# ublk_drv and zram. fio on vCPU 0, the daemon on vCPU 1, as
# `npm run bench -- packed` pins them. Interleaved rounds: each round runs
# zram, every variant (the order rotated by one each round), then zram again,
# each on a fresh device with
# the packed benchmark's workloads (1 MiB sequential write over the whole
# region, 4 KiB random read and write at QD16, 60% compressible and 30%
# duplicate data). Every figure is then a ratio to the mean of its round's two
# zram runs, so the drift of a shared host within a round cancels out.
#   packed-variants.sh OUT_DIR [NAME=SETTINGS ...]
# SETTINGS: node flags for the daemon, comma separated, and/or VAR=value
# entries for its environment, e.g. 'stgc=--single-threaded-gc'
# 'uv1=UV_THREADPOOL_SIZE=1' 'both=--single-threaded-gc,--max-semi-space-size=64'.
# Without any, a default list (VARIANTS in this file). `base` (no flags) is always in the list.
# Environment: VARIANTS_ROUNDS (2), VARIANTS_SIZE_MB (64), VARIANTS_RUNTIME_S (10),
# VARIANTS_ADD_ARGS (more `add` flags).
# Writes OUT_DIR/fio.jsonl (fio-baseline lines + round, variant), rss.jsonl
# (the daemon's peak RSS per variant and round) and prints
# OUT_DIR/ratios.txt: per variant and workload, the ratio to zram per round
# and their mean, and the 4 KiB write p99 in ms.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(realpath -m "${1:?usage: packed-variants.sh OUT_DIR [NAME=SETTINGS ...]}")
shift
ROUNDS=${VARIANTS_ROUNDS:-2} SIZE_MB=${VARIANTS_SIZE_MB:-64} RUNTIME=${VARIANTS_RUNTIME_S:-10}
VARIANTS=("$@")
[ ${#VARIANTS[@]} -gt 0 ] || VARIANTS=(
  stgc=--single-threaded-gc
  st=--single-threaded
  semi64=--max-semi-space-size=64
  noccr=--no-concurrent-recompilation
  maxlazy=--max-lazy
  spark=--sparkplug
  aspark=--always-sparkplug
  noopt=--no-opt
  uv1=UV_THREADPOOL_SIZE=1
  stgc-semi64=--single-threaded-gc,--max-semi-space-size=64
)
VARIANTS=(base= "${VARIANTS[@]}")
mkdir -p "$OUT"
: >"$OUT/fio.jsonl"
: >"$OUT/rss.jsonl"
W=$(mktemp -d /run/packed-variants.XXXXXX)
mkdir -p "$W/fs"
mount -t tmpfs -o size=2g packed-variants "$W/fs"
CLI="$PWD/bin/ublk-compress.js"
PID= ZRAM=
cleanup() {
  [ -z "$PID" ] || { kill -TERM "$PID" 2>/dev/null; wait "$PID" 2>/dev/null; } || true
  [ -z "$ZRAM" ] || bash bench/guest/baseline-dev.sh remove "$ZRAM" || true
  umount "$W/fs" 2>/dev/null || true
}
trap cleanup EXIT
T0=$(date +%s)
progress() { echo "packed-variants: +$(($(date +%s) - T0)) s: $*" >&2; }

# fio ROUND VARIANT DEV [PIDS]: the three workloads, one JSON line each.
fio_jobs() {
  FIO_BASELINE_PIDS=${4:-} taskset -c 0 bash bench/guest/fio-baseline.sh --size-mib "$SIZE_MB" \
    --runtime "$RUNTIME" --seq-runtime 0 --dedupe 30 --compress 60 "$3" "$2" \
    | jq -c --argjson round "$1" --arg variant "$2" '. + {round: $round, variant: $variant}' \
    | tee -a "$OUT/fio.jsonl"
}

run_zram() {
  progress "round $1 zram"
  ZRAM=$(bash bench/guest/baseline-dev.sh zram "$SIZE_MB")
  fio_jobs "$1" zram "$ZRAM"
  bash bench/guest/baseline-dev.sh remove "$ZRAM"
  ZRAM=
}

# run_packed ROUND NAME SETTINGS: `add --foreground` (the daemon's own code
# path) under node with the variant's flags and environment, pinned to vCPU 1.
run_packed() {
  local round=$1 name=$2 item flags=() envs=() out=$W/dev dev
  progress "round $round $name"
  for item in ${3//,/ }; do
    case "$item" in
      -*) flags+=("$item") ;;
      *=*) envs+=("$item") ;;
      *) echo "packed-variants: bad setting '$item' of $name" >&2; return 2 ;;
    esac
  done
  : >"$out"
  env "${envs[@]}" taskset -c 1 node "${flags[@]}" "$CLI" add --foreground --backing "$W/fs/pool.img" \
    --size "${SIZE_MB}M" --log "$OUT/daemon-$name-$round.log" ${VARIANTS_ADD_ARGS:-} >"$out" 2>>"$OUT/daemon-$name-$round.log" &
  PID=$!
  until [ -s "$out" ]; do
    kill -0 "$PID" 2>/dev/null || { echo "packed-variants: $name did not start" >&2; PID=; return 1; }
    sleep 0.2
  done
  read -r dev <"$out"
  fio_jobs "$round" "$name" "$dev" "$PID"
  # The daemon's peak RSS over the three workloads.
  jq -nc --argjson round "$round" --arg variant "$name" --argjson kib "$(awk '/VmHWM/ {print $2}' "/proc/$PID/status")" \
    '{round: $round, variant: $variant, peakRssMiB: ($kib / 1024 | round)}' >>"$OUT/rss.jsonl"
  kill -TERM "$PID"
  wait "$PID" || { echo "packed-variants: $name exited with $?" >&2; }
  PID=
  rm -rf "$W/fs/pool.img" "$W/fs/pool.img.meta"
}

# Round r starts at variant r-1 (rotated): no variant always runs right after
# zram or late in a round.
n=${#VARIANTS[@]}
for round in $(seq "$ROUNDS"); do
  run_zram "$round"
  for k in $(seq 0 $((n - 1))); do
    v=${VARIANTS[$(((k + round - 1) % n))]}
    run_packed "$round" "${v%%=*}" "${v#*=}" || echo "packed-variants: round $round ${v%%=*} failed" >&2
  done
  run_zram "$round"
done
progress done

# Ratio to the mean of the round's zram runs; p99 of 4 KiB writes in ms.
jq -rs '
  def metric: if .workload == "seqwrite-1m" then .MBps else .iops end;
  def r3: . * 1000 | round / 1000;
  (map(select(.variant == "zram")) | group_by([.round, .workload])
    | map({key: "\(.[0].round)/\(.[0].workload)", value: (map(metric) | add / length)}) | from_entries) as $z
  | map(select(.variant != "zram") | . + {ratio: (metric / $z["\(.round)/\(.workload)"])})
  | group_by(.variant) | sort_by(.[0].variant != "base", .[0].variant)
  | ["variant", "workload", "ratio per round", "mean", "p99 ms (4k write)"],
    (.[] | group_by(.workload)[] | [.[0].variant, .[0].workload, (map(.ratio | r3) | map(tostring) | join(" ")),
       (map(.ratio) | add / length | r3),
       (if .[0].workload == "randwrite-4k" then (map(.latUsP99 / 1000 | r3) | map(tostring) | join(" ")) else "" end)])
  | @tsv' "$OUT/fio.jsonl" | column -t -s $'\t' | tee "$OUT/ratios.txt"
jq -rs 'group_by(.variant)[] | "peak RSS \(.[0].variant): \(map(.peakRssMiB | tostring) | join(" ")) MiB"' \
  "$OUT/rss.jsonl" | tee -a "$OUT/ratios.txt"
