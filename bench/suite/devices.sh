# Sourced by bench/suite/guest.sh: set-up, space and tear-down of the six
# devices. One device at a time; dev_up sets DEV. Needs W (a work dir with a
# tmpfs at $W/fs) and SUITE_VDO_DIR (bench/guest/vdo-tools.sh's cache).
#   dev_up NAME SIZE_MIB [space]
#                           packed | direct | zram | vdo | loop | brd; "space": dev_space follows
#   dev_space NAME          {"physicalBytes","dataBytes",...} of the device now
#   dev_server_pids NAME    pids whose CPU is the device's server (empty: in-kernel only)
#   dev_rss NAME            our daemon's peak RSS in bytes (empty for others)
#   dev_down NAME
DEV= UBLK_PID= UBLK_ERR= VDO_LOOP= BRD_FREE0= CUR=
VDO_BLOCKS=1310720 # 5 GiB sparse backing file: the index and metadata reserve fit

vdo_tool() { bash bench/guest/vdo-run.sh "$SUITE_VDO_DIR" "$@"; }
alloc_bytes() { du -sB1 "$@" | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
mem_free() { sync; echo 3 >/proc/sys/vm/drop_caches; awk '/MemFree/ {printf "%.0f\n", $2 * 1024}' /proc/meminfo; }

# The server runs as `add --foreground` (what `add` spawns as its daemon),
# started here: one node start per device instead of three (add, its daemon,
# del), which under emulation is most of a small data set's time. It prints
# /dev/ublkbN once the device is usable; SIGTERM flushes, stops and deletes it.
# The node flags `add` gives the daemon it spawns on vCPU 1 alone
# (src/cli/daemon-flags.ts): a foreground server takes them only on its own
# command line. Asked once per boot, under the same pinning.
DAEMON_FLAGS=
daemon_flags() { # sets DAEMON_FLAGS once ("-": none)
  [ -n "$DAEMON_FLAGS" ] || DAEMON_FLAGS="$(taskset -c 1 node --input-type=module -e \
    "import { daemonNodeFlags } from '$PWD/dist/src/cli/daemon-flags.js'; console.log(daemonNodeFlags().join(' ') || '-')")"
}

ublk_up() { # LAYOUT FILE SIZE
  local args=(add --foreground --backing "$W/fs/$2" --size "$3M" --log "$W/$2.log") out=$W/$2.dev flags
  [ "$1" = direct ] && args+=(--layout direct)
  UBLK_ERR=$W/$2.err
  : >"$out"
  daemon_flags
  flags=()
  [ "$DAEMON_FLAGS" = - ] || read -ra flags <<<"$DAEMON_FLAGS"
  taskset -c 1 node "${flags[@]}" "$PWD/bin/ublk-compress.js" "${args[@]}" >"$out" 2>"$UBLK_ERR" &
  UBLK_PID=$!
  until [ -s "$out" ]; do
    kill -0 "$UBLK_PID" 2>/dev/null || { echo "$1: add failed: $(cat "$UBLK_ERR")" >&2; UBLK_PID=; return 1; }
    sleep 0.1
  done
  read -r DEV <"$out"
}

ublk_down() {
  local rc=0
  [ -n "$UBLK_PID" ] || return 0
  kill -TERM "$UBLK_PID"
  wait "$UBLK_PID" || rc=$?
  [ "$rc" = 0 ] || echo "ublk server $UBLK_PID exited with $rc: $(cat "$UBLK_ERR")" >&2
  [ ! -e "$DEV" ] || { echo "$DEV still exists after its server stopped" >&2; rc=1; }
  UBLK_PID=
  return "$rc"
}

dev_up() {
  local name=$1 size=$2 space=${3:-}
  CUR=$name
  case "$name" in
    packed) ublk_up packed pool.img "$size" ;;
    direct) ublk_up direct direct.img "$size" ;;
    zram) DEV=$(bash bench/guest/baseline-dev.sh zram "$size") ;;
    loop) DEV=$(bash bench/guest/baseline-dev.sh loop "$size") ;;
    brd)
      # Dropping the caches makes the next node start read from virtio-fs again: only when needed.
      [ -z "$space" ] || BRD_FREE0=$(mem_free)
      DEV=$(bash bench/guest/baseline-dev.sh brd "$size")
      ;;
    vdo)
      truncate -s $((VDO_BLOCKS * 4096)) "$W/fs/vdo.img"
      VDO_LOOP=$(losetup -f --show "$W/fs/vdo.img") || { echo "vdo: losetup failed" >&2; return 1; }
      vdo_tool vdoformat --force --logical-size="${size}M" --slab-bits=15 --uds-memory-size=0.25 "$VDO_LOOP" >/dev/null \
        || { echo "vdo: vdoformat failed" >&2; return 1; }
      dmsetup create --noudevsync suite-vdo --table \
        "0 $((size * 2048)) vdo V4 $VDO_LOOP $VDO_BLOCKS 4096 32768 16380 compression on deduplication on" \
        || { echo "vdo: dmsetup create failed" >&2; return 1; }
      dmsetup mknodes suite-vdo
      DEV=/dev/mapper/suite-vdo
      # Its worker threads are the server: onto vCPU 1 like the user-space ones.
      local p
      for p in $(pgrep '^vdo[0-9]'); do taskset -pc 1 "$p" >/dev/null 2>&1 || true; done
      ;;
    *) echo "unknown device $name" >&2; return 2 ;;
  esac
  [ -b "$DEV" ] || { echo "$name: $DEV is not a block device" >&2; return 1; }
}

