#!/usr/bin/env bash
# Profiles the packed daemon under the packed benchmark's fio workloads, in the
# QEMU guest (test/vm/vm-run) or natively as root with ublk_drv. fio on vCPU 0,
# the daemon on vCPU 1, as `npm run bench -- packed` pins them.
#   packed-profile.sh OUT_DIR
# Environment: PROFILE_SIZE_MB (128), PROFILE_RUNTIME_S (10), PROFILE_CPU (1:
# V8 --cpu-prof of the daemon into OUT_DIR; 0: no profiler, for unprofiled
# figures), PROFILE_WORKLOADS (seqwrite-1m,randread-4k,randwrite-4k),
# PROFILE_ADD_ARGS (more `add` flags, e.g. "--dedup on"), PROFILE_PERF (1: Linux
# `perf record` of vCPU 1 around each workload, reported by comm/dso/symbol into
# perf-<workload>.txt; the daemon then writes JIT symbols for it), PROFILE_NODE_ARGS
# (more node flags for the daemon), PROFILE_STRACE (1: `strace -c -f` of the
# daemon during each workload into strace-<workload>.txt; it slows the daemon,
# so its counts per request are the figure, not its speed).
# Writes to OUT_DIR: fio.jsonl (fio-baseline lines), threads.txt (per-thread
# user/system ticks of the daemon around each workload), probe.<pid>.jsonl
# (daemon-probe.mjs: ELU, CPU and GC once a second), stats-*.json, the
# daemon's log and *.cpuprofile.
set -euo pipefail
cd "$(dirname "$0")/../.."
OUT=$(realpath -m "${1:?usage: packed-profile.sh OUT_DIR}")
SIZE_MB=${PROFILE_SIZE_MB:-128} RUNTIME=${PROFILE_RUNTIME_S:-10}
WORKLOADS=${PROFILE_WORKLOADS:-seqwrite-1m,randread-4k,randwrite-4k}
mkdir -p "$OUT"
W=$(mktemp -d /run/packed-profile.XXXXXX)
mkdir -p "$W/fs"
mount -t tmpfs -o size=2g packed-profile "$W/fs"
CLI=(node "$PWD/bin/ublk-compress.js")
ID=
cleanup() {
  [ -z "$ID" ] || "${CLI[@]}" del -n "$ID" >/dev/null 2>&1 || true
  umount "$W/fs" 2>/dev/null || true
}
trap cleanup EXIT

args="--import=$PWD/bench/guest/daemon-probe.mjs"
[ "${PROFILE_CPU:-1}" = 1 ] && args+=" --cpu-prof --cpu-prof-dir=$OUT"
[ "${PROFILE_PERF:-0}" = 1 ] && args+=" --perf-basic-prof"
args+=" ${PROFILE_NODE_ARGS:-}"
# shellcheck disable=SC2086
DEV=$(PROBE_OUT=$OUT UBLK_COMPRESS_DAEMON_NODE_ARGS=$args taskset -c 1 "${CLI[@]}" add \
  --backing "$W/fs/pool.img" --size "${SIZE_MB}M" --log "$OUT/daemon.log" ${PROFILE_ADD_ARGS:-})
ID=${DEV#/dev/ublkb}
PID=$(jq .pid "/run/ublk-compress/$ID.json")
echo "packed-profile: $DEV pid $PID" >&2

# name utime stime (clock ticks) of every thread of the daemon.
threads() {
  local t
  for t in /proc/"$PID"/task/*; do
    printf '%s %s\n' "$(tr ' ' _ <"$t/comm")" "$(sed 's/^.*) //' "$t/stat" | awk '{print $12, $13}')"
  done
}

# Samples the main thread every ~50 ms until $W/stop exists: "state syscall
# wchan" per line (/proc/PID/syscall: "running", or the number it blocks in).
sample() {
  local fd line st sc wc t=/proc/$PID/task/$PID
  # A FIFO nobody writes: read -t sleeps without a process per sample.
  [ -p "$W/tick" ] || mkfifo "$W/tick"
  exec {fd}<>"$W/tick"
  while [ ! -e "$W/stop" ] && read -r line <"$t/stat"; do
    st=${line##*) } st=${st%% *}
    read -r sc _ <"$t/syscall" || sc=?
    read -r wc <"$t/wchan" || wc=?
    echo "$st $sc $wc"
    read -r -t 0.05 -u "$fd" || true
  done
}

for w in ${WORKLOADS//,/ }; do
  { echo "== $w before $(date +%s.%N)"; threads; } >>"$OUT/threads.txt"
  rm -f "$W/stop"
  taskset -c 0 bash -c "$(declare -f sample); PID=$PID W=$W sample" >"$OUT/sample-$w.txt" &
  SAMPLER=$!
  PERF= STRACE=
  if [ "${PROFILE_STRACE:-0}" = 1 ]; then
    taskset -c 0 strace -c -f -p "$PID" -o "$OUT/strace-$w.txt" 2>/dev/null &
    STRACE=$!
  fi
  if [ "${PROFILE_PERF:-0}" = 1 ]; then
    perf record -q -e cpu-clock -F 499 -C 1 -g -o "$W/perf-$w.data" 2>/dev/null &
    PERF=$!
  fi
  FIO_BASELINE_PIDS=$PID taskset -c 0 bash bench/guest/fio-baseline.sh --size-mib "$SIZE_MB" \
    --runtime "$RUNTIME" --dedupe 30 --compress 60 --workloads "$w" "$DEV" packed | tee -a "$OUT/fio.jsonl"
  touch "$W/stop"
  wait "$SAMPLER" || true
  if [ -n "$STRACE" ]; then
    kill -INT "$STRACE"
    wait "$STRACE" || true
  fi
  if [ -n "$PERF" ]; then
    kill -INT "$PERF"
    wait "$PERF" || true
    local_report() { taskset -c 0 perf report -i "$W/perf-$w.data" --no-children --stdio -g none "$@" 2>/dev/null; }
    { local_report --sort comm,dso; local_report --sort comm,dso,sym --percent-limit 0.1; } >"$OUT/perf-$w.txt" || true
    cp "$W/perf-$w.data" "$OUT/"
  fi
  { echo "== $w after $(date +%s.%N)"; threads; } >>"$OUT/threads.txt"
  "${CLI[@]}" stats -n "$ID" --json >"$OUT/stats-$w.json" || true
done
[ "${PROFILE_PERF:-0}" = 1 ] && { cp /proc/kallsyms "$OUT/kallsyms"; cp "/tmp/perf-$PID.map" "$OUT/" 2>/dev/null || true; }
"${CLI[@]}" del -n "$ID" >/dev/null
ID=
# The profile is written as the daemon exits.
for _ in $(seq 300); do kill -0 "$PID" 2>/dev/null || break; sleep 0.2; done
echo "packed-profile: done" >&2
