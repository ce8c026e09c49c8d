#!/usr/bin/env bash
# Guest e2e of running devices as a service, run by ops-guest.test.ts inside
# the QEMU guest (or natively where the host has ublk_drv): `up NAME` from a
# config in the systemd way (--foreground, a fake $NOTIFY_SOCKET), READY=1
# only once the device answers and `list` shows it live, mkfs + mount through
# /dev/ublk-compress/NAME, SIGHUP ignored, `down` (STOPPING=1), `up` again as
# a daemon ("reboot"): files verify and stats totals persist; `up` of a live
# device is a no-op; kill -9 + `up` re-attaches under the mount, and after
# another kill -9 a plain `recover -n ID` keeps the stable name; `stats` of
# two devices as a table and in the Prometheus format.
# Prints "OK <step>" after each verified step; "FAIL <why>" and exit 1 otherwise.
set -euo pipefail
cd "$(dirname "$0")/../.."
CLI=(node "$PWD/bin/ublk-compress.js")
W=$(mktemp -d /tmp/ublk-ops.XXXXXX)
ETC=$W/etc
M=$W/mnt
mkdir -p "$ETC" "$M"
export UBLK_COMPRESS_LOG_DIR=$W/logs
LOG=$W/data.log
TREE=(/usr/include/linux /usr/include/x86_64-linux-gnu)
PY=/usr/bin/python3
. test/e2e/support/steps.sh
cleanup() {
  mountpoint -q "$M" && umount -l "$M" || true
  [ -n "${RECV:-}" ] && kill "$RECV" 2>/dev/null || true
  "${CLI[@]}" del --all --timeout 20 >/dev/null 2>&1 || true
}
trap cleanup EXIT
if command -v jq >/dev/null; then jf() { jq -r "$1"; }; else jf() { node -e "const s=JSON.parse(require('fs').readFileSync(0,'utf8')); console.log(s$1)"; }; fi
sums() { (cd "$1" && find . -type f -print0 | sort -z | xargs -0 sha256sum); }
wait_for() { # wait_for SECONDS CMD...: poll until CMD succeeds
  local end=$((SECONDS + $1)); shift
  until "$@"; do [ $SECONDS -lt $end ] || return 1; sleep 0.5; done
}

cat > "$ETC/data.conf" <<CONF
# the e2e's data device
backing = $W/data.pool
size = 1G
layout = packed
dedup = verify
log = $LOG
CONF
printf 'backing = %s\nsize = 256M\nlayout = packed\ncompress = none\nlog = %s\nmetrics = 127.0.0.1:9187\n' "$W/scratch.pool" "$W/scratch.log" > "$ETC/scratch.conf"
metrics() { node -e "fetch('http://127.0.0.1:9187/metrics').then(r => r.text()).then(t => process.stdout.write(t), e => { console.error(String(e)); process.exit(1); })"; }

