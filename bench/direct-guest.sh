#!/usr/bin/env bash
# Runs inside the guest (or natively with ublk_drv) for `npm run bench -- direct`:
# the 1:1 ublk device vs the kernel loop device, each over a file on tmpfs,
# same fio jobs in the same boot. Prints one "BENCH {json}" line per job.
# Environment: BENCH_SIZE_MB (file and job size), BENCH_RUNTIME_S (per job).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${BENCH_SIZE_MB:-256}
RUNTIME=${BENCH_RUNTIME_S:-10}
W=$(mktemp -d /tmp/bench-direct.XXXXXX)
mountpoint -q /tmp || { mount -t tmpfs -o size=$((SIZE_MB * 3))m bench "$W"; }
CLI=(node "$PWD/bin/ublk-compress.js")
loopdev=
cleanup() {
  [ -n "$loopdev" ] && losetup -d "$loopdev" 2>/dev/null || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
}
trap cleanup EXIT

# utime and stime of the daemon, in clock ticks, from /proc/PID/stat (fields 14, 15).
cpu_ticks() { awk '{print $14 " " $15}' "/proc/$1/stat"; }

# job NAME DEVICE LABEL PID fio-args...: one fio run, its JSON reduced to one line.
job() {
  local name=$1 dev=$2 label=$3 pid=$4
  shift 4
  local t0="0 0" t1="0 0" w0 w1
  [ "$pid" != - ] && t0=$(cpu_ticks "$pid")
  w0=$(date +%s%N)
  fio --name="$name" --filename="$dev" --ioengine=libaio --direct=1 --numjobs=1 \
    --size="${SIZE_MB}M" --output-format=json --output="$W/$label-$name.json" "$@" >/dev/null
  w1=$(date +%s%N)
  [ "$pid" != - ] && t1=$(cpu_ticks "$pid")
  node -e '
    const [file, device, job, t0, t1, ns] = process.argv.slice(1);
    const j = JSON.parse(require("fs").readFileSync(file, "utf8")).jobs[0];
    const side = j.write.io_bytes > 0 ? j.write : j.read;
    const hz = 100;
    const [u0, s0] = t0.split(" ").map(Number);
    const [u1, s1] = t1.split(" ").map(Number);
    const wallS = Number(ns) / 1e9;
    const pct = (ticks) => Math.round((ticks / hz / wallS) * 100);
    const daemon = device === "loop" ? null : { user: pct(u1 - u0), sys: pct(s1 - s0) };
    console.log("BENCH " + JSON.stringify({
      device, job, iops: Math.round(side.iops), mbps: +(side.bw_bytes / 1e6).toFixed(1),
      latUsMean: +(side.clat_ns.mean / 1000).toFixed(1),
      daemonCpuPct: daemon === null ? null : daemon.user + daemon.sys,
      daemonUserPct: daemon === null ? null : daemon.user,
      daemonSysPct: daemon === null ? null : daemon.sys,
      cpuUsPerIo: daemon === null ? null : +(((u1 - u0 + s1 - s0) / hz) * 1e6 / (side.total_ios || 1)).toFixed(1),
      errors: j.error,
    }));
  ' "$W/$label-$name.json" "$label" "$name" "$t0" "$t1" "$((w1 - w0))"
}

run_all() {
  local dev=$1 label=$2 pid=$3
  # Sequential write first: it also fills the file, so the reads hit data.
  job seqwrite-1m "$dev" "$label" "$pid" --rw=write --bs=1M --iodepth=16
  job randread-4k "$dev" "$label" "$pid" --rw=randread --bs=4k --iodepth=16 --time_based --runtime="$RUNTIME" --randrepeat=0
  job randwrite-4k "$dev" "$label" "$pid" --rw=randwrite --bs=4k --iodepth=16 --time_based --runtime="$RUNTIME" --randrepeat=0
}

# Kernel loop device over a tmpfs file (tmpfs has no O_DIRECT: buffered loop).
truncate -s "${SIZE_MB}M" "$W/loop.img"
loopdev=$(losetup -f --show "$W/loop.img")
run_all "$loopdev" loop -
losetup -d "$loopdev"; loopdev=
rm -f "$W/loop.img"

dev=$("${CLI[@]}" add --backing "$W/ublk.img" --size "${SIZE_MB}M" --layout direct --log "$W/daemon.log" 2>/dev/null)
id=${dev#/dev/ublkb}
pid=$(node -e "console.log(require('/run/ublk-compress/$id.json').pid)")
run_all "$dev" ublk-direct "$pid"
"${CLI[@]}" del -n "$id" 2>/dev/null
echo "BENCH-DONE"
