#!/usr/bin/env bash
# Runs the project's three fio workloads against one block device and prints
# one JSON line per workload:
#   {"label","workload","MBps","iops","runtimeSec","sizeMiB","ioBytes","latUsMean",
#    "latUsP50","latUsP99","latUsP999","errors","kernelCpuS","serverCpuS"}
# kernelCpuS: system + irq + softirq seconds of all CPUs during fio; serverCpuS:
# user + system seconds of the processes in FIO_BASELINE_PIDS (null without).
# Meant for the QEMU guest (test/vm/vm-run) or a host with ublk; guest figures
# compare only with guest figures from the same boot.
#
#   fio-baseline.sh [options] DEVICE LABEL
#     --size-mib N      region written and read (default 256; DEVICE must hold it)
#     --runtime S       bound on each workload in seconds (default 12)
#     --seq-runtime S   bound on seqwrite-1m alone (default: --runtime; 0: the whole region)
#     --compress PCT    buffer_compress_percentage (default 60; -1 leaves it unset)
#     --dedupe PCT      dedupe_percentage (default 30; -1 leaves it unset)
#     --no-refill       do not pass refill_buffers
#     --ioengine E      libaio (default) or io_uring
#     --workloads LIST  comma list of seqwrite-1m,randread-4k,randwrite-4k (default all, in order);
#                       seqread-1m (1 MiB sequential read, QD4, after seqwrite-1m) on request
#     --one-fio         run the workloads in one fio process, one after the other (a fio
#                       start costs seconds under emulation); kernelCpuS and serverCpuS are
#                       then null
#
# Workloads (direct=1): seqwrite-1m: 1 MiB sequential write, QD4, over the
# region, end_fsync; randread-4k: 4 KiB random read, QD16, time based, over
# the region (run after seqwrite-1m so it reads written data); randwrite-4k:
# 4 KiB random write, QD16, time based.
# DESTROYS the device's contents.
set -euo pipefail

size_mib=256 runtime_s=12 seq_runtime_s= compress=60 dedupe=30 refill=1 ioengine=libaio one_fio=
workloads=seqwrite-1m,randread-4k,randwrite-4k
die() { echo "fio-baseline: $*" >&2; exit 2; }
while [ $# -gt 0 ]; do
  case "$1" in
    --size-mib) size_mib=${2:?}; shift 2 ;;
    --runtime) runtime_s=${2:?}; shift 2 ;;
    --seq-runtime) seq_runtime_s=${2:?}; shift 2 ;;
    --compress) compress=${2:?}; shift 2 ;;
    --dedupe) dedupe=${2:?}; shift 2 ;;
    --no-refill) refill=0; shift ;;
    --ioengine) ioengine=${2:?}; shift 2 ;;
    --workloads) workloads=${2:?}; shift 2 ;;
    --one-fio) one_fio=1; shift ;;
    -h|--help) sed -n '2,27p' "$0" | sed 's/^# \{0,1\}//'; exit 0 ;;
    --*) die "unknown option $1" ;;
    *) break ;;
  esac
