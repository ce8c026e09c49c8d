#!/usr/bin/env bash
# Guest e2e of serving a packed device to "other machines" through the
# kernel's targets, on loopback addresses only: NVMe/TCP (nvmet) with the
# kernel NVMe/TCP host, iSCSI (LIO) with open-iscsi, and a pool whose backing
# is itself an NVMe/TCP namespace. Run by export-guest.test.ts in the QEMU
# guest (or natively where the host has ublk_drv). Prints "OK <step>" after
# each verified step and "TIMELINE ..." lines for the recovery; the first
# failed check prints "FAIL <why>" and exits non-zero.
# EXPORT_E2E_STAGES (default "nvme recover iscsi pool") picks stages;
# recover and iscsi reuse the device that nvme leaves exported/written.
# Sizes are small on purpose (a 128 MiB device, a 64 MiB pool on the
# "network" disk): under TCG every step is slow, and no claim needs more.
set -euo pipefail
cd "$(dirname "$0")/../.."
# Private mounts (the iSCSI initiator's state directory is overlaid below).
[ -n "${EXPORT_E2E_UNSHARED:-}" ] || EXPORT_E2E_UNSHARED=1 exec unshare -m --propagation private bash "$0" "$@"
# shellcheck source=support/fabrics.sh
. test/e2e/support/fabrics.sh
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-export.XXXXXX)
LOG=$W/daemon.log
M=$W/mnt
mkdir -p "$M"
export UBLK_COMPRESS_LOG_DIR=$W/logs
ETC=$W/etc
NAME=e2e
SIZE_MB=128
STAGES=${EXPORT_E2E_STAGES:-nvme recover iscsi pool}
ADDR=127.0.0.1
NQN=nqn.2026-12.io.ublk-compress:e2e
POOL_NQN=nqn.2026-12.io.ublk-compress:e2e-pool
IQN=iqn.2026-12.io.ublk-compress:e2e
# Small trees of real files (84, 37 and 22 headers): every file costs under TCG.
TREE=(/usr/include/x86_64-linux-gnu/sys)
TREE2=(/usr/include/asm-generic)
TREE3=(/usr/include/sound)

