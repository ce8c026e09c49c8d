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
# BENCH_ROUNDS (default 2), BENCH_VARIANTS (space-separated ublk variants,
# default "ublk-direct"; "ublk-direct-js" forces the JS request path).
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

run_ublk() {
  local round=$1 variant=$2 env=()
  [ "$variant" = ublk-direct-js ] && env=(UBLK_DIRECT_PATH=js)
  mount -t tmpfs -o "size=$((SIZE_MB + 16))m" bench-direct "$W"
  dev=$(env "${env[@]}" taskset -c 1 "${CLI[@]}" add --backing "$W/ublk.img" --size "${SIZE_MB}M" \
    --layout direct --log "/run/bench-direct.log" 2>/dev/null)
  id=${dev#/dev/ublkb}
  pid=$(node -e "console.log(require('/run/ublk-compress/$id.json').pid)")
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
  "${CLI[@]}" stats -n "$id" --json 2>/dev/null | sed "s/^/STATS $variant $round /" || true
  "${CLI[@]}" del -n "$id" 2>/dev/null
  umount "$W"
}

for round in $(seq "$ROUNDS"); do
  run_loop "$round"
  for v in $VARIANTS; do run_ublk "$round" "$v"; done
done
echo "BENCH-DONE"
