#!/usr/bin/env bash
# Guest e2e of the 1:1 (direct) device through the real CLI, run by
# direct-device-guest.test.ts inside the QEMU guest (or natively where the
# host has ublk_drv). Prints "OK <step>" after each verified step; the first
# failed check prints "FAIL <why>" and exits non-zero.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-e2e.XXXXXX)
B=$W/backing.img
LOG=$W/daemon.log
M=$W/mnt
mkdir -p "$M"
export UBLK_COMPRESS_LOG_DIR=$W/logs

. test/e2e/support/steps.sh
cleanup() {
  mountpoint -q "$M" && umount "$M" || true
  mountpoint -q "$W/ext4" && umount "$W/ext4" || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
}
trap cleanup EXIT

# expect_exit CODE REGEX CMD...: CMD fails with CODE and one stderr line matching REGEX.
expect_exit() {
  local want=$1 pat=$2 out rc
  shift 2
  set +e
  out=$("$@" 2>&1 >/dev/null)
  rc=$?
  set -e
  [ "$rc" = "$want" ] || fail "expected exit $want, got $rc from: $* ($out)"
  [ "$(printf '%s\n' "$out" | wc -l)" = 1 ] || fail "expected one line from: $* ($out)"
  [[ "$out" =~ ^ublk-compress:\ .*$pat ]] || fail "message '$out' does not match '$pat'"
  ok "exit $want: $out"
}
devices() { ls /sys/class/ublk-char 2>/dev/null | wc -l; }
# Each CLI start costs seconds under TCG: independent checks run in parallel.
# bg_exit N CODE REGEX CMD...: expect_exit in the background, output kept in order.
bg_exit() { local n=$1; shift; (expect_exit "$@") >"$W/chk.$n" 2>&1 & }
wait_checks() {
  wait
  local f
  for f in "$W"/chk.*; do
    cat "$f"
    if grep -q '^FAIL' "$f"; then exit 1; fi
  done
  rm -f "$W"/chk.*
}

# ---- errors that leave nothing behind
mkdir "$W/ro" && mount -t tmpfs -o ro,size=1m ro-e2e "$W/ro"
bg_exit 1 2 "below the minimum of 1 MiB" "${CLI[@]}" add --backing "$B" --size 4K --layout direct
bg_exit 2 2 "not a multiple of 4 KiB" "${CLI[@]}" add --backing "$B" --size 1049088 --layout direct
bg_exit 3 2 "cannot parse size" "${CLI[@]}" add --backing "$B" --size 1Q --layout direct
bg_exit 4 2 "unknown option '--bogus'" "${CLI[@]}" add --backing "$B" --size 64M --layout direct --bogus
bg_exit 5 2 "is a directory" "${CLI[@]}" add --backing "$W" --size 64M --layout direct
bg_exit 6 1 "read-only filesystem" "${CLI[@]}" add --backing "$W/ro/x.img" --size 64M --layout direct
bg_exit 7 3 "must be run as root" setpriv --reuid=65534 --regid=65534 --clear-groups "${CLI[@]}" add --backing "$B" --size 64M --layout direct
bg_exit 8 6 "no ublk device with id 77" "${CLI[@]}" del -n 77
# An existing backing: add prints no note about creating it, only the error.
truncate -s 64M "$W/zc.img"
bg_exit 9 2 "applies to --layout direct only" "${CLI[@]}" add --backing "$W/zc.img" --size 64M --zero-copy on
# Zero copy needs AUTO_BUF_REG (6.16+): where the kernel lacks it, `on` fails
# with exit 4 and `auto` copies (checked on the ext4 backing below).
zc_offered=0
node test/e2e/fixtures/kernel-features.mjs | grep -qw AUTO_BUF_REG && zc_offered=1
[ "$zc_offered" = 0 ] && bg_exit 10 4 "zero copy needs UBLK_F_AUTO_BUF_REG" "${CLI[@]}" add --backing "$W/zc.img" --size 64M --layout direct --zero-copy on
wait_checks
umount "$W/ro"
[ ! -e "$B" ] || fail "a failed add created $B"
[ "$(stat -c %s "$W/zc.img")" = $((64 << 20)) ] || fail "a failed --zero-copy add changed $W/zc.img"
[ "$(devices)" = 0 ] || fail "a failed add left a device"
ok "errors left nothing behind"
[ "$zc_offered" = 1 ] && ok "zero copy offered by $(uname -r): --zero-copy on is checked by zero-copy-guest.sh"

