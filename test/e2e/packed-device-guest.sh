#!/usr/bin/env bash
# Guest e2e of the packed (compressed + deduplicated) device through the real
# CLI, run by packed-device-guest.test.ts inside the QEMU guest (or natively
# where the host has ublk_drv). Prints "OK <step>" after each verified step;
# the first failed check prints "FAIL <why>" and exits non-zero.
# PACKED_E2E_STAGES (default "main fio compact recover crash bad") picks stages.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-packed.XXXXXX)
P=$W/pool.img
LOG=$W/daemon.log
M=$W/mnt
mkdir -p "$M"
export UBLK_COMPRESS_LOG_DIR=$W/logs
STAGES=${PACKED_E2E_STAGES:-main fio compact recover crash bad}
# A real tree with text (compressible) and binary-ish files, ~20 MiB.
TREE=(/usr/include/c++ /usr/include/linux /usr/include/x86_64-linux-gnu)

fail() { echo "FAIL $*"; [ -f "$LOG" ] && tail -n 30 "$LOG" | sed 's/^/  log: /'; exit 1; }
ok() { echo "OK $*"; }
cleanup() {
  mountpoint -q "$M" && umount -l "$M" || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
}
trap cleanup EXIT
has_stage() { [[ " $STAGES " == *" $1 "* ]]; }
jq_() { node -e "const s=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log($1)"; }
stats_json() { "${CLI[@]}" stats -n "$1" --json; }
pid_of() { node -e "console.log(require('/run/ublk-compress/$1.json').pid)"; }
add_packed() { # add_packed ARGS... -> prints device path
  "${CLI[@]}" add --backing "$P" --log "$LOG" "$@" 2>>"$W/add.err" || fail "add $*: $(tail -n 3 "$W/add.err")"
}
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }

fresh_pool() { rm -rf "$P" "$P.meta"; }

if has_stage main; then
  # ---- add: creates and formats a sparse pool, prints the device
  fresh_pool
  t0=$(date +%s.%N)
  dev=$(add_packed --size 1G)
  [[ "$dev" =~ ^/dev/ublkb[0-9]+$ ]] || fail "add printed '$dev'"
  id=${dev#/dev/ublkb}
  grep -q "formatted a new packed pool" "$W/add.err" || fail "no format note: $(cat "$W/add.err")"
  [ "$(blockdev --getsize64 "$dev")" = $((1 << 30)) ] || fail "device size $(blockdev --getsize64 "$dev")"
  [ -d "$P.meta" ] || fail "no metadata dir"
  "${CLI[@]}" list | grep -E "^$id +$dev +LIVE +1\.00 GiB +packed" >/dev/null || fail "list: $("${CLI[@]}" list)"
  ok "add packed: $dev, pool $(du -k "$P" | cut -f1) KiB allocated"
  # ---- ext4, two copies of a real tree
  mkfs.ext4 -q -F -E nodiscard "$dev" || fail "mkfs.ext4"
  mount "$dev" "$M" || fail mount
  mkdir "$M/a" "$M/b"
  cp -a "${TREE[@]}" "$M/a/"
  cp -a "${TREE[@]}" "$M/b/"
  sync
  t1=$(date +%s.%N)
  logical_mib=$(du -sm "$M" | cut -f1)
  s=$(stats_json "$id") || fail "stats --json"
  ratio=$(echo "$s" | jq_ 's.ratio.combined')
  hits=$(echo "$s" | jq_ 's.dedupHits')
  phys=$(echo "$s" | jq_ 's.physicalDataBytes')
  node -e "process.exit($ratio > 1.5 && $hits > 0 ? 0 : 1)" || fail "ratio $ratio, dedup hits $hits: $s"
  ok "mkfs + 2 copies ($logical_mib MiB) + sync in $(node -e "console.log(($t1-$t0).toFixed(1))") s; ratio $(printf %.2f "$ratio"):1, dedup hits $hits, physical $phys B"
  "${CLI[@]}" stats -n "$id" > "$W/stats.txt" || fail "stats"
  grep -Eq '^ratio combined +[0-9.]+:1$' "$W/stats.txt" || fail "stats table: $(cat "$W/stats.txt")"
  grep -Eq "^daemon +pid $(pid_of "$id"), up " "$W/stats.txt" || fail "stats daemon line: $(cat "$W/stats.txt")"
  ok "stats table"
  sums "$M" > "$W/sums.txt"
  umount "$M"
  e2fsck -fn "$dev" >"$W/fsck.txt" 2>&1 || fail "e2fsck: $(tail -n 5 "$W/fsck.txt")"
  written1=$(stats_json "$id" | jq_ 's.bytesWritten')
  hits1=$(stats_json "$id" | jq_ 's.dedupHits')
  "${CLI[@]}" del -n "$id" 2>/dev/null || fail "del"
  [ ! -e "$dev" ] || fail "$dev still exists after del"
  ok "e2fsck -fn clean; del -n $id"
  # ---- add again: same data, same totals
  dev=$(add_packed)
  id=${dev#/dev/ublkb}
  s=$(stats_json "$id")
  [ "$(echo "$s" | jq_ 's.bytesWritten')" = "$written1" ] || fail "bytesWritten $(echo "$s" | jq_ 's.bytesWritten') != $written1"
  [ "$(echo "$s" | jq_ 's.dedupHits')" = "$hits1" ] || fail "dedupHits differ after re-add"
  mount "$dev" "$M" || fail "mount after re-add"
  sums "$M" | cmp -s - "$W/sums.txt" || fail "checksums differ after re-add"
  ok "re-add $dev: all $(wc -l < "$W/sums.txt") checksums match, same totals ($written1 bytes written, $hits1 dedup hits)"
  umount "$M"
  "${CLI[@]}" del -n "$id" 2>/dev/null || fail "del"
fi
ok "all done"
