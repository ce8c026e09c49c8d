# Sourced by bench/suite/guest.sh: set-up, space and tear-down of the six
# devices. One device measured at a time; dev_up sets DEV. Needs W (a work dir
# with a tmpfs at $W/fs) and SUITE_VDO_DIR (bench/guest/vdo-tools.sh's cache).
#   dev_up NAME SIZE_MIB [space]
#                           packed | direct | zram | vdo | loop | brd; "space": dev_space follows
#   ublk_start NAME SIZE_MIB
#                           packed | direct: start its server ahead of its turn (dev_up then waits for it)
#   vdo_start SIZE_MIB      the same for dm-vdo (formatted and created in the background)
#   reap_all                wait for the devices removed in the background (dev_down with ASYNC_DOWN=1)
#   dev_space NAME          {"physicalBytes","dataBytes",...} of the device now
#   dev_server_pids NAME    pids whose CPU is the device's server (empty: in-kernel only)
#   dev_rss NAME            our daemon's peak RSS in bytes (empty for others)
#   dev_down NAME
DEV= VDO_LOOP= BRD_MEM0= CUR=
# Our servers by layout (packed | direct): pid, while it runs.
declare -A UPID=()
VDO_BLOCKS=1310720 # 5 GiB sparse backing file: the index and metadata reserve fit

vdo_tool() { bash bench/guest/vdo-run.sh "$SUITE_VDO_DIR" "$@"; }
alloc_bytes() { du -sB1 "$@" | awk '{ s += $1 } END { printf "%.0f\n", s }'; }
# Guest memory that no /proc/meminfo counter accounts for, in bytes: MemTotal
# less free, page cache, anonymous, slab, kernel stack, page table, per-cpu and
# vmalloc memory. brd's pages are in none of them, so its growth around a fill
# is what brd took; nothing is dropped from the page cache (which would make
# the next node start re-read the shared root under emulation).
mem_unaccounted() {
  sync
  awk '/^MemTotal:/ { m += $2 }
    /^(MemFree|Buffers|Cached|SwapCached|AnonPages|Slab|KernelStack|PageTables|SecPageTables|Percpu|VmallocUsed):/ { m -= $2 }
    END { printf "%.0f\n", m * 1024 }' /proc/meminfo
}
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

# ublk_start only launches it (the space part starts it while other devices
# fill); ublk_ready waits for the device and sets DEV. ublk_stop sends SIGTERM,
# ublk_reap waits for every stopped server and removes its files. Each start
# has its own files ($W/uN.*, $W/fs/NAME-N.img), so a server can start while
# the previous one of its layout still stops.
USEQ=0
declare -A UCUR=()   # layout -> N of its running server
declare -A USTOP=()  # pid -> N of a server stopping
ublk_img() { echo "$W/fs/$1-${UCUR[$1]}.img"; } # LAYOUT: the running server's backing file

ublk_start() { # LAYOUT SIZE_MIB
  local n=$((++USEQ)) flags=()
  local args=(add --foreground --backing "$W/fs/$1-$n.img" --size "$2M" --log "$W/u$n.log")
  [ "$1" = direct ] && args+=(--layout direct)
  : >"$W/u$n.dev"
  daemon_flags
  [ "$DAEMON_FLAGS" = - ] || read -ra flags <<<"$DAEMON_FLAGS"
  taskset -c 1 node "${flags[@]}" "$PWD/bin/ublk-compress.js" "${args[@]}" >"$W/u$n.dev" 2>"$W/u$n.err" &
  UPID[$1]=$!
  UCUR[$1]=$n
}

ublk_ready() { # LAYOUT
  local n=${UCUR[$1]}
  until [ -s "$W/u$n.dev" ]; do
    kill -0 "${UPID[$1]}" 2>/dev/null || { echo "$1: add failed: $(cat "$W/u$n.err")" >&2; unset "UPID[$1]"; return 1; }
    sleep 0.1
  done
  read -r DEV <"$W/u$n.dev"
}

ublk_stop() { # LAYOUT
  local pid=${UPID[$1]:-}
  [ -n "$pid" ] || return 0
  kill -TERM "$pid"
  USTOP[$pid]=${UCUR[$1]}
  unset "UPID[$1]"
}

# The devices our running servers serve (an id freed by a stopped server may be one of them).
ublk_serving() {
  local l
  for l in "${!UPID[@]}"; do head -n 1 "$W/u${UCUR[$l]}.dev"; done
}

