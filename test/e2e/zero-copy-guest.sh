#!/usr/bin/env bash
# Zero copy on the 1:1 path (docs/kernels.md, "Zero copy on the 1:1 path"),
# run by kernel-matrix-guest.sh on a kernel that offers UBLK_F_AUTO_BUF_REG.
# The backing is a file on ext4 over brd (O_DIRECT, the direct-mapped path
# possible): FUA + FLUSH durable in the backing file, discard reading back
# zeros, fio verify, ext4 with files, kill -9 + recover with the files
# verifying (and fsck clean) after, then the JS request path (user copy) and a
# file in memory, both with --zero-copy on. Prints "OK <step>" per verified
# step, "FAIL <why>" and exits non-zero on the first failed check.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-zc.XXXXXX)
LOG=$W/daemon.log
M=$W/mnt
R=$W/brd
mkdir -p "$M" "$R"
export UBLK_COMPRESS_LOG_DIR=$W/logs
. test/e2e/support/steps.sh
cleanup() {
  mountpoint -q "$M" && umount -l "$M" || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
  mountpoint -q "$R" && umount -l "$R" || true
  rmdir "$M" "$R" 2>/dev/null || true
}
trap cleanup EXIT
pid_of() { node -e "console.log(require('/run/ublk-compress/$1.json').pid)"; }
# stat_of ID JQ: a jq expression over the daemon's `stats -n ID --json` report.
stat_of() { "${CLI[@]}" stats -n "$1" --json | jq -r "$2"; }
zc_counts() { stat_of "$1" '"\(.native.zeroCopyReads) / \(.native.zeroCopyWrites)"'; }
flags_of() {
  "${CLI[@]}" list --json | node -e "const v = JSON.parse(require('fs').readFileSync(0, 'utf8')).find((d) => d.id === $1); console.log(v.flagNames.join(','))"
}

grep -q ' ram0$' /proc/partitions || modprobe brd rd_nr=1 rd_size=$((320 << 10)) || fail "modprobe brd"
mkfs.ext4 -q -F /dev/ram0 && mount /dev/ram0 "$R" || fail "ext4 on brd"
B=$R/zc.img

dev=$("${CLI[@]}" add --backing "$B" --size 128M --layout direct --zero-copy on --log "$LOG" 2>"$W/add.err") ||
  fail "add --zero-copy on: $(cat "$W/add.err")"
