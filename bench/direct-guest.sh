#!/usr/bin/env bash
# Runs inside the guest (or natively with ublk_drv) for `npm run bench -- direct`:
# the 1:1 ublk device vs the kernel loop device, each over a file on its own
# tmpfs, with the project's fio workloads (bench/guest/fio-baseline.sh) in the
# same boot. fio is pinned to CPU 0 and the ublk daemon to CPU 1 (unpinned TCG
# figures flip between two speeds); the devices run in BENCH_ROUNDS
# interleaved rounds (loop, ublk..., loop, ublk...). Prints one "BENCH {json}"
# line per round, device and workload; ublk lines add the daemon's CPU
# (whole process and main thread) over that workload.
# Environment: BENCH_SIZE_MB (device and job size), BENCH_RUNTIME_S (per job),
# BENCH_ROUNDS (default 2), BENCH_VARIANTS (space-separated, default
# "ublk-direct"): ublk-direct (native request path), ublk-direct-js
# (UBLK_DIRECT_PATH=js), null (src/device with a null target: the device
# layer's own cost), loop-dio (loop with --direct-io=on), brd (RAM disk),
# ublk-mapped (the direct-mapped path: a written file on ext4 over a RAM
# disk) and loop-dio-ext4 (loop --direct-io=on over the same kind of file).
# The plain loop device (buffered, tmpfs file) runs in every round.
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${BENCH_SIZE_MB:-256}
RUNTIME=${BENCH_RUNTIME_S:-10}
ROUNDS=${BENCH_ROUNDS:-2}
VARIANTS=${BENCH_VARIANTS:-ublk-direct}
FIO=(taskset -c 0 bash bench/guest/fio-baseline.sh --size-mib "$SIZE_MB" --runtime "$RUNTIME")
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /run/bench-direct.XXXXXX)
loopdev=
cleanup() {
  [ -n "$loopdev" ] && bash bench/guest/baseline-dev.sh remove "$loopdev" 2>/dev/null || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
  mountpoint -q "$W" && umount "$W" || true
}
trap cleanup EXIT

# utime and stime in clock ticks (/proc/.../stat fields 14, 15) of the whole
# process and of its main thread.
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat" "/proc/$1/task/$1/stat" | tr '\n' ' '; }

tag() { sed "s/^{/{\"round\":$1,/; s/^/BENCH /"; }

run_loop() {
  loopdev=$(bash bench/guest/baseline-dev.sh loop "$SIZE_MB")
  "${FIO[@]}" "$loopdev" loop | tag "$1"
  bash bench/guest/baseline-dev.sh remove "$loopdev"
  loopdev=
}

