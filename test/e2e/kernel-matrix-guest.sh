#!/usr/bin/env bash
# The bounded subset of the guest e2e that kernel-matrix-guest.test.ts runs on
# the newer guest kernel (vm-run --kernel new): what the kernel offers, the
# packed device's add, ext4 with files, online grow of the mounted ext4, e2fsck,
# del + add at the new size (packed-device-guest.sh stage resize), kill -9 +
# recover under a mounted ext4 with an fsync'ing writer (stage recover: the
# writer carries on, e2fsck clean), then the 1:1 layout: the flags its defaults
# negotiate (--zero-copy auto on a file in memory), its zero-copy path on
# ext4/brd (zero-copy-guest.sh: ext4 with files, FUA + FLUSH, discard, fio
# verify, kill -9 + recover with every checksum, user copy, a memory file) and
# its online grow over ext4 on a RAM disk, del + add at the new size
# (direct-grow-guest.sh). The packed main, bad, compact, fio, journal and crash
# stages and the 1:1 device e2e run on the LTS kernel; test/e2e/recover-loop.sh
# repeats recover cycles.
# Prints "OK <step>" per verified step, "FAIL <why>" and exits non-zero on the
# first failed check.
set -euo pipefail
cd "$(dirname "$0")/../.."
echo "OK kernel $(uname -r)"
echo "OK $(node test/e2e/fixtures/kernel-features.mjs)"
# About 5 MiB of headers instead of 11: the subset stays small.
# fio verify runs on the 1:1 device below (the packed one's is on the LTS kernel).
PACKED_E2E_STAGES="resize recover" PACKED_E2E_TREE="/usr/include/x86_64-linux-gnu /usr/include/X11" \
  bash test/e2e/packed-device-guest.sh

CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-matrix.XXXXXX)
B=$W/direct.img
LOG=$W/daemon.log
M=$W/mnt
mkdir -p "$M"
export UBLK_COMPRESS_LOG_DIR=$W/logs
. test/e2e/support/steps.sh
cleanup() {
  mountpoint -q "$M" && umount -l "$M" || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
}
trap cleanup EXIT

dev=$("${CLI[@]}" add --backing "$B" --size 128M --layout direct --log "$LOG" 2>"$W/add.err") || fail "add direct: $(cat "$W/add.err")"
id=${dev#/dev/ublkb}
[ "$(blockdev --getsize64 "$dev")" = $((128 << 20)) ] || fail "direct device size"
echo "OK 1:1 negotiated flags: $("${CLI[@]}" list --json | node -e "const v = JSON.parse(require('fs').readFileSync(0, 'utf8')).find((d) => d.id === $id); console.log(v.flags, v.flagNames.join(','))")"
"${CLI[@]}" del -n "$id" 2>/dev/null || fail "del direct"
# ext4 with files, fio verify, kill -9 + recover and del + add on the 1:1 path
# run in zero-copy-guest.sh and direct-grow-guest.sh below.
bash test/e2e/zero-copy-guest.sh || fail "zero copy on the 1:1 path"
bash test/e2e/direct-grow-guest.sh
ok "matrix done"