# ---- add: prints the device, which is usable at once
# The memory-file checks below are of the copying path: `auto` copies where
# the kernel lacks zero copy (6.12); elsewhere it would not, so say off there.
zc_args=()
[ "$zc_offered" = 1 ] && zc_args=(--zero-copy off)
out=$("${CLI[@]}" add --backing "$B" --size 256M --layout direct "${zc_args[@]}" --log "$LOG" 2>"$W/add.err")
dev=$out
[[ "$dev" =~ ^/dev/ublkb[0-9]+$ ]] || fail "add printed '$out'"
grep -q "creating sparse backing file $B" "$W/add.err" || fail "no sparse-file note: $(cat "$W/add.err")"
[ -b "$dev" ] || fail "$dev is not a block device"
id=${dev#/dev/ublkb}
[ "$(stat -c %s "$B")" = $((256 << 20)) ] || fail "backing size $(stat -c %s "$B")"
[ "$(blockdev --getsize64 "$dev")" = $((256 << 20)) ] || fail "device size"
[ "$(blockdev --getss "$dev")" = 4096 ] || fail "logical block size $(blockdev --getss "$dev")"
[ -f "/run/ublk-compress/$id.json" ] || fail "no run file"
pid=$(node -e "console.log(require('/run/ublk-compress/$id.json').pid)")
grep -q 'ublk-compress' "/proc/$pid/cmdline" || fail "run file pid $pid is not the daemon"
[ "$(cut -d' ' -f6 "/proc/$pid/stat")" = "$pid" ] || fail "daemon is not a session leader (setsid)"
[ "$(readlink "/proc/$pid/ns/mnt")" != "$(readlink /proc/self/ns/mnt)" ] || fail "daemon shares our mount namespace"
flags=$(awk '{print $9}' "/proc/$pid/stat")
(( (flags & 0x180000) == 0x180000 )) || fail "daemon is not an IO flusher (flags $flags)"
ok "add: $dev, daemon $pid (own session, own mount ns, IO flusher)"

"${CLI[@]}" list >"$W/list.txt" 2>&1 &
"${CLI[@]}" list --json >"$W/list.json" 2>&1 &
bg_exit 1 5 "ublk device $id already exists" "${CLI[@]}" add --backing "$W/other.img" --size 16M --layout direct --id "$id"
bg_exit 2 7 "already served by $dev" "${CLI[@]}" add --backing "$B" --layout direct
wait_checks
grep -E "^$id +$dev +LIVE +256\.00 MiB +direct/memory +$pid +$B\$" "$W/list.txt" >/dev/null || fail "list: $(cat "$W/list.txt")"
node -e "
  const v = JSON.parse(require('fs').readFileSync('$W/list.json', 'utf8')).find((d) => d.id === $id);
  if (!v || v.state !== 'LIVE' || v.backing !== '$B' || v.layout !== 'direct' || v.pid !== $pid || !v.daemonAlive) process.exit(1);
  if (v.ioPath !== 'memory' || v.requests.requestPath !== 'native') process.exit(1);
" || fail "list --json: $(cat "$W/list.json")"
ok "list and list --json"
[ ! -e "$W/other.img" ] || fail "id-in-use add created a file"

# ---- filesystem with >= 64 MiB of mixed files
mkfs.ext4 -q -F "$dev"
mount "$dev" "$M"
# Incompressible data from the shared root (urandom is slow under TCG).
find /usr/lib/x86_64-linux-gnu -maxdepth 1 -type f -name '*.so*' -size +200k -print0 | sort -z \
  | xargs -0 cat 2>/dev/null | head -c $((36 << 20)) >"$M/libs.bin" || true  # cat gets SIGPIPE
[ "$(stat -c %s "$M/libs.bin")" = $((36 << 20)) ] || fail "could not gather 36 MiB of libraries"
dd if=/dev/zero of="$M/zeros.bin" bs=1M count=8 status=none
seq 1 1500000 >"$M/numbers.txt"
mkdir "$M/small" "$M/lib"
# 200 small files of varied sizes cut from libs.bin, in one process (two per
# file cost half a minute under TCG).
node -e '
  const fs = require("fs");
  const head = Buffer.alloc(60000);
  const fd = fs.openSync(process.argv[1], "r");
  fs.readSync(fd, head, 0, head.length, 0);
  fs.closeSync(fd);
  for (let i = 1; i <= 200; i++) {
    const end = (i * 7919) % 60000 + 1, len = (i * 104729) % 50000 + 1;
    fs.writeFileSync(`${process.argv[2]}/f${i}`, head.subarray(Math.max(0, end - len), end));
  }' "$M/libs.bin" "$M/small"
cp -r /usr/include/linux "$M/include-linux"
for f in /usr/lib/x86_64-linux-gnu/libc.so.6 /usr/lib/x86_64-linux-gnu/libstdc++.so.6; do
  [ -f "$f" ] && cp -L "$f" "$M/lib/"
done
sync
used=$(du -sm "$M" | cut -f1)
[ "$used" -ge 64 ] || fail "only ${used} MiB written"
(cd "$M" && find . -type f -print0 | sort -z | xargs -0 md5sum) >"$W/sums"
umount "$M"
e2fsck -fn "$dev" >"$W/fsck.out" 2>&1 || fail "e2fsck: $(tail -5 "$W/fsck.out")"
ok "wrote ${used} MiB in $(wc -l <"$W/sums") files; e2fsck -fn clean"

# ---- del, then add again on the same backing file: every checksum matches
"${CLI[@]}" del -n "$id"
[ ! -e "/sys/class/ublk-char/ublkc$id" ] || fail "device $id still exists after del"
[ ! -e "/run/ublk-compress/$id.json" ] || fail "run file left after del"
! kill -0 "$pid" 2>/dev/null || fail "daemon $pid still running after del"
ok "del -n $id"
# The native request path served the filesystem (reads, writes, flushes).
node -e '
  const lines = require("fs").readFileSync(process.argv[1], "utf8").split("\n").filter(Boolean).map((l) => JSON.parse(l));
  const s = lines.filter((l) => l.msg === "request paths").pop();
  if (!s || s.requestPath !== "native") throw new Error("no native request-path line: " + JSON.stringify(s));
  const n = s.native;
  if (!(n.reads > 0 && n.writes > 0 && n.flushes > 0 && n.errors === 0)) throw new Error(JSON.stringify(s));
  console.log(`OK native path: ${n.reads} reads, ${n.writes} writes, ${n.flushes} flushes over the ${s.backingIo}; JS path: ${s.js.reads + s.js.writes + s.js.flushes} requests`);
' "$LOG" || fail "request paths"
dev=$("${CLI[@]}" add --backing "$B" --layout direct --log "$LOG" 2>"$W/add2.err")
grep -q "creating" "$W/add2.err" && fail "re-add recreated the backing file"
[ "$(blockdev --getsize64 "$dev")" = $((256 << 20)) ] || fail "re-added size"
id=${dev#/dev/ublkb}
mount "$dev" "$M"
(cd "$M" && md5sum -c --quiet "$W/sums") || fail "checksums differ after re-add"
umount "$M"
ok "re-add $dev: all $(wc -l <"$W/sums") checksums match"

# ---- fio verify: random writes 4k-128k over 32 MiB
fio --name=verify --filename="$dev" --ioengine=libaio --direct=1 --iodepth=16 \
  --rw=randwrite --bsrange=4k-128k --offset=64M --size=32M --verify=crc32c \
  --do_verify=1 --verify_fatal=1 --randrepeat=0 --output="$W/fio.out" || fail "fio: $(tail -20 "$W/fio.out")"
grep -q "err= 0" "$W/fio.out" || fail "fio reported errors"
ok "fio verify=crc32c randwrite 4k-128k over 32 MiB"
"${CLI[@]}" stats -n "$id" --json >"$W/stats.json" 2>&1 || fail "stats: $(cat "$W/stats.json")"
"${CLI[@]}" stats -n "$id" | grep -q "^request path  *native, " || fail "stats table: $("${CLI[@]}" stats -n "$id" 2>&1)"
node -e '
  const s = JSON.parse(require("fs").readFileSync(process.argv[1], "utf8"));
  const n = s.native;
  if (s.requestPath !== "native" || !(n.reads > 0 && n.writes > 0) || n.errors !== 0) throw new Error(JSON.stringify(s));
  console.log(`OK stats: native path over the ${s.backingIo}: ${n.reads} reads, ${n.writes} writes; JS path ${s.js.reads + s.js.writes} reads+writes`);
' "$W/stats.json" || fail "stats: $(cat "$W/stats.json")"

# verify_path NAME BACKING IO [ENV...]: a 64 MiB device on BACKING (started
# with ENV), fio verify over 16 MiB, then `stats` must show request path and
# backing I/O "IO" serving the reads and writes (native: no JS fallbacks).
verify_path() {
  local name=$1 backing=$2 io=$3 vdev vid
  shift 3
  vdev=$(env "$@" "${CLI[@]}" add --backing "$backing" --size 64M --layout direct --log "$W/$name.log" 2>/dev/null)
  vid=${vdev#/dev/ublkb}
  fio --name="verify-$name" --filename="$vdev" --ioengine=libaio --direct=1 --iodepth=16 \
    --rw=randwrite --bsrange=4k-128k --size=16M --verify=crc32c \
    --do_verify=1 --verify_fatal=1 --randrepeat=0 --output="$W/fio-$name.out" || fail "fio $name: $(tail -20 "$W/fio-$name.out")"
  "${CLI[@]}" stats -n "$vid" --json >"$W/stats-$name.json" 2>&1 || fail "stats $name: $(cat "$W/stats-$name.json")"
  "${CLI[@]}" del -n "$vid"
  node -e '
    const [file, io] = process.argv.slice(1);
    const s = JSON.parse(require("fs").readFileSync(file, "utf8"));
    // --zero-copy auto copies on a disk backing, whatever the kernel offers (docs/kernels.md).
    if (io === "direct-mapped" && s.zeroCopy !== false) throw new Error("zeroCopy " + s.zeroCopy);
    const native = s.native.reads > 0 && s.native.writes > 0 && s.js.reads + s.js.writes === 0 && s.native.errors === 0;
    const js = s.native.reads + s.native.writes === 0 && s.js.reads > 0 && s.js.writes > 0;
    const want = io === "js" ? s.requestPath === "js" && js : s.requestPath === "native" && s.backingIo === io && native;
    if (!want) throw new Error(JSON.stringify(s));
  ' "$W/stats-$name.json" "$io" || fail "$name request path: $(cat "$W/stats-$name.json")"
}

# ---- the JS request path (UBLK_DIRECT_PATH=js) still serves and verifies
verify_path js "$W/js.img" js UBLK_DIRECT_PATH=js
ok "UBLK_DIRECT_PATH=js: fio verify=crc32c over 16 MiB, served by the JS path"

# ---- a backing file on ext4 (on a RAM disk): the native path uses O_DIRECT
modprobe brd rd_nr=1 rd_size=$((96 * 1024)) max_part=0 || fail "modprobe brd"
for _ in $(seq 50); do [ -b /dev/ram0 ] && break; sleep 0.1; done
mkfs.ext4 -q -F /dev/ram0 && mkdir -p "$W/ext4" && mount /dev/ram0 "$W/ext4" || fail "ext4 on /dev/ram0"
verify_path ext4 "$W/ext4/backing.img" "direct-mapped"
umount "$W/ext4" && rmmod brd
ok "ext4 backing: fio verify=crc32c over 16 MiB, served natively, direct-mapped to the RAM disk, copying (zero copy auto)"

# ---- discard: reads zeros, backing blocks released
dd if="$(readlink -f /usr/bin/node)" of="$dev" bs=1M count=32 skip=4 seek=160 oflag=direct status=none
sync
before=$(stat -c %b "$B")
blkdiscard -f -o $((160 << 20)) -l $((32 << 20)) "$dev"
dd if="$dev" bs=1M skip=160 count=32 iflag=direct status=none | cmp -n $((32 << 20)) - /dev/zero || fail "discarded range is not zero"
after=$(stat -c %b "$B")
drop=$(( (before - after) * 512 ))
[ "$drop" -ge $((30 << 20)) ] || fail "backing allocation dropped only $drop bytes ($before -> $after blocks)"
ok "blkdiscard 32 MiB: reads zeros, backing released $((drop >> 20)) MiB"

# ---- kill -9 the daemon: del completes, bounded
pid=$(node -e "console.log(require('/run/ublk-compress/$id.json').pid)")
kill -9 "$pid"
start=$(date +%s)
timeout 60 "${CLI[@]}" del -n "$id" 2>"$W/del.err" || fail "del after kill -9: $? $(cat "$W/del.err")"
took=$(( $(date +%s) - start ))
[ ! -e "/sys/class/ublk-char/ublkc$id" ] || fail "device $id still exists"
[ ! -e "/run/ublk-compress/$id.json" ] || fail "stale run file after del"
ok "kill -9 daemon then del: done in ${took}s ($(cat "$W/del.err"))"
expect_exit 6 "no ublk device with id $id" "${CLI[@]}" del -n "$id"
[ "$(devices)" = 0 ] || fail "devices left: $(ls /sys/class/ublk-char)"
ok "all done"
