#!/usr/bin/env bash
# Runs inside the QEMU guest (or natively with ublk_drv) for `npm run bench`
# and `npm run bench -- packed`: up to six block devices in one boot, on the
# same data (bench/suite/devices.sh): ublk-compress packed and 1:1, zram (lz4),
# dm-vdo (compression + dedup), loop over a tmpfs file, brd. fio runs on
# vCPU 0, every server on vCPU 1.
#  1. Speed: SUITE_ROUNDS interleaved rounds (all devices, then all again) of
#     1 MiB sequential write, 4 KiB random read and write at QD16 on fio
#     compress 60% data (dedupe SUITE_SPEED_DEDUPE%, default 45), with latency
#     percentiles, CPU seconds (server and kernel, from /proc) and our
#     daemon's peak RSS. A device's tear-down overlaps the next one's set-up;
#     nothing else runs while a device is measured.
#  2. Space: per device and data set a fresh device; logical and physical bytes.
#     The data (tree, VM images, same-fill blocks) is built once on the
#     guest's tmpfs first, so every device gets the same bytes without
#     re-reading the shared root or starting node per device. Our servers
#     (packed, 1:1) and dm-vdo start while the other devices of the same data
#     set fill (after brd, whose figure is memory), and dm-vdo is removed in
#     the background: set-ups and tear-downs (node starts, vdoformat, dm-vdo
#     saving its index), seconds each under emulation, overlap the fills;
#     only bytes are measured here.
#     The speed cell of the fio matrix (fio-d<SPEED_DEDUPE>c60, when in
#     SUITE_SETS) is the same sequential fill as round 1's 1 MiB sequential
#     write on its fresh device: its space is taken there (the write then
#     covers the whole region in every round), not on a device of its own.
#     The other cells of the matrix run on SUITE_MATRIX_DEVICES only (the
#     compressing ones: the others store every block as written).
# Prints "SUITE-<KIND> {json}" lines (SUITE-TIME: the wall time of each part
# and device, of its set-up and of its tear-down) and SUITE-DONE at the end.
# Environment (set by bench/suite/run-guest.ts): SUITE_DEVICES, SUITE_MATRIX_DEVICES, SUITE_ROUNDS,
# SUITE_SPEED_MB, SUITE_RUNTIME_S, SUITE_SPEED_DEDUPE, SUITE_SETS (space data
# sets, in order), SUITE_CELL_MB, SUITE_FILL_MB, SUITE_TREE_LIST, SUITE_VM_LIST,
# SUITE_VM_COPIES, SUITE_DEV_MB, SUITE_VDO_DIR.
set -Eeuo pipefail
cd "$(dirname "$0")/../.."
DEVICES=${SUITE_DEVICES:-brd loop zram vdo direct packed}
MATRIX_DEVICES=${SUITE_MATRIX_DEVICES-$DEVICES}
ROUNDS=${SUITE_ROUNDS:-2}
SPEED_MB=${SUITE_SPEED_MB:-64}
RUNTIME=${SUITE_RUNTIME_S:-8}
CELL_MB=${SUITE_CELL_MB:-32}
SPEED_DEDUPE=${SUITE_SPEED_DEDUPE:-45}
SETS=${SUITE_SETS-fio-d45c60 tree vm-images zero same-fill}
FILL_MB=${SUITE_FILL_MB:-32}
VM_COPIES=${SUITE_VM_COPIES:-4}
DEV_MB=${SUITE_DEV_MB:-1024}
HELPER=(node "$PWD/dist/bench/suite/guest-helper.js")
SPEED_CELL=fio-d${SPEED_DEDUPE}c60
SEQ_RUNTIME=$RUNTIME
[[ " $SETS " != *" $SPEED_CELL "* ]] || SEQ_RUNTIME=0
W=$(mktemp -d /run/bench-suite.XXXXXX)
M=$W/mnt
mkdir -p "$M" "$W/fs"
mount -t tmpfs -o size=6g bench-suite "$W/fs"
# shellcheck source=bench/suite/devices.sh
. bench/suite/devices.sh
cleanup() {
  mountpoint -q "$M" && umount "$M" || true
  dev_down_any || true
  mountpoint -q "$W/fs" && umount "$W/fs" || true
}
trap cleanup EXIT
trap 'echo "guest.sh: line $LINENO: \"$BASH_COMMAND\" failed" >&2' ERR

