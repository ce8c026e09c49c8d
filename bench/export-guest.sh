#!/usr/bin/env bash
# Throughput of a packed device through NVMe/TCP (nvmet on 127.0.0.1, the
# kernel NVMe/TCP host) against the same device used locally, in one boot.
# Run it in the guest:  test/vm/vm-run -- bench/export-guest.sh
# (or natively as root where the host has ublk_drv). fio runs on CPU 0, the
# daemon on CPU 1 (TCG guests give unpinned figures that flip between two
# speeds); rounds alternate local, NVMe/TCP. Workloads: bench/guest/fio-baseline.sh
# seqwrite-1m (QD4) and randread-4k (QD16), 60% compressible, 30% duplicate.
# Prints "BENCH {json}" per run, then "RATIO workload nvme-tcp/local: r1 r2 (mean m)",
# the ratios of ioBytes/runtimeSec (MBps is rounded to 0.1).
# Environment: BENCH_SIZE_MB (fio region, default 64), BENCH_RUNTIME_S (default 8),
# BENCH_ROUNDS (default 2).
set -euo pipefail
cd "$(dirname "$0")/.."
. test/e2e/support/fabrics.sh
SIZE_MB=${BENCH_SIZE_MB:-64} RUNTIME=${BENCH_RUNTIME_S:-8} ROUNDS=${BENCH_ROUNDS:-2}
CLI=(node "$PWD/bin/ublk-compress.js")
NQN=nqn.2026-12.io.ublk-compress:bench
W=$(mktemp -d /tmp/bench-export.XXXXXX)
export UBLK_COMPRESS_LOG_DIR=$W/logs
exported=0
cleanup() {
  set +e
  nvme_detach "$NQN" 2>/dev/null
  [ "$exported" = 1 ] && nvmet_unexport "$NQN" 1
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1
  rm -rf "$W"
}
trap cleanup EXIT
for m in nvmet nvmet-tcp nvme-tcp; do modprobe "$m"; done
fabrics_mount_configfs

dev=$(taskset -c 1 "${CLI[@]}" add --backing "$W/pool.img" --size 256M --log "$W/daemon.log" 2>/dev/null)
nvmet_export "$NQN" "$dev" 127.0.0.1 4420 1
exported=1
ndev=$(nvme_attach "$NQN" 127.0.0.1 4420)
echo "local $dev, NVMe/TCP $ndev; ${SIZE_MB} MiB, ${RUNTIME} s per random job, $ROUNDS rounds" >&2

: > "$W/bench.jsonl"
for ((r = 1; r <= ROUNDS; r++)); do
  for side in local nvme-tcp; do
    d=$dev; [ "$side" = local ] || d=$ndev
    taskset -c 0 bash bench/guest/fio-baseline.sh --size-mib "$SIZE_MB" --runtime "$RUNTIME" \
      --workloads seqwrite-1m,randread-4k "$d" "$side" | jq -c --argjson r "$r" '. + {round: $r}' >> "$W/bench.jsonl"
  done
done
sed 's/^/BENCH /' "$W/bench.jsonl"
for w in seqwrite-1m randread-4k; do
  jq -rs --arg w "$w" '
    [.[] | select(.workload == $w)] | group_by(.round)
    | map((map(select(.label == "nvme-tcp"))[0] | .ioBytes / .runtimeSec)
        / (map(select(.label == "local"))[0] | .ioBytes / .runtimeSec))
    | "RATIO \($w) nvme-tcp/local: \(map(. * 100 | round / 100) | join(" ")) (mean \(add / length * 100 | round / 100))"' "$W/bench.jsonl"
done
