#!/usr/bin/env bash
# Repeats the kill -9 + recover cycle of a packed device N times (default 20):
# add -> mount the ext4 on it -> fsync'ing writer (+ with RECOVER_LOOP_FIO=1,
# fio random direct writes at queue depth 32, so many requests are in flight)
# -> kill -9 of the daemon -> recover -> the writers finish without an error
# -> every fsync'ed file verifies -> the daemon's mount namespace holds no
# mount of the device -> umount -> e2fsck -fn clean -> del. Run in the guest to hunt kernel
# crashes of the recovery path:
#   test/vm/vm-run --keep -- bash test/e2e/recover-loop.sh 20
# Prints "OK loop I ..." per cycle; "FAIL ..." and exit 1 at the first failed
# check. RECOVER_LOOP_DELAY: seconds between kill -9 and recover (default
# cycles through 0, 0.3 and 1, covering recover racing the old daemon's exit);
# RECOVER_LOOP_NS_CHECK=0 skips the mount namespace check.
set -euo pipefail
cd "${UBLK_REPO:-$(dirname "$0")/../..}"
N=${1:-20}
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-recover-loop.XXXXXX)
M=$W/mnt
LOG=$W/daemon.log
mkdir -p "$M"
export UBLK_COMPRESS_LOG_DIR=$W/logs
fail() { echo "FAIL $*"; [ -f "$LOG" ] && tail -n 20 "$LOG" | sed 's/^/  log: /'; exit 1; }
cleanup() {
  mountpoint -q "$M" && umount -l "$M" || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
}
trap cleanup EXIT
if command -v jq >/dev/null; then pid_of() { jq -r .pid "/run/ublk-compress/$1.json"; }
else pid_of() { node -p "require('/run/ublk-compress/$1.json').pid"; }; fi

# writer DIR LIST: fsync'ed files until DIR/../stop exists; "sha  name" in LIST after each fsync.
writer() {
  local i=0
  while [ ! -e "$1/../stop" ]; do
    i=$((i + 1))
    head -c $((16384 + (i % 7) * 4096)) /dev/urandom > "$1/f$i" || return 1
    sync "$1/f$i" || return 1
    (cd "$1" && sha256sum "f$i") >> "$2"
  done
}
# no_copied_mount DEV: the daemon serving DEV holds no mount of it in its own namespace.
no_copied_mount() {
  [ "${RECOVER_LOOP_NS_CHECK:-1}" = 1 ] || return 0
  local mm npid
  mm=$(stat -c %Hr:%Lr "$1")
  npid=$(pid_of "${1#/dev/ublkb}")
  ! grep -q " $mm " "/proc/$npid/mountinfo" || fail "daemon $npid's mount namespace holds $1; $(tail -n 2 "$W/add.err")"
}

P=$W/pool.img
dev=$("${CLI[@]}" add --backing "$P" --size 256M --log "$LOG" 2>>"$W/add.err") || fail "add: $(tail -n 3 "$W/add.err")"
id=${dev#/dev/ublkb}
mkfs.ext4 -q -F "$dev" || fail mkfs
"${CLI[@]}" del -n "$id" 2>/dev/null || fail "first del"
delays=(0 0.3 1)
for ((loop = 1; loop <= N; loop++)); do
  t0=$SECONDS
  dev=$("${CLI[@]}" add --backing "$P" --log "$LOG" 2>>"$W/add.err") || fail "loop $loop add: $(tail -n 3 "$W/add.err")"
  id=${dev#/dev/ublkb}
  mount "$dev" "$M" || fail "loop $loop mount"
  rm -rf "$M/w" "$M/stop" "$M/fio.dat"; mkdir "$M/w"
  list=$W/list.$loop; : > "$list"
  writer "$M/w" "$list" & wpid=$!
  fpid=""
  if [ "${RECOVER_LOOP_FIO:-0}" = 1 ]; then
    fio --name=load --filename="$M/fio.dat" --size=32M --ioengine=libaio --direct=1 --iodepth=32 \
      --rw=randwrite --bs=4k --time_based --runtime=25 --output="$W/fio.$loop" & fpid=$!
  fi
  for _ in $(seq 240); do [ "$(wc -l < "$list")" -ge 5 ] && break; sleep 0.25; done
  pid=$(pid_of "$id")
  kill -9 "$pid"
  delay=${RECOVER_LOOP_DELAY:-${delays[$((loop % 3))]}}
  sleep "$delay"
  ndev=$("${CLI[@]}" recover -n "$id" 2>>"$W/add.err") || fail "loop $loop recover: $(tail -n 3 "$W/add.err")"
  [ "$ndev" = "$dev" ] || fail "loop $loop: recover printed '$ndev'"
  no_copied_mount "$dev"
  sleep 0.5
  touch "$M/stop"
  wait "$wpid" || fail "loop $loop: the writer failed across the recovery"
  [ -z "$fpid" ] || wait "$fpid" || fail "loop $loop: fio failed across the recovery: $(tail -n 5 "$W/fio.$loop")"
  (cd "$M/w" && sha256sum -c --quiet "$list") || fail "loop $loop: fsync'ed files differ after recover"
  umount "$M" || fail "loop $loop umount"
  # The fsync'ed files can verify while ext4's own metadata is damaged (a lost
  # acknowledged write): the file system check catches that.
  e2fsck -fn "$dev" > "$W/fsck.$loop" 2>&1 || fail "loop $loop: e2fsck -fn after recover: $(tail -n 5 "$W/fsck.$loop")"
  "${CLI[@]}" del -n "$id" --timeout 30 2>"$W/del.err" || fail "loop $loop del: $(cat "$W/del.err")"
  echo "OK loop $loop: kill -9 after $(wc -l < "$list") files written${fpid:+ under fio}, recover after ${delay}s, verified, e2fsck clean, del ($((SECONDS - t0)) s)"
done
echo "OK all $N loops"
