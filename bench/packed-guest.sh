#!/usr/bin/env bash
# Runs inside the guest (or natively with ublk_drv) for `npm run bench -- packed`:
# the packed ublk device vs zram (lz4) and the 1:1 ublk device, in one boot on
# the same data. Part 1: mkfs.ext4 + mount + two copies of a real tree + sync,
# timed, then the physical bytes each device holds. Part 2: the project's fio
# workloads (bench/guest/fio-baseline.sh) on each raw device.
# Prints "BENCH-TREE {json}" and "BENCH {json}" lines, then BENCH-DONE.
# Environment: BENCH_SIZE_MB (fio region), BENCH_RUNTIME_S (per random job).
set -euo pipefail
cd "$(dirname "$0")/.."
SIZE_MB=${BENCH_SIZE_MB:-128}
RUNTIME=${BENCH_RUNTIME_S:-10}
DEV_MB=1024
FIO=(bash bench/guest/fio-baseline.sh --size-mib "$SIZE_MB" --runtime "$RUNTIME")
CLI=(node "$PWD/bin/ublk-compress.js")
TREE=(/usr/include/c++ /usr/include/linux /usr/include/x86_64-linux-gnu)
W=$(mktemp -d /run/bench-packed.XXXXXX)
M=$W/mnt
mkdir -p "$M" "$W/fs"
zdev=
cleanup() {
  mountpoint -q "$M" && umount "$M" || true
  [ -n "$zdev" ] && bash bench/guest/baseline-dev.sh remove "$zdev" 2>/dev/null || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
  mountpoint -q "$W/fs" && umount "$W/fs" || true
}
trap cleanup EXIT
mount -t tmpfs -o size=3g bench-packed "$W/fs"

now() { date +%s.%N; }
# tree DEV: mkfs + mount + 2 copies + sync, timed, then umount; prints "seconds logicalBytes".
tree() {
  local dev=$1 t0 t1
  t0=$(now)
  mkfs.ext4 -q -F -E nodiscard "$dev"
  mount "$dev" "$M"
  mkdir "$M/a" "$M/b"
  cp -a "${TREE[@]}" "$M/a/"
  cp -a "${TREE[@]}" "$M/b/"
  sync
  t1=$(now)
  local logical
  logical=$(du -sB1 "$M" | cut -f1)
  umount "$M"
  awk -v a="$t0" -v b="$t1" -v l="$logical" 'BEGIN { printf "%.2f %d\n", b - a, l }'
}
tree_line() { # label seconds physicalBytes [extra json]
  [ -n "${LOGICAL:-}" ] || { echo "tree copy on $1 failed" >&2; exit 1; }
  echo "BENCH-TREE {\"label\":\"$1\",\"seconds\":$2,\"logicalBytes\":$LOGICAL,\"physicalBytes\":$3${4:+,$4}}"
}

# ---- zram (lz4)
zdev=$(bash bench/guest/baseline-dev.sh zram "$DEV_MB")
out=$(tree "$zdev"); read -r secs LOGICAL <<< "$out"
zs=$(bash bench/guest/baseline-dev.sh zram-stats "$zdev")
tree_line zram "$secs" "$(echo "$zs" | jq -r .memUsedBytes)" "\"zram\":$zs"
"${FIO[@]}" "$zdev" zram | sed 's/^/BENCH /'
bash bench/guest/baseline-dev.sh remove "$zdev"
zdev=

# ---- 1:1 ublk device (file on tmpfs)
dev=$("${CLI[@]}" add --backing "$W/fs/direct.img" --size "${DEV_MB}M" --layout direct --log "$W/direct.log" 2>/dev/null)
out=$(tree "$dev"); read -r secs LOGICAL <<< "$out"
tree_line ublk-direct "$secs" "$(du -B1 "$W/fs/direct.img" | cut -f1)"
"${FIO[@]}" "$dev" ublk-direct | sed 's/^/BENCH /'
"${CLI[@]}" del -n "${dev#/dev/ublkb}" 2>/dev/null
rm -f "$W/fs/direct.img"

# ---- packed ublk device (pool + metadata on tmpfs)
dev=$("${CLI[@]}" add --backing "$W/fs/pool.img" --size "${DEV_MB}M" --log "$W/packed.log" 2>/dev/null)
id=${dev#/dev/ublkb}
out=$(tree "$dev"); read -r secs LOGICAL <<< "$out"
sleep 1
st=$("${CLI[@]}" stats -n "$id" --json)
pool=$(du -B1 "$W/fs/pool.img" | cut -f1)
meta=$(du -sB1 "$W/fs/pool.img.meta" | cut -f1)
tree_line ublk-packed "$secs" $((pool + meta)) "\"poolBytes\":$pool,\"metaBytes\":$meta,\"ratio\":$(echo "$st" | jq -c .ratio),\"dedupHits\":$(echo "$st" | jq .dedupHits)"
"${FIO[@]}" "$dev" ublk-packed | sed 's/^/BENCH /'
"${CLI[@]}" del -n "$id" 2>/dev/null
echo "BENCH-DONE"
