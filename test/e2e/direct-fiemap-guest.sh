#!/usr/bin/env bash
# Guest e2e of the 1:1 layout's direct-mapped path (docs/direct-paths.md),
# run by direct-fiemap-guest.test.ts: backing files on ext4 and xfs over RAM
# disks, their extents mapped to the disk. Prints "OK <step>" per verified
# step; the first failed check prints "FAIL <why>" and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-fiemap.XXXXXX)
M=$W/mnt
mkdir -p "$M" "$W/ext4" "$W/xfs"
export UBLK_COMPRESS_LOG_DIR=$W/logs

# No process substitution here: the guest's /dev has no /dev/fd.
# shellcheck source=support/direct.sh
. test/e2e/support/direct.sh
cleanup() {
  mountpoint -q "$M" && umount "$M" || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
  mountpoint -q "$W/ext4" && umount "$W/ext4" || true
  mountpoint -q "$W/xfs" && umount "$W/xfs" || true
  rmmod brd 2>/dev/null || true
}
trap cleanup EXIT

# stat_json DEV EXPR: evaluates EXPR over `stats --json` as `s` (prints what EXPR returns; throws to fail).
stat_json() {
  local id=${1#/dev/ublkb}
  "${CLI[@]}" stats -n "$id" --json >"$W/stats.json" 2>&1 || fail "stats: $(cat "$W/stats.json")"
  node -e "const s = JSON.parse(require('fs').readFileSync('$W/stats.json', 'utf8')); const r = (() => { $2 })(); if (r !== undefined) console.log(r);" \
    || fail "stats check '$2': $(cat "$W/stats.json")"
}
del() { "${CLI[@]}" del -n "${1#/dev/ublkb}" || fail "del $1"; }
fio_verify() {
  fio --name=verify --filename="$1" --ioengine=libaio --direct=1 --iodepth=16 --rw=randwrite --bsrange=4k-128k \
    --offset="$2" --size="$3" --verify=crc32c --do_verify=1 --verify_fatal=1 --randrepeat=0 --output="$W/fio.out" \
    || fail "fio: $(tail -20 "$W/fio.out")"
  grep -q "err= 0" "$W/fio.out" || fail "fio reported errors"
}
PAT=$W/pattern.bin
head -c $((8 << 20)) "$(readlink -f /usr/bin/node)" >"$PAT"
PAT2=$W/pattern2.bin
tail -c $((8 << 20)) "$(readlink -f /usr/bin/node)" >"$PAT2"

modprobe brd rd_nr=2 rd_size=$((320 * 1024)) max_part=0 || fail "modprobe brd"
modprobe xfs || fail "modprobe xfs"
for _ in $(seq 50); do [ -b /dev/ram1 ] && break; sleep 0.1; done
mkfs.ext4 -q -F /dev/ram0 && mount /dev/ram0 "$W/ext4" || fail "ext4 on /dev/ram0"
mkfs.xfs -q -f -m reflink=1 /dev/ram1 && mount /dev/ram1 "$W/xfs" || fail "xfs on /dev/ram1"

# ---- per filesystem: ext4 on the device, files verified, fio verify, raw I/O counted
for fs in ext4 xfs; do
  B=$W/$fs/backing.img
  dev=$(add "$fs" "$B" --size 96M --preallocate)
  stat_json "$dev" "if (s.backingIo !== 'direct-mapped' || s.mapping.device !== '/dev/ram$([ $fs = ext4 ] && echo 0 || echo 1)') throw 0;
    if (s.mapping.map.mappedBytes < 96 * 1048576) throw 0"
  mkfs.ext4 -q -F "$dev"
  mount "$dev" "$M"
  cp "$PAT" "$M/a.bin" && cp -r /usr/include/linux "$M/include" && seq 1 300000 >"$M/numbers.txt"
  (cd "$M" && find . -type f -print0 | sort -z | xargs -0 md5sum) >"$W/sums"
  umount "$M"
  echo 3 >/proc/sys/vm/drop_caches
  mount "$dev" "$M"
  (cd "$M" && md5sum -c --quiet "$W/sums") || fail "$fs: checksums differ after remount"
  umount "$M"
  fio_verify "$dev" 64M 16M
  n=$(stat_json "$dev" "const n = s.native; if (!(n.rawReads > 0 && n.rawWrites > 0) || n.errors !== 0 || s.js.reads + s.js.writes !== 0) throw 0;
    return n.rawReads + ' raw reads, ' + n.rawWrites + ' raw writes of ' + n.reads + ' / ' + n.writes")
  # What went to the raw device is in the file: the filesystem reads it back.
  dd if="$PAT" of="$dev" bs=1M seek=40 oflag=direct status=none
  del "$dev"
  dd if="$B" bs=1M skip=40 count=8 status=none | cmp -n $((8 << 20)) - "$PAT" || fail "$fs: the backing file lacks the raw writes"
  ok "$fs: direct-mapped on /dev/ram: files verified after remount, fio verify=crc32c; $n"
done

# ---- sparse and unwritten backings: zeros through the file path, then raw once written
B=$W/ext4/stale.img
for i in 1 2; do cat "$PAT2"; done >"$B" && sync && rm "$B" && sync  # leave non-zero free blocks
for kind in sparse unwritten; do
  B=$W/ext4/$kind.img
  if [ $kind = unwritten ]; then fallocate -l 16M "$B"; else truncate -s 16M "$B"; fi
  dev=$(add "$kind" "$B")
  dd if="$dev" bs=1M iflag=direct status=none | cmp -n $((16 << 20)) - /dev/zero || fail "$kind: reads are not zeros"
  stat_json "$dev" "if (s.native.rawReads !== 0 || s.mapping.map.mappedBytes !== 0) throw 0"
  dd if="$PAT" of="$dev" bs=1M oflag=direct status=none
  dd if="$dev" bs=1M count=8 iflag=direct status=none | cmp - "$PAT" || fail "$kind: data differs"
  dd if="$dev" bs=1M skip=8 iflag=direct status=none | cmp -n $((8 << 20)) - /dev/zero || fail "$kind: unwritten half is not zeros"
  # Most of what was written maps (ext4 may leave a few converted blocks
  # reported unwritten for a while: those stay on the file path, which is safe).
  r=$(stat_json "$dev" "const m = s.mapping.map; if (!(m.refreshes > 0 && m.mappedBytes >= 7 * 1048576 && s.native.rawReads > 0)) throw 0;
    return s.native.rawReads + ' raw reads after ' + m.refreshes + ' refreshes'")
  del "$dev"
  ok "$kind backing: zeros through the file path, then direct-mapped once written ($r)"
done

# ---- discard on the mapped path: zeros, blocks released, written again maps again
B=$W/ext4/discard.img
dev=$(add discard "$B" --size 32M --preallocate)
dd if="$PAT" of="$dev" bs=1M seek=8 oflag=direct status=none
before=$(stat -c %b "$B")
blkdiscard -f -o $((8 << 20)) -l $((8 << 20)) "$dev"
dd if="$dev" bs=1M skip=8 count=8 iflag=direct status=none | cmp -n $((8 << 20)) - /dev/zero || fail "discarded range is not zero"
after=$(stat -c %b "$B")
[ $(( (before - after) * 512 )) -ge $((7 << 20)) ] || fail "discard released only $(( (before - after) * 512 )) bytes"
dd if="$PAT2" of="$dev" bs=1M seek=8 oflag=direct status=none
dd if="$dev" bs=1M skip=8 count=8 iflag=direct status=none | cmp - "$PAT2" || fail "rewritten range differs"
stat_json "$dev" "if (s.mapping.map.mappedBytes < 32 * 1048576 || s.native.discards < 1) throw 0"
blockdev --flushbufs "$dev"
kill -9 "$(node -e "console.log(require('/run/ublk-compress/${dev#/dev/ublkb}.json').pid)")"
timeout 60 "${CLI[@]}" del -n "${dev#/dev/ublkb}" 2>/dev/null || fail "del after kill -9"
dd if="$B" bs=1M skip=8 count=8 status=none | cmp - "$PAT2" || fail "backing lacks the rewrite"
ok "blkdiscard on the mapped path: zeros, blocks released, rewritten and mapped again; flushed data kept across kill -9"

# ---- xfs reflinks: shared extents are never written through the raw device
B=$W/xfs/shared.img
head -c $((16 << 20)) /dev/zero >"$B" && dd if="$PAT" of="$B" conv=notrunc status=none
cp --reflink=always "$B" "$W/xfs/before.img"
sum_before=$(sha256sum <"$W/xfs/before.img")
dev=$(add shared "$B")
stat_json "$dev" "if (s.backingIo !== 'direct-mapped') throw 0"
dd if="$PAT2" of="$dev" bs=1M count=4 oflag=direct status=none
stat_json "$dev" "if (s.native.rawWrites !== 0) throw 0"
dd if="$PAT2" of="$dev" bs=1M count=4 oflag=direct status=none   # the copies-on-write are this file's own now
stat_json "$dev" "if (!(s.native.rawWrites > 0)) throw 0"
[ "$(sha256sum <"$W/xfs/before.img")" = "$sum_before" ] || fail "a reflinked copy made before add changed"
# A reflink while the device serves: cp's open waits until the map is gone.
dd if="$PAT" of="$dev" bs=1M count=8 oflag=direct status=none
cp --reflink=always "$B" "$W/xfs/during.img"
sum_during=$(sha256sum <"$W/xfs/during.img")
raw_then=$(stat_json "$dev" "if (s.backingIo === 'direct-mapped' || !/opened by process/.test(s.mapping.reason)) throw 0; return s.native.rawWrites")
dd if="$PAT2" of="$dev" bs=1M count=8 oflag=direct status=none
stat_json "$dev" "if (s.native.rawWrites !== $raw_then) throw 0"
[ "$(sha256sum <"$W/xfs/during.img")" = "$sum_during" ] || fail "a reflinked copy made while serving changed"
[ "$(sha256sum <"$W/xfs/before.img")" = "$sum_before" ] || fail "the first copy changed"
del "$dev"
dd if="$B" bs=1M count=8 status=none | cmp - "$PAT2" || fail "backing lacks the writes after the reflink"
ok "xfs reflink before add and while serving: both copies unchanged, no raw write to shared extents"
ok "all done"