done
[ $# -eq 2 ] || die "usage: fio-baseline.sh [options] DEVICE LABEL"
dev=$1 label=$2
[ -b "$dev" ] || die "$dev is not a block device"
seq_runtime_s=${seq_runtime_s:-$runtime_s}
[[ "$size_mib" =~ ^[0-9]+$ && "$runtime_s" =~ ^[0-9]+$ && "$seq_runtime_s" =~ ^[0-9]+$ ]] \
  || die "--size-mib, --runtime and --seq-runtime take integers"
command -v fio >/dev/null || die "fio not found (Debian package fio)"
command -v jq >/dev/null || die "jq not found (Debian package jq)"
dev_bytes=$(blockdev --getsize64 "$dev")
[ "$dev_bytes" -ge $((size_mib * 1048576)) ] || die "$dev holds $dev_bytes bytes, less than --size-mib $size_mib"

data=()
[ "$compress" -ge 0 ] && data+=(--buffer_compress_percentage="$compress")
[ "$dedupe" -ge 0 ] && data+=(--dedupe_percentage="$dedupe")
[ "$refill" = 1 ] && data+=(--refill_buffers)

out=$(mktemp -d "${TMPDIR:-/tmp}/fio-baseline.XXXXXX")
trap 'rm -rf "$out"' EXIT

# run NAME fio-args...: one fio job, its JSON reduced to one line on stdout.
# CPU ticks (clock ticks) of the kernel on all CPUs (system + irq + softirq)
# and of FIO_BASELINE_PIDS (a device's server processes), taken right around
# fio so nothing else in this script is counted.
# Read with bash builtins: under emulation every process start costs tenths of a second.
kernel_ticks() {
  local _ user nice sys idle iowait irq softirq
  read -r _ user nice sys idle iowait irq softirq _ </proc/stat
  echo $((sys + irq + softirq))
}
server_ticks() {
  local t=0 p s f
  for p in ${FIO_BASELINE_PIDS:-}; do
    [ -r "/proc/$p/stat" ] || continue
    s=$(<"/proc/$p/stat")
    read -ra f <<<"${s##*) }" # the fields after "(comm) ": state is f[0], utime f[11], stime f[12]
    t=$((t + f[11] + f[12]))
  done
  echo "$t"
}
hz=$(getconf CLK_TCK)
# job_args WORKLOAD: its fio options.
job_args() {
  local seq=()
  case "$1" in
    seqwrite-1m)
      [ "$seq_runtime_s" = 0 ] || seq=(--runtime="$seq_runtime_s")
      echo --rw=write --bs=1M --iodepth=4 --end_fsync=1 "${seq[@]}" "${data[@]}"
      ;;
    seqread-1m) echo --rw=read --bs=1M --iodepth=4 ;;
    randread-4k) echo --rw=randread --bs=4k --iodepth=16 --runtime="$runtime_s" --time_based --randrepeat=0 ;;
    randwrite-4k) echo --rw=randwrite --bs=4k --iodepth=16 --runtime="$runtime_s" --time_based --randrepeat=0 "${data[@]}" ;;
    *) die "unknown workload $1" ;;
  esac
}

# run WORKLOAD...: one fio process running the workloads one after the other
# (stonewall), one JSON line per workload. The CPU ticks cover the process:
# given only when it ran one workload (null otherwise).
run() {
  local k0 s0 k1 s1 w args=() one=
  [ $# = 1 ] && one=1
  for w in "$@"; do
    args+=(--name="$w")
    # After the first: wait for the previous job (a job's options follow its --name).
    [ "$w" = "$1" ] || args+=(--stonewall)
    # shellcheck disable=SC2046 # job_args prints options without spaces
    args+=($(job_args "$w"))
  done
  k0=$(kernel_ticks) s0=$(server_ticks)
  fio --filename="$dev" --ioengine="$ioengine" --direct=1 --numjobs=1 --size="${size_mib}M" --group_reporting \
    --output-format=json --output="$out/fio.json" "${args[@]}" >/dev/null \
    || die "fio $* on $dev failed (see fio's message above)"
  k1=$(kernel_ticks) s1=$(server_ticks)
  # jq, not node: under emulation on a loaded host a node start costs seconds.
  jq -c --arg lab "$label" --argjson sizeMiB "$size_mib" \
    --argjson kt $((k1 - k0)) --argjson st $((s1 - s0)) --argjson hz "$hz" \
    --arg hasServer "${FIO_BASELINE_PIDS:+1}" --arg one "$one" '
    def r(n): . * pow(10; n) | round / pow(10; n);
    def pct(p): (.clat_ns.percentile // {})[p] | if . == null then null else . / 1000 | r(1) end;
    .jobs[] as $j
    | (if $j.write.io_bytes > 0 then $j.write else $j.read end) as $s
    | {"label": $lab, workload: $j.jobname,
       MBps: ($s.bw_bytes / 1e6 | r(1)), iops: ($s.iops | round),
       runtimeSec: ($s.runtime / 1000 | r(2)), sizeMiB: $sizeMiB, ioBytes: $s.io_bytes,
       latUsMean: ($s.clat_ns.mean / 1000 | r(1)),
       latUsP50: ($s | pct("50.000000")), latUsP99: ($s | pct("99.000000")), latUsP999: ($s | pct("99.900000")),
       errors: $j.error,
       kernelCpuS: (if $one == "1" then ($kt / $hz | r(3)) else null end),
       serverCpuS: (if $hasServer == "1" and $one == "1" then ($st / $hz | r(3)) else null end)}
  ' "$out/fio.json"
}

for w in ${workloads//,/ }; do job_args "$w" >/dev/null; done # unknown workloads fail here
if [ -n "$one_fio" ]; then
  run ${workloads//,/ }
else
  for w in ${workloads//,/ }; do run "$w"; done
fi
