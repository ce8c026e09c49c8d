#!/usr/bin/env bash
# Zero copy vs copy on the 1:1 path in one boot (docs/kernels.md, "Zero copy
# on the 1:1 path"). Runs inside a guest whose kernel offers AUTO_BUF_REG:
#   test/vm/vm-run --kernel new -- bash bench/zero-copy-guest.sh
# For each backing (a file on tmpfs; a fully written file on ext4 over brd,
# which the direct-mapped path serves on the RAM disk) the same device is
# added with --zero-copy off and on, in BENCH_ROUNDS interleaved rounds; fio
# (pinned to CPU 0, the daemon to CPU 1) runs 1 MiB sequential write and read
# (QD4) and 4 KiB random read and write (QD16). Prints one "BENCH {json}" line
# per round, backing, mode and workload (fio-baseline.sh's fields plus the
# daemon's CPU per I/O), then the table of the medians ("TABLE" lines).
# Environment: BENCH_SIZE_MB (default 256), BENCH_RUNTIME_S (default 10),
# BENCH_ROUNDS (default 2), BENCH_BACKINGS (default "tmpfs ext4-brd").
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${BENCH_SIZE_MB:-256}
RUNTIME=${BENCH_RUNTIME_S:-10}
ROUNDS=${BENCH_ROUNDS:-2}
BACKINGS=${BENCH_BACKINGS:-tmpfs ext4-brd}
WORKLOADS=seqwrite-1m,seqread-1m,randread-4k,randwrite-4k
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /run/bench-zc.XXXXXX)
OUT=$W/bench.jsonl
export UBLK_COMPRESS_LOG_DIR=$W/logs
cleanup() {
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
  mountpoint -q "$W/b" && umount "$W/b" || true
}
trap cleanup EXIT
mkdir -p "$W/b"
[ -e /sys/block/ram0 ] || modprobe brd rd_nr=1 "rd_size=$(( (SIZE_MB + 64) * 1024 ))" max_part=0

mount_backing() {
  if [ "$1" = tmpfs ]; then
    mount -t tmpfs -o "size=$((SIZE_MB + 16))m" bench-zc "$W/b"
  else
    mkfs.ext4 -q -F /dev/ram0
    mount /dev/ram0 "$W/b"
  fi
  # Written in full: reads read data, and ext4's extents are all written (mapped).
  dd if=/dev/zero of="$W/b/ublk.img" bs=1M count="$SIZE_MB" status=none
}

run_one() {
  local round=$1 backing=$2 mode=$3 dev id pid hz line u0 s0 u1 s1
  mount_backing "$backing"
  dev=$(taskset -c 1 "${CLI[@]}" add --backing "$W/b/ublk.img" --layout direct --zero-copy "$mode" \
    --start-timeout 600 --log "$W/daemon.log")
  id=${dev#/dev/ublkb}
  pid=$(node -e "console.log(require('/run/ublk-compress/$id.json').pid)")
  hz=$(getconf CLK_TCK)
  for w in ${WORKLOADS//,/ }; do
    read -r u0 s0 <<<"$(awk '{print $14, $15}' "/proc/$pid/stat")"
    line=$(taskset -c 0 bash bench/guest/fio-baseline.sh --size-mib "$SIZE_MB" --runtime "$RUNTIME" \
      --workloads "$w" "$dev" "$backing/$mode")
    read -r u1 s1 <<<"$(awk '{print $14, $15}' "/proc/$pid/stat")"
    jq -c --argjson round "$round" --arg backing "$backing" --arg mode "$mode" \
      --argjson cpu $(( (u1 - u0) + (s1 - s0) )) --argjson hz "$hz" '
      . + {round: $round, backing: $backing, mode: $mode,
           cpuUsPerIo: (($cpu / $hz) * 1e6 / (.ioBytes / (if (.workload | endswith("1m")) then 1048576 else 4096 end)) * 10 | round / 10)}
    ' <<<"$line" | tee -a "$OUT" | sed 's/^/BENCH /'
  done
  echo "STATS $backing/$mode $round $("${CLI[@]}" stats -n "$id" --json 2>/dev/null | jq -c '{backingIo, zeroCopy, native: {reads: .native.reads, writes: .native.writes, zeroCopyReads: .native.zeroCopyReads, rawReads: .native.rawReads}}')"
  "${CLI[@]}" del -n "$id" >/dev/null 2>&1
  umount "$W/b"
}

echo "kernel $(uname -r)"
for round in $(seq "$ROUNDS"); do
  for backing in $BACKINGS; do
    for mode in off on; do run_one "$round" "$backing" "$mode"; done
  done
done
# Medians over the rounds (the mean of the two middle values for an even count).
jq -rs '
  def med: sort | if length % 2 == 1 then .[length / 2 | floor] else (.[length / 2 - 1] + .[length / 2]) / 2 end;
  def r1: . * 10 | round / 10;
  group_by([.backing, .workload]) | map({
      backing: .[0].backing, workload: .[0].workload,
      copy: (map(select(.mode == "off")) | {mbps: (map(.MBps) | med), iops: (map(.iops) | med), p99: (map(.latUsP99) | med), cpu: (map(.cpuUsPerIo) | med)}),
      zc: (map(select(.mode == "on")) | {mbps: (map(.MBps) | med), iops: (map(.iops) | med), p99: (map(.latUsP99) | med), cpu: (map(.cpuUsPerIo) | med)})
    })
  | ("| backing | workload | copy MB/s | zero copy MB/s | copy IOPS | zero copy IOPS | copy p99 us | zero copy p99 us | copy daemon CPU us/IO | zero copy daemon CPU us/IO |",
     "|---|---|---|---|---|---|---|---|---|---|",
     (.[] | "| \(.backing) | \(.workload) | \(.copy.mbps | r1) | \(.zc.mbps | r1) | \(.copy.iops) | \(.zc.iops) | \(.copy.p99) | \(.zc.p99) | \(.copy.cpu | r1) | \(.zc.cpu | r1) |"))
' "$OUT" | sed 's/^/TABLE /'
echo "BENCH-DONE"
