# Sourced by bench/suite/guest.sh: set-up, space and tear-down of the six
# devices. One device at a time; dev_up sets DEV. Needs W (a work dir with a
# tmpfs at $W/fs) and SUITE_VDO_DIR (bench/guest/vdo-tools.sh's cache).
#   dev_up NAME SIZE_MIB    packed | direct | zram | vdo | loop | brd
#   dev_space NAME          {"physicalBytes","dataBytes",...} of the device now
#   dev_server_pids NAME    pids whose CPU is the device's server (empty: in-kernel only)
#   dev_rss NAME            our daemon's peak RSS in bytes (empty for others)
#   dev_down NAME
CLI=(node "$PWD/bin/ublk-compress.js")
DEV= UBLK_ID= UBLK_PID= VDO_LOOP= BRD_FREE0= CUR=
VDO_BLOCKS=1310720 # 5 GiB sparse backing file: the index and metadata reserve fit

vdo_tool() { bash bench/guest/vdo-run.sh "$SUITE_VDO_DIR" "$@"; }
alloc_bytes() { du -sB1 "$@" | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
mem_free() { sync; echo 3 >/proc/sys/vm/drop_caches; awk '/MemFree/ {printf "%.0f\n", $2 * 1024}' /proc/meminfo; }

ublk_up() { # LAYOUT FILE SIZE
  local args=(add --backing "$W/fs/$2" --size "$3M" --log "$W/$2.log")
  [ "$1" = direct ] && args+=(--layout direct)
  DEV=$(taskset -c 1 "${CLI[@]}" "${args[@]}" 2>/dev/null)
  UBLK_ID=${DEV#/dev/ublkb}
  UBLK_PID=$(jq .pid "/run/ublk-compress/$UBLK_ID.json")
}

dev_up() {
  local name=$1 size=$2
  CUR=$name
  case "$name" in
    packed) ublk_up packed pool.img "$size" ;;
    direct) ublk_up direct direct.img "$size" ;;
    zram) DEV=$(bash bench/guest/baseline-dev.sh zram "$size") ;;
    loop) DEV=$(bash bench/guest/baseline-dev.sh loop "$size") ;;
    brd)
      BRD_FREE0=$(mem_free)
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
      "${CLI[@]}" del -n "$UBLK_ID" >/dev/null 2>&1
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
