#!/usr/bin/env bash
# Runs inside the guest (or natively with ublk_drv) for `npm run bench -- direct`:
# the 1:1 ublk device vs the kernel loop device, each over a file on its own
# tmpfs, with the project's fio workloads (bench/guest/fio-baseline.sh) in the
# same boot. Prints one "BENCH {json}" line per device and workload; ublk lines
# add the serving daemon's user/system CPU over that workload.
# Environment: BENCH_SIZE_MB (device and job size), BENCH_RUNTIME_S (per job).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${BENCH_SIZE_MB:-256}
RUNTIME=${BENCH_RUNTIME_S:-10}
FIO=(bash bench/guest/fio-baseline.sh --size-mib "$SIZE_MB" --runtime "$RUNTIME")
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /run/bench-direct.XXXXXX)
loopdev=
cleanup() {
  [ -n "$loopdev" ] && bash bench/guest/baseline-dev.sh remove "$loopdev" 2>/dev/null || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
  mountpoint -q "$W" && umount "$W" || true
}
trap cleanup EXIT

# utime and stime of a process in clock ticks (/proc/PID/stat fields 14, 15).
cpu_ticks() { awk '{print $14, $15}' "/proc/$1/stat"; }

loopdev=$(bash bench/guest/baseline-dev.sh loop "$SIZE_MB")
"${FIO[@]}" "$loopdev" loop | sed 's/^/BENCH /'
bash bench/guest/baseline-dev.sh remove "$loopdev"
loopdev=

mount -t tmpfs -o "size=$((SIZE_MB + 16))m" bench-direct "$W"
dev=$("${CLI[@]}" add --backing "$W/ublk.img" --size "${SIZE_MB}M" --layout direct --log "/run/bench-direct.log" 2>/dev/null)
id=${dev#/dev/ublkb}
pid=$(node -e "console.log(require('/run/ublk-compress/$id.json').pid)")
hz=$(getconf CLK_TCK)
for w in seqwrite-1m randread-4k randwrite-4k; do
  read -r u0 s0 <<<"$(cpu_ticks "$pid")"
  line=$("${FIO[@]}" --workloads "$w" "$dev" ublk-direct)
  read -r u1 s1 <<<"$(cpu_ticks "$pid")"
  node -e '
    const [line, du, ds, hz] = process.argv.slice(1);
    const r = JSON.parse(line);
    const wall = r.runtimeSec;
    const ios = r.ioBytes / (r.workload === "seqwrite-1m" ? 1048576 : 4096);
    r.daemonUserPct = Math.round((du / hz / wall) * 100);
    r.daemonSysPct = Math.round((ds / hz / wall) * 100);
    r.cpuUsPerIo = +((((+du) + (+ds)) / hz) * 1e6 / ios).toFixed(1);
    console.log("BENCH " + JSON.stringify(r));
  ' "$line" $((u1 - u0)) $((s1 - s0)) "$hz"
done
"${CLI[@]}" del -n "$id" 2>/dev/null
echo "BENCH-DONE"