# ---- up --foreground under a fake systemd notification socket
NOTIFY=$W/notify.sock
PROBE="test -b /dev/ublk-compress/data && dd if=/dev/ublk-compress/data of=/dev/null bs=4096 count=1 status=none && ${CLI[*]} list --json"
$PY test/native/notify-receiver.py "$NOTIFY" 1000 "$PROBE" > "$W/notify.out" 2>&1 &
RECV=$!
wait_for 60 grep -q '^bound$' "$W/notify.out" || fail "notify receiver: $(cat "$W/notify.out")"
NOTIFY_SOCKET=$NOTIFY "${CLI[@]}" up --config-dir "$ETC" --foreground data > "$W/fg.out" 2> "$W/fg.err" &
FG=$!
wait_for 240 grep -q 'READY=1' "$W/notify.out" || fail "no READY=1: $(cat "$W/notify.out" "$W/fg.err")"
wait_for 120 grep -q '"probe"' "$W/notify.out" || fail "probe did not finish"
probe=$(sed -n 3p "$W/notify.out")
echo "$probe" | grep -q '"probe": 0' || fail "at READY=1 the device did not answer: $probe"
echo "$probe" | grep -q '\\"state\\": \\"LIVE\\"' || fail "at READY=1 list did not show LIVE: $probe"
dev=$(readlink /dev/ublk-compress/data)
[[ "$dev" =~ ^/dev/ublkb[0-9]+$ ]] || fail "stable name -> '$dev'"
id=${dev#/dev/ublkb}
[ "$(cat "$W/fg.out")" = "$dev" ] || fail "up printed '$(cat "$W/fg.out")'"
[ "$(cat /run/ublk-compress/names/ublkb$id)" = data ] || fail "no name tag"
grep -q 'STATUS=/dev/ublkb' "$W/notify.out" || fail "READY without the status line: $(head -2 "$W/notify.out")"
ok "up --foreground data: READY=1 once $dev answered through /dev/ublk-compress/data and list showed it LIVE"

# ---- mkfs + mount through the stable name, files, stats
mkfs.ext4 -q -F -E nodiscard /dev/ublk-compress/data || fail mkfs
mount /dev/ublk-compress/data "$M" || fail mount
cp -a "${TREE[@]}" "$M/"
sums "$M" > "$W/sums"
umount "$M"
"${CLI[@]}" stats -n "$id" --json > "$W/stats1.json"
written=$(jf .bytesWritten < "$W/stats1.json")
hits=$(jf .dedupHits < "$W/stats1.json")
[ "$written" -gt 0 ] || fail "stats: nothing written"
ok "mkfs + mount /dev/ublk-compress/data, $(wc -l < "$W/sums") files, $written bytes written"

# ---- SIGHUP leaves the device live
kill -HUP "$FG"
wait_for 30 grep -q 'SIGHUP ignored' "$LOG" || fail "no SIGHUP log line"
sleep 1
kill -0 "$FG" 2>/dev/null || fail "the daemon died of SIGHUP"
"${CLI[@]}" list --json | grep -q '"state": "LIVE"' || fail "not LIVE after SIGHUP"
dd if=/dev/ublk-compress/data of=/dev/null bs=4096 count=16 status=none || fail "read after SIGHUP"
ok "kill -HUP: device still LIVE and served by pid $FG"

# ---- down: the foreground daemon stops (STOPPING=1), the name goes
"${CLI[@]}" down --config-dir "$ETC" data 2> "$W/down.err" || fail "down: $(cat "$W/down.err")"
wait "$FG" || fail "the foreground up exited with $?"
wait_for 30 grep -q 'STOPPING=1' "$W/notify.out" || fail "no STOPPING=1: $(cat "$W/notify.out")"
[ ! -e /dev/ublk-compress/data ] && [ ! -L /dev/ublk-compress/data ] || fail "stable name left behind"
[ ! -e "$dev" ] || fail "$dev left behind"
"${CLI[@]}" down --config-dir "$ETC" data 2> "$W/down2.err" || fail "second down failed"
grep -q "'data' is not up" "$W/down2.err" || fail "second down said: $(cat "$W/down2.err")"
ok "down data: STOPPING=1, $dev and /dev/ublk-compress/data gone; a second down is a no-op"

# ---- up again as a daemon (the "reboot"): totals persist, files verify
dev2=$("${CLI[@]}" up --config-dir "$ETC" data 2> "$W/up2.err") || fail "up: $(cat "$W/up2.err")"
id2=${dev2#/dev/ublkb}
[ "$(readlink /dev/ublk-compress/data)" = "$dev2" ] || fail "stable name after re-up"
"${CLI[@]}" stats -n "$id2" --json > "$W/stats2.json"
[ "$(jf .bytesWritten < "$W/stats2.json")" = "$written" ] || fail "bytesWritten $written -> $(jf .bytesWritten < "$W/stats2.json")"
[ "$(jf .dedupHits < "$W/stats2.json")" = "$hits" ] || fail "dedupHits changed"
mount /dev/ublk-compress/data "$M" || fail "mount after re-up"
sums "$M" | cmp -s - "$W/sums" || fail "checksums differ after down + up"
again=$("${CLI[@]}" up --config-dir "$ETC" data 2> "$W/up3.err") || fail "up of a live device failed"
[ "$again" = "$dev2" ] && grep -q "already up" "$W/up3.err" || fail "up of a live device: '$again' $(cat "$W/up3.err")"
ok "up data again: $dev2, all $(wc -l < "$W/sums") checksums match, same totals ($written bytes written, $hits dedup hits); up of a live device is a no-op"

# ---- the daemon dies under the mount; up re-attaches (recover)
pid=$(jf .pid < "/run/ublk-compress/$id2.json")
kill -9 "$pid"
wait_for 30 bash -c "! kill -0 $pid 2>/dev/null" || fail "daemon $pid did not die"
dev3=$("${CLI[@]}" up --config-dir "$ETC" data 2> "$W/up4.err") || fail "up after kill -9: $(cat "$W/up4.err")"
[ "$dev3" = "$dev2" ] || fail "recover gave $dev3, not $dev2"
grep -q "lost its daemon" "$W/up4.err" || fail "up after kill -9 said: $(cat "$W/up4.err")"
sums "$M" | cmp -s - "$W/sums" || fail "checksums differ after kill -9 + up"
echo more > "$M/after-recover" && sync || fail "write after recover"
ok "kill -9 + up data: re-attached to $dev3 under the mount, files verify"

# ---- it dies again; a plain recover -n (no name given) keeps the stable name (the tag says it)
pid=$(jf .pid < "/run/ublk-compress/$id2.json")
kill -9 "$pid"
wait_for 30 bash -c "! kill -0 $pid 2>/dev/null" || fail "daemon $pid did not die"
env -u UBLK_COMPRESS_NAME "${CLI[@]}" recover -n "$id2" > "$W/recover.out" 2> "$W/recover.err" || fail "recover -n $id2: $(cat "$W/recover.err")"
pid=$(jf .pid < "/run/ublk-compress/$id2.json")
tr '\0' '\n' < "/proc/$pid/environ" | grep -x 'UBLK_COMPRESS_NAME=data' >/dev/null || fail "recovered daemon $pid serves under no name"
[ "$(readlink /dev/ublk-compress/data)" = "$dev2" ] && [ "$(cat "/run/ublk-compress/names/ublkb$id2")" = data ] || fail "name after recover -n"
cat "$M/after-recover" > /dev/null || fail "read after recover -n"
ok "kill -9 + recover -n $id2: the new daemon serves as 'data' (its name tag), link and tag kept"

# ---- two devices in one stats table, and in the Prometheus format
dev4=$("${CLI[@]}" up --config-dir "$ETC" scratch 2> "$W/up5.err") || fail "up scratch: $(cat "$W/up5.err")"
fio --name=scratch --filename="$dev4" --rw=write --bs=64k --size=32M --rate=4m --direct=1 --ioengine=psync --output="$W/fio.out" &
FIO=$!
metrics > "$W/metrics-during" || fail "/metrics did not answer during fio"
kill -0 "$FIO" 2>/dev/null && during="while fio ran" || during="(fio had ended)"
wait "$FIO" || fail "fio: $(cat "$W/fio.out")"
grep -q '^ublk_compress_daemon_up{device="'"$dev4"'"} 1$' "$W/metrics-during" || fail "/metrics during fio: $(head -5 "$W/metrics-during")"
metrics > "$W/metrics-after" || fail "/metrics after fio"
grep -q "^ublk_compress_written_bytes_total{device=\"$dev4\"} $((32 << 20))$" "$W/metrics-after" || fail "/metrics written_bytes_total: $(grep written_bytes "$W/metrics-after")"
ok "/metrics answered $during; written_bytes_total = 32 MiB, what fio wrote"
"${CLI[@]}" stats > "$W/overview" || fail "stats overview"
cat "$W/overview"
grep -qE "^$dev2 +data +packed +LIVE +1\.00 GiB" "$W/overview" || fail "overview row of data"
grep -qE "^$dev4 +scratch +packed +LIVE +256\.00 MiB" "$W/overview" || fail "overview row of scratch"
"${CLI[@]}" stats --format prometheus > "$W/metrics" || fail "prometheus"
grep -q "^ublk_compress_device_info{device=\"$dev2\",name=\"data\"" "$W/metrics" || fail "no device_info for data"
grep -q "^ublk_compress_written_bytes_total{device=\"$dev4\"} $((32 << 20))" "$W/metrics" || fail "scratch written_bytes_total: $(grep written_bytes "$W/metrics")"
ok "stats: both devices in one table; prometheus: $(grep -vc '^#' "$W/metrics") samples, scratch written_bytes_total = 32 MiB"
umount "$M"
"${CLI[@]}" down --config-dir "$ETC" data 2>/dev/null || fail "final down data"
"${CLI[@]}" down --config-dir "$ETC" scratch 2>/dev/null || fail "final down scratch"
[ -z "$(ls /dev/ublk-compress 2>/dev/null)" ] || fail "names left: $(ls /dev/ublk-compress)"
ok "all done"