# fail/ok write to fd 3 (the script's stdout) so a FAIL inside $(...) is seen too.
exec 3>&1
fail() { echo "FAIL $*" >&3; [ -f "$LOG" ] && tail -n 20 "$LOG" | sed 's/^/  log: /' >&3; exit 1; }
ok() { echo "OK $*" >&3; echo "[$SECONDS s] $1" >&2; }
# Undo in reverse, whatever got set up (each step tolerates "not there").
cleanup() {
  set +e
  for m in "$M" "$W/mnt2"; do mountpoint -q "$m" && umount "$m"; done
  iscsiadm -m session >/dev/null 2>&1 && iscsi_detach "$IQN" "$ADDR" 3260 >/dev/null 2>&1
  [ -f "$W/iscsid.pid" ] && kill "$(cat "$W/iscsid.pid")" 2>/dev/null
  [ -d "$CFS/target/iscsi/$IQN" ] && lio_iscsi_unexport "$IQN" e2e "$ADDR" 3260 2>/dev/null
  for n in "$NQN" "$POOL_NQN"; do
    grep -qsx "$n" /sys/class/nvme-subsystem/*/subsysnqn && nvme_detach "$n" 2>/dev/null
  done
  # Only this script's devices, and only those still there (each CLI call costs seconds in TCG).
  for n in ${id:-} ${pno:-}; do [ -e "/dev/ublkb$n" ] && "${CLI[@]}" del -n "$n" --timeout 20 >/dev/null 2>&1; done
  # A recovered daemon does not know the stable name its predecessor linked.
  [ -L "/dev/ublk-compress/$NAME" ] && [ ! -e "/dev/ublk-compress/$NAME" ] && rm -f "/dev/ublk-compress/$NAME"
  [ -L "$CFS/nvmet/ports/1/subsystems/$NQN" ] && nvmet_unexport "$NQN" 1 2>/dev/null
  [ -L "$CFS/nvmet/ports/2/subsystems/$POOL_NQN" ] && nvmet_unexport "$POOL_NQN" 2 2>/dev/null
  [ -n "${LOOPDEV:-}" ] && losetup -d "$LOOPDEV"
  [ -n "${IO_TIMEOUT_WAS:-}" ] && echo "$IO_TIMEOUT_WAS" > "$IO_TIMEOUT_PARAM"
}
trap cleanup EXIT
has_stage() { [[ " $STAGES " == *" $1 "* ]]; }
pid_of() { jq -r .pid < "/run/ublk-compress/$1.json"; }
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
# verify_all WHERE: every file an earlier stage wrote and recorded reads back at $M.
verify_all() {
  sums "$M/tree" | cmp -s - "$W/tree.sums" || fail "files written over NVMe/TCP differ $1"
  [ ! -f "$W/fsynced.sums" ] || (cd "$M/w" && sha256sum -c --quiet "$W/fsynced.sums") || fail "fsync'ed files differ $1"
  [ ! -f "$W/iscsi.sums" ] || sums "$M/iscsi" | cmp -s - "$W/iscsi.sums" || fail "files written over iSCSI differ $1"
}
need_modules() {
  local m
  for m in "$@"; do modprobe "$m" 2>"$W/modprobe.err" || fail "kernel module $m missing: $(tail -n 1 "$W/modprobe.err")"; done
}
add_packed() { # add_packed ARGS... -> prints the device
  "${CLI[@]}" add --log "$LOG" "$@" 2>>"$W/add.err" || fail "add $*: $(tail -n 3 "$W/add.err")"
}
# ms_since A B: milliseconds from A to B, both $EPOCHREALTIME values (6 decimals).
ms_since() { echo $(((${2/./} - ${1/./}) / 1000)); }
# mark WHAT: how long the steps since the previous mark took (stderr, for the profile).
T_MARK=$EPOCHREALTIME
mark() { local now=$EPOCHREALTIME; echo "STEP $1: $(ms_since "$T_MARK" "$now") ms" >&2; T_MARK=$now; }

need_modules nvmet nvmet-tcp nvme-tcp
# The initiator's command timeout, read when it connects: above the longest
# recovery (docs/scale-out.md), so a recovery is a stall, not a controller
# reset. EXPORT_E2E_IO_TIMEOUT=30 (the kernel default) exercises the reset path.
IO_TIMEOUT_PARAM=/sys/module/nvme_core/parameters/io_timeout
IO_TIMEOUT_WAS=$(cat "$IO_TIMEOUT_PARAM")
echo "${EXPORT_E2E_IO_TIMEOUT:-300}" > "$IO_TIMEOUT_PARAM"
fabrics_mount_configfs
command -v ip >/dev/null && ip link set lo up  # (the guest init also brings lo up)
mark "modules, configfs"

if has_stage nvme; then
  # Declared and started as a service would be, exported by its stable name.
  mkdir -m 0700 "$ETC"
  printf 'backing = %s\nsize = %dM\nlog = %s\n' "$W/pool.img" "$SIZE_MB" "$LOG" > "$ETC/$NAME.conf"
  dev=$("${CLI[@]}" up --config-dir "$ETC" "$NAME" 2>>"$W/add.err") || fail "up $NAME: $(tail -n 3 "$W/add.err")"
  id=${dev#/dev/ublkb}
  link=/dev/ublk-compress/$NAME
  for _ in $(seq 50); do [ -L "$link" ] && break; sleep 0.1; done
  [ "$(readlink -f "$link")" = "$dev" ] || fail "$link does not point at $dev"
  mark "nvme: add"
  nvmet_export "$NQN" "$link" "$ADDR" 4420 1 || fail "nvmet export of $link"
  ndev=$(nvme_attach "$NQN" "$ADDR" 4420) || fail "nvme connect"
  mark "nvme: export + connect"
  [ "$(blockdev --getsize64 "$ndev")" = $((SIZE_MB << 20)) ] || fail "$ndev is $(blockdev --getsize64 "$ndev") bytes"
  q=/sys/block/${ndev#/dev/}/queue
  wc=$(cat "$q/write_cache") fua=$(cat "$q/fua")
  [ "$wc" = "write back" ] && [ "$fua" = 1 ] || fail "initiator sees write_cache '$wc', fua $fua"
  ok "nvme/tcp: $link ($dev) exported as $NQN on $ADDR:4420, attached as $ndev (write_cache '$wc', fua $fua, io_timeout $(cat "$IO_TIMEOUT_PARAM") s)"
  mkfs.ext4 -q -F -E nodiscard "$ndev" || fail "mkfs.ext4 $ndev"
  mount "$ndev" "$M" || fail "mount $ndev"
  mark "nvme: mkfs + mount"
  mkdir "$M/tree"
  cp -a "${TREE[@]}" "$M/tree/"
  mark "nvme: copy tree"
  fio --name=verify --directory="$M" --filename=fio.dat --ioengine=libaio --direct=1 --iodepth=16 \
    --rw=randwrite --bsrange=4k-128k --size=4M --verify=crc32c --verify_fatal=1 --do_verify=1 --verify_state_save=0 \
    --buffer_compress_percentage=60 --dedupe_percentage=30 --refill_buffers --randrepeat=1 \
    --output="$W/fio.txt" || fail "fio verify: $(tail -n 20 "$W/fio.txt")"
  grep -q "err= 0" "$W/fio.txt" || fail "fio reported errors: $(cat "$W/fio.txt")"
  rm "$M/fio.dat"
  mark "nvme: fio verify"
  sums "$M/tree" > "$W/tree.sums"
  umount "$M"
  mount "$ndev" "$M" || fail "re-mount $ndev"
  sums "$M/tree" | cmp -s - "$W/tree.sums" || fail "tree checksums differ after re-mount"
  mark "nvme: sums, re-mount, verify"
  ok "ext4 on $ndev: $(wc -l < "$W/tree.sums") files verify after re-mount; fio verify=crc32c 4 MiB randwrite 4k-128k: no errors"
fi

# writer DIR LIST N: N files, each fsync'ed; after each fsync returns, appends
# "index completion-time sha256 name" to LIST. Stops at the first error.
writer() {
  local dir=$1 list=$2 n=$3 i
  mkdir -p "$dir"
  for ((i = 1; i <= n; i++)); do
    { echo "file $i"; head -c 49152 /dev/urandom; head -c 16384 /usr/include/linux/fs.h; } > "$dir/f$i" || return 1
    sync "$dir/f$i" || return 1
    echo "$i $EPOCHREALTIME $(cd "$dir" && sha256sum "f$i")" >> "$list"
  done
}

if has_stage recover; then
  mountpoint -q "$M" || fail "stage recover needs the NVMe/TCP mount of stage nvme"
  N=12 list=$W/fsynced.txt
  : > "$list"
  writer "$M/w" "$list" "$N" & wpid=$!
  for _ in $(seq 240); do [ "$(wc -l < "$list")" -ge 3 ] && break; sleep 0.25; done
  [ "$(wc -l < "$list")" -ge 3 ] || fail "writer too slow before the kill"
  mark "recover: writer before the kill"
  pid=$(pid_of "$id")
  read -r up_kill _ < /proc/uptime
  t_kill=$EPOCHREALTIME
  kill -9 "$pid"
  at_kill=$(wc -l < "$list")
  t_rec0=$EPOCHREALTIME
  # The initiator is another host in real use: run recover where the
  # initiator's mount is not (the new daemon's private mount namespace starts
  # as a copy of its caller's, and must not hold this filesystem).
  rdev=$(unshare -m --propagation private bash -c 'umount -l "$1" && shift && exec "$@"' _ "$M" \
    "${CLI[@]}" recover -n "$id" 2>>"$W/add.err") || fail "recover: $(tail -n 3 "$W/add.err")"
  t_rec1=$EPOCHREALTIME
  [ "$rdev" = "$dev" ] || fail "recover printed '$rdev', expected $dev"
  [ "$(pid_of "$id")" != "$pid" ] || fail "run record still names the dead daemon"
  mark "recover: kill, recover"
  wait "$wpid" || fail "the writer failed across the recovery (through NVMe/TCP)"
  mark "recover: writer after recover"
  [ "$(wc -l < "$list")" = "$N" ] || fail "writer finished $(wc -l < "$list") of $N files"
  # The initiator's view: the last fsync completed before the kill and the first after it.
  before=$(awk -v k="$t_kill" '$2 < k { t = $2 } END { print t }' "$list")
  after=$(awk -v k="$t_kill" '$2 >= k { print $2; exit }' "$list")
  gap=$(awk '{ if (NR > 1 && $2 - p > g) g = $2 - p; p = $2 } END { printf "%d", g * 1000 }' "$list")
  echo "TIMELINE last fsync before kill: -$(ms_since "$before" "$t_kill") ms"
  echo "TIMELINE kill -9 daemon: 0 ms ($at_kill of $N files fsync'ed)"
  echo "TIMELINE recover started: +$(ms_since "$t_kill" "$t_rec0") ms"
  echo "TIMELINE recover returned: +$(ms_since "$t_kill" "$t_rec1") ms"
  echo "TIMELINE first fsync after kill: +$(ms_since "$t_kill" "$after") ms"
  echo "TIMELINE initiator stall (longest gap between fsyncs): $gap ms"
  # What the kernel said meanwhile (NVMe host/target, ublk), on the same clock.
  dmesg | awk -v k="$up_kill" '
    function out() { if (c) printf "TIMELINE kernel +%d ms: %s%s\n", (t0 - k) * 1000, last, (c > 1 ? " (x" c ")" : "") }
    /nvme|ublk/ { t = substr($0, 2) + 0; msg = $0; sub(/^\[[^]]*\] /, "", msg)
      if (t < k) next; if (msg == last) { c++; next } out(); last = msg; t0 = t; c = 1 }
    END { out() }'
  umount "$M" || fail "umount $ndev"
  e2fsck -fn "$ndev" > "$W/fsck.txt" 2>&1 || fail "e2fsck through NVMe/TCP: $(tail -n 8 "$W/fsck.txt")"
  mark "recover: umount, e2fsck"
  mount "$ndev" "$M" || fail "mount after recover"
  cut -d' ' -f3- "$list" > "$W/fsynced.sums"
  (cd "$M/w" && sha256sum -c --quiet "$W/fsynced.sums") || fail "fsync'ed files differ after recover"
  mark "recover: mount, verify"
  ok "kill -9 during NVMe/TCP writes after $at_kill fsync'ed files, recover: writer finished, e2fsck -fn clean, all $N files verify; stall $gap ms"
fi

if has_stage nvme; then
  mountpoint -q "$M" && umount "$M"
  nvme_detach "$NQN" || fail "nvme disconnect"
  nvmet_unexport "$NQN" 1 || fail "nvmet unexport"
  mark "nvme: disconnect, unexport"
  ok "nvme/tcp: disconnected and unexported"
fi

if has_stage iscsi; then
  [ -n "${dev:-}" ] || fail "stage iscsi needs the device of stage nvme"
  need_modules target_core_mod target_core_iblock iscsi_target_mod iscsi_tcp sd_mod
  command -v iscsid >/dev/null || fail "iscsid missing (Debian package open-iscsi)"
  # open-iscsi keeps node records under /etc/iscsi: give it a private copy.
  cp -a /etc/iscsi "$W/etc-iscsi"
  mount --bind "$W/etc-iscsi" /etc/iscsi
  mkdir -p /run/lock/iscsi
  iscsid -p "$W/iscsid.pid" || fail "iscsid did not start"
  lio_iscsi_export "$IQN" e2e "$dev" "$ADDR" 3260 || fail "LIO export of $dev"
  mark "iscsi: iscsid, export"
  sdev=$(iscsi_attach "$IQN" "$ADDR" 3260) || fail "iscsi login"
  mark "iscsi: login"
  [ "$(blockdev --getsize64 "$sdev")" = $((SIZE_MB << 20)) ] || fail "$sdev is $(blockdev --getsize64 "$sdev") bytes"
  q=/sys/block/${sdev#/dev/}/queue
  ok "iscsi: $dev exported as $IQN on $ADDR:3260, attached as $sdev (write_cache '$(cat "$q/write_cache")', fua $(cat "$q/fua"))"
  mount "$sdev" "$M" || fail "mount $sdev"
  verify_all "over iSCSI"
  mkdir "$M/iscsi"
  cp -a "${TREE3[@]}" "$M/iscsi/"
  sums "$M/iscsi" > "$W/iscsi.sums"
  umount "$M"
  mark "iscsi: mount, verify, copy"
  e2fsck -fn "$sdev" > "$W/fsck.txt" 2>&1 || fail "e2fsck through iSCSI: $(tail -n 8 "$W/fsck.txt")"
  mark "iscsi: e2fsck"
  iscsi_detach "$IQN" "$ADDR" 3260 || fail "iscsi logout"
  lio_iscsi_unexport "$IQN" e2e "$ADDR" 3260 || fail "LIO unexport"
  kill "$(cat "$W/iscsid.pid")"
  mount "$dev" "$M" || fail "mount $dev locally"
  sums "$M/iscsi" | cmp -s - "$W/iscsi.sums" || fail "files written over iSCSI differ locally"
  umount "$M"
  mark "iscsi: logout, unexport, local verify"
  ok "iscsi: NVMe/TCP's files verify, $(wc -l < "$W/iscsi.sums") new files written, e2fsck -fn clean, read back on $dev after logout + unexport"
fi
if [ -n "${id:-}" ]; then
  "${CLI[@]}" down --config-dir "$ETC" "$NAME" 2>>"$W/add.err" || fail "down $NAME: $(tail -n 3 "$W/add.err")"
  [ ! -e "$dev" ] && [ ! -L "$link" ] || fail "$dev or $link still there after down"
fi
mark "down"

if has_stage pool; then
  # The pool the stages above wrote moves onto the "remote" disk: a loop
  # device on the pool file itself (so no copy), served over NVMe/TCP. add
  # then opens it on the initiator's /dev/nvmeXnY with its metadata directory.
  [ -f "$W/pool.img" ] && [ ! -e "${dev:-/nonexistent}" ] || fail "stage pool needs the pool of stage nvme, down"
  need_modules loop
  LOOPDEV=$(losetup -f --show "$W/pool.img") || fail "losetup"
  nvmet_export "$POOL_NQN" "$LOOPDEV" "$ADDR" 4421 2 || fail "nvmet export of $LOOPDEV"
  rdisk=$(nvme_attach "$POOL_NQN" "$ADDR" 4421) || fail "nvme connect to the pool disk"
  mark "pool: loop, export, connect"
  pdev=$(add_packed --backing "$rdisk" --meta "$W/pool.img.meta")
  pno=${pdev#/dev/ublkb}
  mount "$pdev" "$M" || fail "mount $pdev"
  mark "pool: add, mount"
  verify_all "on the pool on $rdisk"
  mkdir "$M/pool"
  cp -a "${TREE2[@]}" "$M/pool/"
  sums "$M/pool" > "$W/pool.sums"
  umount "$M"
  "${CLI[@]}" del -n "$pno" 2>/dev/null || fail "del -n $pno"
  [ ! -e "$pdev" ] || fail "$pdev still exists after del"
  mark "pool: verify, copy, del"
  # A fresh NVMe/TCP session: nothing of the pool is left in the initiator's cache.
  nvme_detach "$POOL_NQN" || fail "nvme disconnect"
  rdisk=$(nvme_attach "$POOL_NQN" "$ADDR" 4421) || fail "nvme re-connect to the pool disk"
  pdev=$(add_packed --backing "$rdisk" --meta "$W/pool.img.meta")
  pno=${pdev#/dev/ublkb}
  mount "$pdev" "$M" || fail "mount $pdev after re-add"
  mark "pool: reconnect, re-add"
  verify_all "after re-add of the pool on $rdisk"
  sums "$M/pool" | cmp -s - "$W/pool.sums" || fail "checksums differ after re-add of the pool on $rdisk"
  umount "$M"
  e2fsck -fn "$pdev" > "$W/fsck.txt" 2>&1 || fail "e2fsck: $(tail -n 8 "$W/fsck.txt")"
  "${CLI[@]}" del -n "$pno" 2>/dev/null || fail "del -n $pno"
  nvme_detach "$POOL_NQN" || fail "nvme disconnect"
  nvmet_unexport "$POOL_NQN" 2 || fail "nvmet unexport"
  mark "pool: verify, e2fsck, del, disconnect"
  ok "pool on NVMe/TCP $rdisk: add $pdev, earlier files verify, $(wc -l < "$W/pool.sums") files written, del, reconnect, re-add: all verify, e2fsck -fn clean"
fi
ok "all done"