# Loop with --direct-io=on over a file on tmpfs (refused where the file's
# filesystem has no direct I/O: then nothing is printed for it).
run_loop_dio() {
  loopdev=$(bash bench/guest/baseline-dev.sh loop "$SIZE_MB")
  if losetup --direct-io=on "$loopdev" 2>/dev/null && [ "$(cat "/sys/block/${loopdev#/dev/}/loop/dio")" = 1 ]; then
    "${FIO[@]}" "$loopdev" loop-dio | tag "$1"
  else
    echo "loop-dio: direct I/O refused on $loopdev" >&2
  fi
  bash bench/guest/baseline-dev.sh remove "$loopdev"
  loopdev=
}

run_brd() {
  local d
  d=$(bash bench/guest/baseline-dev.sh brd "$SIZE_MB")
  "${FIO[@]}" "$d" brd | tag "$1"
  bash bench/guest/baseline-dev.sh remove "$d"
}

# fio on DEV with the daemon PID's CPU over each workload.
fio_with_cpu() {
  local round=$1 variant=$2 dev=$3 pid=$4 hz w line u0 s0 mu0 ms0 u1 s1 mu1 ms1
  hz=$(getconf CLK_TCK)
  for w in seqwrite-1m randread-4k randwrite-4k; do
    read -r u0 s0 mu0 ms0 <<<"$(cpu_ticks "$pid")"
    line=$("${FIO[@]}" --workloads "$w" "$dev" "$variant")
    read -r u1 s1 mu1 ms1 <<<"$(cpu_ticks "$pid")"
    node -e '
      const [line, du, ds, dmu, dms, hz, round] = process.argv.slice(1).map((v, i) => (i === 0 ? v : +v));
      const r = { round, ...JSON.parse(line) };
      const wall = r.runtimeSec;
      const ios = r.ioBytes / (r.workload === "seqwrite-1m" ? 1048576 : 4096);
      r.daemonUserPct = Math.round((du / hz / wall) * 100);
      r.daemonSysPct = Math.round((ds / hz / wall) * 100);
      r.cpuUsPerIo = +(((du + ds) / hz) * 1e6 / ios).toFixed(1);
      r.mainCpuUsPerIo = +(((dmu + dms) / hz) * 1e6 / ios).toFixed(1);
      console.log("BENCH " + JSON.stringify(r));
    ' "$line" $((u1 - u0)) $((s1 - s0)) $((mu1 - mu0)) $((ms1 - ms0)) "$hz" "$round"
  done
}

run_null() {
  local ready=/run/bench-null.ready id pid
  rm -f "$ready"
  taskset -c 1 node bench/guest/null-target.mjs "$SIZE_MB" "$ready" &
  for _ in $(seq 3000); do [ -s "$ready" ] && break; sleep 0.1; done
  read -r id pid <"$ready"
  fio_with_cpu "$1" null "/dev/ublkb$id" "$pid"
  kill -TERM "$pid"
  wait "$pid" || true
}

# A fully written file of SIZE_MB on ext4 over a RAM disk, at $W/ublk.img.
ext4_file() {
  modprobe brd rd_nr=1 "rd_size=$(( (SIZE_MB + 64) * 1024 ))" max_part=0
  for _ in $(seq 50); do [ -b /dev/ram0 ] && break; sleep 0.1; done
  mkfs.ext4 -q -F /dev/ram0
  mount /dev/ram0 "$W"
  dd if=/dev/zero of="$W/ublk.img" bs=1M count="$SIZE_MB" oflag=direct status=none
}
ext4_file_remove() { umount "$W"; rmmod brd; }

run_loop_dio_ext4() {
  ext4_file
  loopdev=$(losetup -f --show --direct-io=on "$W/ublk.img")
  [ "$(cat "/sys/block/${loopdev#/dev/}/loop/dio")" = 1 ] || echo "loop-dio-ext4: direct I/O refused" >&2
  "${FIO[@]}" "$loopdev" loop-dio-ext4 | tag "$1"
  losetup -d "$loopdev"
  loopdev=
  ext4_file_remove
}

run_ublk() {
  local round=$1 variant=$2 env=() dev id pid
  [ "$variant" = ublk-direct-js ] && env=(UBLK_DIRECT_PATH=js)
  if [ "$variant" = ublk-mapped ]; then
    ext4_file
  else
    mount -t tmpfs -o "size=$((SIZE_MB + 16))m" bench-direct "$W"
  fi
  dev=$(env "${env[@]}" taskset -c 1 "${CLI[@]}" add --backing "$W/ublk.img" --size "${SIZE_MB}M" \
    --layout direct --start-timeout 600 --log "/run/bench-direct.log")
  id=${dev#/dev/ublkb}
  pid=$(node -e "console.log(require('/run/ublk-compress/$id.json').pid)")
  fio_with_cpu "$round" "$variant" "$dev" "$pid"
  echo "STATS $variant $round $("${CLI[@]}" stats -n "$id" --json 2>/dev/null | tr -d '\n')"
  "${CLI[@]}" del -n "$id" 2>/dev/null
  if [ "$variant" = ublk-mapped ]; then ext4_file_remove; else umount "$W"; fi
}

echo "KERNEL $(uname -r)"
for round in $(seq "$ROUNDS"); do
  run_loop "$round"
  for v in $VARIANTS; do
    case "$v" in
      ublk-direct|ublk-direct-js|ublk-mapped) run_ublk "$round" "$v" ;;
      loop-dio-ext4) run_loop_dio_ext4 "$round" ;;
      null) run_null "$round" ;;
      loop-dio) run_loop_dio "$round" ;;
      brd) run_brd "$round" ;;
      *) echo "unknown variant $v" >&2; exit 2 ;;
    esac
  done
done
echo "BENCH-DONE"