emit() { echo "SUITE-$1 $2"; }
# Times in µs from bash itself: a process start costs a lot under emulation.
now() { echo "${EPOCHREALTIME/./}"; }
since() { # START [END] -> seconds, two decimals
  local d=$((${2:-${EPOCHREALTIME/./}} - $1))
  printf '%d.%02d' $((d / 1000000)) $((d % 1000000 / 10000))
}
# time_line PART DEVICE SECONDS [SETUP_SECONDS [TEARDOWN_SECONDS]]: where the run's time went.
time_line() {
  local d=null
  [ -z "$2" ] || d="\"$2\""
  emit TIME "{\"part\":\"$1\",\"device\":$d,\"seconds\":$3,\"setupS\":${4:-null},\"teardownS\":${5:-null}}"
}
T0=$EPOCHSECONDS
START=$(now)
progress() { echo "guest.sh: +$((EPOCHSECONDS - T0)) s: $*" >&2; }

fio_speed() {
  taskset -c 0 bash bench/guest/fio-baseline.sh --size-mib "$SPEED_MB" --runtime "$RUNTIME" --seq-runtime "$SEQ_RUNTIME" \
    --dedupe "$SPEED_DEDUPE" --compress 60 "$@"
}

# speed_jobs ROUND DEVICE DEV WORKLOADS [fio-baseline options]: its lines as SUITE-SPEED.
speed_jobs() {
  FIO_BASELINE_PIDS="$(dev_server_pids "$2")" fio_speed --workloads "$4" "${@:5}" "$3" "$2" \
    | jq -c --argjson round "$1" '"SUITE-SPEED " + (. + {round: $round, device: .label} | tojson)' -r
}

# speed ROUND DEVICE: the three workloads on one fresh device. The sequential
# write runs alone (its CPU per GiB is the report's; in round 1 the speed
# cell's space is taken after it, and on brd the engine's ceiling is measured
# over exactly the bytes written), then both random ones in one fio process.
speed() {
  local round=$1 name=$2 dev seq cell= t0 t1 start up down
  progress "speed round $round $name"
  start=$(now)
  [ "$round" != 1 ] || [ "$SEQ_RUNTIME" != 0 ] || cell=space
  dev_up "$name" "$SPEED_MB" $cell
  # The previous device's tear-down overlapped this set-up; nothing else runs while measuring.
  reap_all
  up=$(since "$start")
  dev=$DEV
  t0=$(now)
  seq=$(speed_jobs "$round" "$name" "$dev" seqwrite-1m)
  t1=$(now)
  echo "$seq"
  if [ "$round" = 1 ]; then
    [ -z "$cell" ] || space_line "$name" "$SPEED_CELL" "$(jq .ioBytes <<<"${seq#* }")" "$(since "$t0" "$t1")"
    if [ "$name" = brd ]; then
      # On the server's vCPU, like every server.
      dd if="$dev" of="$W/fs/speed.bin" bs=1M count="$SPEED_MB" status=none
      emit CEILING "$(taskset -c 1 "${HELPER[@]}" ceiling "$W/fs/speed.bin")"
      rm -f "$W/fs/speed.bin"
    fi
  fi
  speed_jobs "$round" "$name" "$dev" randread-4k,randwrite-4k --one-fio
  local rss
  rss=$(dev_rss "$name")
  [ -n "$rss" ] && emit RSS "{\"round\":$round,\"device\":\"$name\",\"peakRssBytes\":$rss}"
  down=$(now)
  dev_down "$name"
  time_line "speed round $round" "$name" "$(since "$start")" "$up" "$(since "$down")"
}

# space_line DEVICE DATASET LOGICAL SECONDS
space_line() {
  local sp
  sp=$(dev_space "$1")
  emit SPACE "$(echo "$sp" | jq -c --arg d "$1" --arg s "$2" --argjson l "$3" --argjson t "$4" \
    '{device: $d, dataset: $s, logicalBytes: $l, seconds: $t} + .')"
}

fs_logical() { du -sB1 "$M" | cut -f1; }

# space DEVICE DATASET: one fresh device, the data set written, its space.
space() {
  local name=$1 set=$2 dev t0 d c start up down
  progress "space $set $name"
  start=$(now)
  dev_up "$name" "$DEV_MB" space
  up=$(since "$start")
  dev=$DEV
  t0=$(now)
  case "$set" in
    fio-*)
      d=${set#fio-d}; c=${d#*c}; d=${d%c*}
      taskset -c 0 fio --name=fill --filename="$dev" --ioengine=libaio --direct=1 --rw=write --bs=1M \
        --iodepth=4 --size="${CELL_MB}M" --dedupe_percentage="$d" --buffer_compress_percentage="$c" \
        --refill_buffers --end_fsync=1 --output=/dev/null
      space_line "$name" "$set" $((CELL_MB * 1048576)) "$(since "$t0")"
      ;;
    zero)
      taskset -c 0 dd if=/dev/zero of="$dev" bs=1M count="$FILL_MB" oflag=direct conv=fsync status=none
      space_line "$name" "$set" $((FILL_MB * 1048576)) "$(since "$t0")"
      ;;
    same-fill)
      taskset -c 0 dd if="$W/fs/same-fill.bin" of="$dev" bs=1M oflag=direct conv=fsync status=none
      space_line "$name" "$set" $((FILL_MB * 1048576)) "$(since "$t0")"
      ;;
    tree)
      mkfs.ext4 -q -F -b 4096 -E nodiscard "$dev"
      mount "$dev" "$M"
      for copy in a b; do
        mkdir "$M/$copy"
        taskset -c 0 tar -xf "$W/fs/tree.tar" -C "$M/$copy"
      done
      sync
      space_line "$name" tree "$(fs_logical)" "$(since "$t0")"
      rm -rf "$M/b"
      sync
      t0=$(now)
      fstrim "$M" || echo "fstrim failed on $name" >&2
      sync
      space_line "$name" tree-deleted-trimmed "$(fs_logical)" "$(since "$t0")"
      umount "$M"
      ;;
    vm-images)
      mkfs.ext4 -q -F -b 4096 -E nodiscard "$dev"
      mount "$dev" "$M"
      taskset -c 0 tar -xf "$W/fs/vm.tar" -C "$M"
      sync
      space_line "$name" vm-images "$(fs_logical)" "$(since "$t0")"
      umount "$M"
      ;;
    *) echo "unknown data set $set" >&2; exit 2 ;;
  esac
  down=$(now)
  dev_down "$name"
  time_line "space $set" "$name" "$(since "$start")" "$up" "$(since "$down")"
}