dev_server_pids() {
  case "$1" in
    packed | direct) echo "$UBLK_PID" ;;
    vdo) pgrep '^vdo[0-9]' | tr '\n' ' ' ;;
    *) echo ;;
  esac
}

dev_rss() {
  case "$1" in
    packed | direct) awk '/VmHWM/ {printf "%.0f\n", $2 * 1024}' "/proc/$UBLK_PID/status" ;;
    *) echo ;;
  esac
}

dev_space() {
  local name=$1 p d
  sync
  case "$name" in
    packed)
      # Pool file + LevelDB directory as allocated on the tmpfs.
      p=$(alloc_bytes "$W/fs/pool.img") d=$(alloc_bytes "$W/fs/pool.img.meta")
      echo "{\"physicalBytes\":$((p + d)),\"dataBytes\":$p,\"metaBytes\":$d}"
      ;;
    direct | loop)
      [ "$name" = direct ] && p=$(alloc_bytes "$W/fs/direct.img") || p=$(alloc_bytes "$(cat "/run/ublk-baseline/${DEV##*/}")/backing.img")
      echo "{\"physicalBytes\":$p,\"dataBytes\":$p}"
      ;;
    zram)
      read -r _ compr used _ <"/sys/block/${DEV##*/}/mm_stat"
      echo "{\"physicalBytes\":$used,\"dataBytes\":$compr}"
      ;;
    brd)
      p=$((BRD_FREE0 - $(mem_free)))
      [ "$p" -ge 0 ] || p=0
      echo "{\"physicalBytes\":$p,\"dataBytes\":$p}"
      ;;
    vdo)
      # vdostats: data blocks in use; its index and metadata: what the backing
      # file really has allocated beyond the data blocks.
      local st used over
      st=$(vdo_tool vdostats --verbose suite-vdo)
      used=$(echo "$st" | awk -F: '/^ *data blocks used/ {gsub(/ /, "", $2); print $2}')
      over=$(echo "$st" | awk -F: '/^ *overhead blocks used/ {gsub(/ /, "", $2); print $2}')
      p=$(alloc_bytes "$W/fs/vdo.img")
      echo "{\"physicalBytes\":$p,\"dataBytes\":$((used * 4096)),\"vdoDataBlocks\":$used,\"vdoOverheadBlocks\":$over}"
      ;;
  esac
}

dev_down() {
  case "$1" in
    packed | direct)
      ublk_down
      rm -rf "$W/fs/pool.img" "$W/fs/pool.img.meta" "$W/fs/direct.img"
      ;;
    zram | loop | brd) bash bench/guest/baseline-dev.sh remove "$DEV" ;;
    vdo)
      dmsetup remove suite-vdo
      losetup -d "$VDO_LOOP"
      rm -f "$W/fs/vdo.img"
      ;;
  esac
  CUR= DEV=
}

dev_down_any() { [ -z "$CUR" ] || dev_down "$CUR"; }