id=${dev#/dev/ublkb}
names=$(flags_of "$id")
[[ ",$names," == *,AUTO_BUF_REG,* && ",$names," == *,USER_COPY,* ]] || fail "flags without zero copy: $names"
ok "zero-copy add $dev on ext4/brd: $names"

# FUA writes (O_DSYNC on a device with FUA) and a FLUSH (conv=fsync), then
# the backing file holds the data: read it back there, not through the device.
head -c $((4 << 20)) /dev/urandom >"$W/fua.bin"
dd if="$W/fua.bin" of="$dev" bs=1M seek=100 oflag=direct,dsync conv=fsync status=none || fail "dd FUA"
dd if="$B" bs=1M skip=100 count=4 iflag=direct status=none | cmp - "$W/fua.bin" || fail "FUA data not in the backing file"
dd if="$dev" bs=1M skip=100 count=4 iflag=direct status=none | cmp - "$W/fua.bin" || fail "FUA data read back"
flushes=$(stat_of "$id" .native.flushes)
[ "${flushes:-0}" -ge 1 ] || fail "no native FLUSH counted"
ok "FUA + FLUSH: 4 MiB in the backing file, $flushes native flushes"

blkdiscard -o $((101 << 20)) -l $((2 << 20)) "$dev" || fail "blkdiscard"
# (No process substitution: the guest has no /dev/fd.)
dd if="$dev" bs=1M skip=101 count=2 iflag=direct status=none | cmp -n $((2 << 20)) - /dev/zero || fail "discarded range is not zeros"
head -c $((1 << 20)) "$W/fua.bin" >"$W/fua-1m.bin"
dd if="$dev" bs=1M skip=100 count=1 iflag=direct status=none | cmp - "$W/fua-1m.bin" || fail "data beside the discard changed"
ok "discard reads back zeros, the data beside it intact"

fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --iodepth=16 \
  --rw=randwrite --bsrange=4k-128k --offset=64M --size=16M --verify=crc32c \
  --do_verify=1 --verify_fatal=1 --randrepeat=0 --output="$W/fio.out" || fail "fio: $(tail -20 "$W/fio.out")"
grep -q "err= 0" "$W/fio.out" || fail "fio reported errors"
zc=$(zc_counts "$id")
ok "fio verify=crc32c randwrite 4k-128k over 16 MiB; zero-copy reads / writes $zc"

mkfs.ext4 -q -F "$dev" && mount "$dev" "$M" || fail "mkfs/mount"
cp -a /usr/include/linux "$M/"
head -c $((4 << 20)) /dev/urandom >"$M/rand.bin"
sync
(cd "$M" && find . -type f -print0 | sort -z | xargs -0 md5sum) >"$W/sums"
ok "ext4 with $(wc -l <"$W/sums") files"

# kill -9 with the ext4 mounted: recover re-attaches a new daemon (zero copy
# again: the device's flags say so), the files verify, and writes go on.
pid=$(pid_of "$id")
kill -9 "$pid"
"${CLI[@]}" recover -n "$id" 2>"$W/recover.err" >/dev/null || fail "recover: $(cat "$W/recover.err")"
[ "$(pid_of "$id")" != "$pid" ] || fail "recover kept the dead pid"
echo 3 >/proc/sys/vm/drop_caches  # the checksums read through the new daemon
(cd "$M" && md5sum -c --quiet "$W/sums") || fail "checksums differ after recover"
echo after >"$M/after.txt" && sync
umount "$M"
e2fsck -fn "$dev" >"$W/fsck.out" 2>&1 || fail "e2fsck after recover: $(tail -5 "$W/fsck.out")"
[ "$(stat_of "$id" '"\(.requestPath) \(.zeroCopy)"')" = "native true" ] || fail "recovered daemon not native with zero copy"
zc=$(zc_counts "$id")
[[ "$zc" =~ ^[1-9][0-9]*\ /\ [0-9]+$ ]] || fail "recovered daemon serves without zero copy ($zc)"
ok "kill -9 + recover: all $(wc -l <"$W/sums") checksums match, e2fsck -fn clean, zero copy $zc"
"${CLI[@]}" del -n "$id" >/dev/null 2>&1 || fail "del"

# The JS request path with zero copy: every request's data by user copy.
dev=$(UBLK_DIRECT_PATH=js "${CLI[@]}" add --backing "$R/js.img" --size 64M --layout direct --zero-copy on --log "$LOG" 2>"$W/add.err") ||
  fail "add js path: $(cat "$W/add.err")"
id=${dev#/dev/ublkb}
fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --iodepth=8 \
  --rw=randwrite --bsrange=4k-64k --size=8M --verify=crc32c \
  --do_verify=1 --verify_fatal=1 --randrepeat=0 --output="$W/fio2.out" || fail "fio js path: $(tail -20 "$W/fio2.out")"
copies=$(stat_of "$id" .native.userCopies)
[ "${copies:-0}" -gt 0 ] || fail "no user copies counted on the JS path"
ok "JS path + zero copy: fio verify through $copies user copies"
"${CLI[@]}" del -n "$id" >/dev/null 2>&1 || fail "del js path"

# A file in memory: `on` serves it through the ring on the request's pages.
dev=$("${CLI[@]}" add --backing "$W/mem.img" --size 32M --layout direct --zero-copy on --log "$LOG" 2>"$W/add.err") ||
  fail "add memory file: $(cat "$W/add.err")"
id=${dev#/dev/ublkb}
head -c $((8 << 20)) /dev/urandom >"$W/m.bin"
dd if="$W/m.bin" of="$dev" bs=1M oflag=direct conv=fsync status=none || fail "dd memory file"
dd if="$dev" bs=1M count=8 iflag=direct status=none | cmp - "$W/m.bin" || fail "memory file round trip"
cmp -n $((8 << 20)) "$W/mem.img" "$W/m.bin" || fail "memory file backing"
ok "memory file + zero copy: 8 MiB round trip ($(zc_counts "$id"))"
"${CLI[@]}" del -n "$id" >/dev/null 2>&1 || fail "del memory file"
ok "zero copy done"