# The space data built once on the tmpfs, for the data sets that need it:
# tree.tar (the real tree's files), vm.tar (VM_COPIES copies of one tree, each
# with a different 1/16 of its files rewritten) and same-fill.bin.
prepare_data() {
  local start
  start=$(now)
  progress "prepare data"
  if [[ " $SETS " == *" tree "* ]]; then
    taskset -c 0 tar -cf "$W/fs/tree.tar" --no-recursion -T "$SUITE_TREE_LIST" 2>/dev/null
  fi
  # One node start for both helper jobs (seconds each under emulation).
  local jobs=()
  if [[ " $SETS " == *" vm-images "* ]]; then
    mkdir -p "$W/fs/vm/vm1"
    taskset -c 0 tar -cf - --no-recursion -T "$SUITE_VM_LIST" 2>/dev/null | taskset -c 0 tar -xf - -C "$W/fs/vm/vm1"
    for k in $(seq 2 "$VM_COPIES"); do cp -a "$W/fs/vm/vm1" "$W/fs/vm/vm$k"; done
    jobs+=(vm-copies "$W/fs/vm" "$VM_COPIES" 16 --)
  fi
  [[ " $SETS " != *" same-fill "* ]] || jobs+=(same-fill "$W/fs/same-fill.bin" "$FILL_MB" --)
  [ "${#jobs[@]}" = 0 ] || taskset -c 0 "${HELPER[@]}" "${jobs[@]:0:${#jobs[@]}-1}"
  if [ -d "$W/fs/vm" ]; then
    taskset -c 0 tar -cf "$W/fs/vm.tar" -C "$W/fs/vm" .
    rm -rf "$W/fs/vm"
  fi
  time_line "prepare data" "" "$(since "$start")"
}

# Starts our servers and dm-vdo among DEVICES ahead of their turn in a data set.
prestart() {
  local n
  for n in "$@"; do
    case "$n" in
      packed | direct) ublk_start "$n" "$DEV_MB" ;;
      vdo) vdo_start "$DEV_MB" ;;
    esac
  done
}

emit INFO "$(jq -cn --arg k "$(uname -r)" --argjson cpus "$(nproc)" \
  --argjson mem "$(awk '/MemTotal/ {printf "%.0f\n", $2 * 1024}' /proc/meminfo)" \
  --arg fio "$(fio --version)" '{kernel: $k, cpus: $cpus, memBytes: $mem, fio: $fio}')"

# Devices are removed in the background (dm-vdo saves its index, our servers
# flush): the next set-up overlaps it, and reap_all waits before any measurement.
ASYNC_DOWN=1
prepare_data
for round in $(seq "$ROUNDS"); do
  for name in $DEVICES; do speed "$round" "$name"; done
done
for set in $SETS; do
  # brd's figure is memory: nothing may still be freeing any.
  reap_all
  devices=$DEVICES
  if [ "$set" = "$SPEED_CELL" ]; then
    [ "$SEQ_RUNTIME" != 0 ] || continue
  elif [[ "$set" == fio-* ]]; then
    devices=$MATRIX_DEVICES
  fi
  started=
  for name in $devices; do
    # brd's space is the memory it takes: nothing else starts meanwhile.
    if [ -z "$started" ] && [ "$name" != brd ]; then
      # shellcheck disable=SC2086
      prestart $devices
      started=1
    fi
    space "$name" "$set"
  done
done
reap_all
progress done
time_line guest "" "$(since "$START")"
echo SUITE-DONE
