#!/usr/bin/env bash
# Online grow of 1:1 devices (docs/kernels.md, "Online grow"), run by
# kernel-matrix-guest.sh on a kernel that offers UPDATE_SIZE. The backing
# files live on ext4 over a RAM disk, so the direct-mapped path serves them:
# - a mounted ext4 on a 1 GiB device grows to 2 GiB (resize, then resize2fs
#   while mounted), files verify, e2fsck -fn is clean after umount, and the
#   size survives del + add;
# - a sparse device grown from 64 to 96 MiB serves the added range on the raw
#   disk once written (stats: raw reads), and with --preallocate the added
#   range is mapped by the resize itself (raw writes at once).
# Prints "OK <step>" per verified step; the first failed check prints
# "FAIL <why>" and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-dgrow.XXXXXX)
E=$W/ext4
M=$W/mnt
mkdir -p "$M" "$E"
export UBLK_COMPRESS_LOG_DIR=$W/logs
G2=$((2 << 30)) MiB=$((1 << 20))

# shellcheck source=support/direct.sh
. test/e2e/support/direct.sh
cleanup() {
  mountpoint -q "$M" && umount -l "$M" || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
  mountpoint -q "$E" && umount "$E" || true
  rmmod brd 2>/dev/null || true
}
trap cleanup EXIT

# stats DEV JQ: `stats --json` must make the jq filter true (jq, not node: each node start costs seconds under TCG).
stats() {
  "${CLI[@]}" stats -n "${1#/dev/ublkb}" --json >"$W/stats.json" 2>&1 || fail "stats: $(cat "$W/stats.json")"
  jq -e "$2" "$W/stats.json" >/dev/null || fail "stats: not $2: $(cat "$W/stats.json")"
}
# resize DEV SIZE FROM TO: grows online; it must print "grew DEV from FROM to TO".
resize() {
  "${CLI[@]}" resize -n "${1#/dev/ublkb}" --size "$2" >"$W/resize.txt" 2>&1 || fail "resize $1 $2: $(cat "$W/resize.txt")"
  grep -qx "grew $1 from $3 to $4" "$W/resize.txt" || fail "resize said: $(cat "$W/resize.txt")"
}
size_of() { blockdev --getsize64 "$1"; }
# read_back DEV: the 32 MiB at 64 MiB equal $PAT (no process substitution: the guest has no /dev/fd).
read_back() {
  rm -f "$W/back.bin"
  dd if="$1" of="$W/back.bin" bs=1M skip=64 count=32 iflag=direct status=none && cmp -s "$W/back.bin" "$PAT"
}
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 md5sum); }

modprobe brd rd_nr=1 rd_size=$((2560 * 1024)) max_part=0 || fail "modprobe brd"
for _ in $(seq 50); do [ -b /dev/ram0 ] && break; sleep 0.1; done
mkfs.ext4 -q -F /dev/ram0 && mount /dev/ram0 "$E" || fail "ext4 on /dev/ram0"

# ---- a mounted ext4 grows from 1 GiB to 2 GiB
B=$E/grow.img
dev=$(add ext4 "$B" --size 1G)
mkfs.ext4 -q -F -E nodiscard "$dev" && mount "$dev" "$M" || fail "mkfs/mount $dev"
cp -a /usr/include/linux "$M/linux" && head -c $((8 * MiB)) "$(readlink -f /usr/bin/node)" >"$M/node.bin" && sync
t0=$(date +%s.%N)
resize "$dev" 2G "1.00 GiB" "2.00 GiB"
[ "$(size_of "$dev")" = "$G2" ] || fail "size after resize $(size_of "$dev")"
[ "$(stat -c %s "$B")" = "$G2" ] || fail "backing file after resize: $(stat -c %s "$B")"
resize2fs "$dev" >"$W/resize2fs.txt" 2>&1 || fail "online resize2fs: $(tail -n 3 "$W/resize2fs.txt")"
t1=$(date +%s.%N)
[ "$(df -B1 --output=size "$M" | tail -n 1)" -gt $((G2 * 9 / 10)) ] || fail "ext4 did not grow: $(df -h "$M")"
head -c $((8 * MiB)) /dev/urandom >"$M/after-grow.bin" && sync
sums "$M" >"$W/sums"
umount "$M"
e2fsck -fn "$dev" >"$W/fsck.txt" 2>&1 || fail "e2fsck after the grow: $(tail -n 5 "$W/fsck.txt")"
stats "$dev" '.sizeBytes == 2147483648 and .backingIo == "direct-mapped" and .mapping.device == "/dev/ram0"
  and .native.rawReads > 0 and .native.rawWrites > 0'
"${CLI[@]}" del -n "${dev#/dev/ublkb}" || fail "del after the grow"
dev=$(add ext4-readd "$B")
[ "$(size_of "$dev")" = "$G2" ] || fail "size after del + add $(size_of "$dev")"
mount "$dev" "$M" || fail "mount after del + add"
(cd "$M" && md5sum -c --quiet "$W/sums") || fail "checksums differ after del + add"
umount "$M"
"${CLI[@]}" del -n "${dev#/dev/ublkb}" || fail "del after re-add"
ok "1:1 grow ext4 1 GiB -> 2 GiB online (resize + resize2fs mounted in $(awk -v a="$t0" -v b="$t1" 'BEGIN { printf "%.1f", b - a }') s), direct-mapped on /dev/ram0: $(wc -l <"$W/sums") files verify, e2fsck -fn clean, 2 GiB after del + add"

# ---- the added range of a sparse device: the raw disk serves it once written
# (nothing of it was mapped before: every raw read counted is of that range)
PAT=$W/pattern.bin
head -c $((32 * MiB)) "$(readlink -f /usr/bin/node)" >"$PAT"
dev=$(add sparse "$E/sparse.img" --size 64M)
resize "$dev" 96M "64.00 MiB" "96.00 MiB"
dd if="$PAT" of="$dev" bs=1M seek=64 count=32 oflag=direct status=none || fail "write the added range"
read_back "$dev" || fail "the added range read back differs"
stats "$dev" '.backingIo == "direct-mapped" and .mapping.map.mappedBytes == 32 * 1048576 and .native.rawReads >= 32'
ok "1:1 sparse 64 -> 96 MiB: the added range written, then read on the raw disk ($(jq .native.rawReads "$W/stats.json") raw reads)"

# ---- --preallocate: the resize maps the added range itself (a write there goes raw at once)
dev=$(add prealloc "$E/prealloc.img" --size 64M --preallocate)
resize "$dev" 96M "64.00 MiB" "96.00 MiB"
dd if="$PAT" of="$dev" bs=1M seek=64 count=32 oflag=direct status=none || fail "write the preallocated added range"
stats "$dev" '.mapping.map.mappedBytes >= 96 * 1048576 and .native.rawWrites >= 32'
read_back "$dev" || fail "the preallocated added range read back differs"
ok "1:1 --preallocate 64 -> 96 MiB: the added range mapped by the resize ($(jq .native.rawWrites "$W/stats.json") raw writes)"