ublk_reap() {
  local rc=0 pid n dev r
  for pid in "${!USTOP[@]}"; do
    n=${USTOP[$pid]} r=0
    wait "$pid" || r=$?
    [ "$r" = 0 ] || { echo "ublk server $pid exited with $r: $(cat "$W/u$n.err")" >&2; rc=1; }
    dev=$(head -n 1 "$W/u$n.dev")
    if [ -n "$dev" ] && [ -e "$dev" ] && ! ublk_serving | grep -qx "$dev"; then
      echo "$dev still exists after its server stopped" >&2
      rc=1
    fi
    rm -rf "$W"/fs/*-"$n".img "$W"/fs/*-"$n".img.meta
    unset "USTOP[$pid]"
  done
  return "$rc"
}

# Waits for every device stopped in the background (dev_down with ASYNC_DOWN=1).
reap_all() {
  local rc=0
  ublk_reap || rc=1
  vdo_reap || rc=1
  return "$rc"
}

# dm-vdo over a loop device on a sparse file: vdo_start formats and creates it
# in the background (the space part starts it while other devices fill),
# vdo_ready waits for it and sets DEV; vdo_stop removes it in the background
# (its index is saved at removal), vdo_reap waits for that.
VDO_JOB= VDO_DOWN_JOB=
vdo_start() { # SIZE_MIB
  vdo_reap
  : >"$W/vdo.loop"
  (
    taskset -pc 1 "$BASHPID" >/dev/null
    truncate -s $((VDO_BLOCKS * 4096)) "$W/fs/vdo.img"
    loop=$(losetup -f --show "$W/fs/vdo.img") || { echo "vdo: losetup failed" >&2; exit 1; }
    echo "$loop" >"$W/vdo.loop"
    vdo_tool vdoformat --force --logical-size="${1}M" --slab-bits=15 --uds-memory-size=0.25 "$loop" >/dev/null \
      || { echo "vdo: vdoformat failed" >&2; exit 1; }
    dmsetup create --noudevsync suite-vdo --table \
      "0 $(($1 * 2048)) vdo V4 $loop $VDO_BLOCKS 4096 32768 16380 compression on deduplication on" \
      || { echo "vdo: dmsetup create failed" >&2; exit 1; }
    dmsetup mknodes suite-vdo
  ) &
  VDO_JOB=$!
}

vdo_ready() {
  local rc=0 p
  wait "$VDO_JOB" || rc=$?
  VDO_JOB=
  VDO_LOOP=$(cat "$W/vdo.loop")
  [ "$rc" = 0 ] || return 1
  DEV=/dev/mapper/suite-vdo
  # Its worker threads are the server: onto vCPU 1 like the user-space ones.
  for p in $(pgrep '^vdo[0-9]'); do taskset -pc 1 "$p" >/dev/null 2>&1 || true; done
}

vdo_stop() {
  local loop=$VDO_LOOP
  (
    rc=0
    [ ! -e /dev/mapper/suite-vdo ] || dmsetup remove suite-vdo || rc=1
    [ -z "$loop" ] || losetup -d "$loop" || rc=1
    rm -f "$W/fs/vdo.img"
    exit "$rc"
  ) &
  VDO_DOWN_JOB=$!
  VDO_LOOP=
}

vdo_reap() {
  local rc=0
  [ -n "$VDO_DOWN_JOB" ] || return 0
  wait "$VDO_DOWN_JOB" || rc=$?
  VDO_DOWN_JOB=
  [ "$rc" = 0 ] || echo "vdo: removal failed" >&2
  return "$rc"
}

dev_up() {
  local name=$1 size=$2 space=${3:-}
  CUR=$name
  case "$name" in
    packed | direct)
      [ -n "${UPID[$name]:-}" ] || ublk_start "$name" "$size"
      ublk_ready "$name"
      ;;
    zram) DEV=$(bash bench/guest/baseline-dev.sh zram "$size") ;;
    loop) DEV=$(bash bench/guest/baseline-dev.sh loop "$size") ;;
    brd)
      if [ -n "$space" ]; then
        reap_all # nothing may still be freeing memory
        BRD_MEM0=$(mem_unaccounted)
      fi
      DEV=$(bash bench/guest/baseline-dev.sh brd "$size")
      ;;
    vdo)
      [ -n "$VDO_JOB" ] || vdo_start "$size"
      vdo_ready
      ;;
    *) echo "unknown device $name" >&2; return 2 ;;
  esac
  [ -b "$DEV" ] || { echo "$name: $DEV is not a block device" >&2; return 1; }
}

dev_server_pids() {
  case "$1" in
    packed | direct) echo "${UPID[$1]}" ;;
    vdo) pgrep '^vdo[0-9]' | tr '\n' ' ' ;;
    *) echo ;;
  esac
}

dev_rss() {
  case "$1" in
    packed | direct) awk '/VmHWM/ {printf "%.0f\n", $2 * 1024}' "/proc/${UPID[$1]}/status" ;;
    *) echo ;;
  esac
}

dev_space() {
  local name=$1 p d
  sync
  case "$name" in
    packed)
      # Pool file + LevelDB directory as allocated on the tmpfs.
      p=$(alloc_bytes "$(ublk_img packed)") d=$(alloc_bytes "$(ublk_img packed).meta")
      echo "{\"physicalBytes\":$((p + d)),\"dataBytes\":$p,\"metaBytes\":$d}"
      ;;
    direct | loop)
      [ "$name" = direct ] && p=$(alloc_bytes "$(ublk_img direct)") || p=$(alloc_bytes "$(cat "/run/ublk-baseline/${DEV##*/}")/backing.img")
      echo "{\"physicalBytes\":$p,\"dataBytes\":$p}"
      ;;
    zram)
      read -r _ compr used _ <"/sys/block/${DEV##*/}/mm_stat"
      echo "{\"physicalBytes\":$used,\"dataBytes\":$compr}"
      ;;
    brd)
      p=$(($(mem_unaccounted) - BRD_MEM0))
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
      ublk_stop "$1"
      [ -n "${ASYNC_DOWN:-}" ] || ublk_reap
      ;;
    zram | loop | brd) bash bench/guest/baseline-dev.sh remove "$DEV" ;;
    vdo)
      vdo_stop
      [ -n "${ASYNC_DOWN:-}" ] || vdo_reap
      ;;
  esac
  CUR= DEV=
}

# The current device and any server started ahead of its turn.
dev_down_any() {
  local n rc=0
  [ -z "$CUR" ] || dev_down "$CUR" || rc=1
  for n in "${!UPID[@]}"; do ublk_stop "$n"; done
  ublk_reap || rc=1
  if [ -n "$VDO_JOB" ]; then
    wait "$VDO_JOB" || true
    VDO_JOB= VDO_LOOP=$(cat "$W/vdo.loop")
    vdo_stop
  fi
  vdo_reap || rc=1
  return "$rc"
}
