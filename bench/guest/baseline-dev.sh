#!/usr/bin/env bash
# Kernel block devices to compare ublk-compress against, inside the guest
# (needs root and the guest's module tree, which vm-run bind-mounts).
#
#   baseline-dev.sh loop SIZE_MIB    loop device over a file on its own tmpfs
#   baseline-dev.sh zram SIZE_MIB    zram with lz4 (modprobe zram, hot_add)
#   baseline-dev.sh brd SIZE_MIB     brd RAM disk /dev/ram0 (the ceiling)
#   baseline-dev.sh remove DEVICE    undo any of the above
#   baseline-dev.sh zram-stats DEV   one JSON line from mm_stat:
#                                    {"origBytes","comprBytes","memUsedBytes","ratio"}
# The set-up commands print the device path on stdout.
set -euo pipefail
die() { echo "baseline-dev: $*" >&2; exit 2; }
[ "$(id -u)" = 0 ] || die "needs root"
state=/run/ublk-baseline
mkdir -p "$state"

size_arg() {
  [[ "${1:-}" =~ ^[0-9]+$ ]] && [ "$1" -gt 0 ] || die "SIZE_MIB must be a positive integer"
  echo "$1"
}

case "${1:-}" in
  loop)
    size=$(size_arg "${2:-}")
    modprobe loop 2>/dev/null || true
    dir=$(mktemp -d "$state/loop.XXXXXX")
    # Own tmpfs: independent of whether /tmp is the guest's tmpfs or the host's disk.
    mount -t tmpfs -o "size=$((size + 16))m" ublk-baseline "$dir"
    truncate -s "${size}M" "$dir/backing.img"
    dev=$(losetup -f --show "$dir/backing.img") || { umount "$dir"; rmdir "$dir"; die "losetup failed"; }
    echo "$dir" >"$state/${dev##*/}"
    echo "$dev"
    ;;
  zram)
    size=$(size_arg "${2:-}")
    [ -e /sys/class/zram-control ] || modprobe zram num_devices=0 || die "modprobe zram failed"
    id=$(cat /sys/class/zram-control/hot_add)
    echo lz4 >"/sys/block/zram$id/comp_algorithm" || die "zram: lz4 not available"
    echo "${size}M" >"/sys/block/zram$id/disksize"
    for _ in $(seq 50); do [ -b "/dev/zram$id" ] && break; sleep 0.1; done
    [ -b "/dev/zram$id" ] || die "/dev/zram$id did not appear"
    echo "/dev/zram$id"
    ;;
  brd)
    size=$(size_arg "${2:-}")
    [ ! -e /sys/module/brd ] || die "brd is already loaded (remove /dev/ram0 first)"
    modprobe brd rd_nr=1 "rd_size=$((size * 1024))" max_part=0 || die "modprobe brd failed"
    for _ in $(seq 50); do [ -b /dev/ram0 ] && break; sleep 0.1; done
    [ -b /dev/ram0 ] || die "/dev/ram0 did not appear"
    echo /dev/ram0
    ;;
  remove)
    dev=${2:?DEVICE}
    name=${dev##*/}
    case "$name" in
      loop*)
        losetup -d "$dev"
        if [ -f "$state/$name" ]; then
          dir=$(cat "$state/$name")
          umount "$dir" && rmdir "$dir" && rm -f "$state/$name"
        fi
        ;;
      zram*)
        echo 1 >"/sys/block/$name/reset"
        echo "${name#zram}" >/sys/class/zram-control/hot_remove
        ;;
      ram0) rmmod brd ;;
      *) die "not a baseline device: $dev" ;;
    esac
    ;;
  zram-stats)
    name=${2:?DEVICE}
    name=${name##*/}
    # mm_stat: orig_data_size compr_data_size mem_used_total mem_limit
    #          mem_used_max same_pages pages_compacted huge_pages
    read -r orig compr used _ <"/sys/block/$name/mm_stat"
    awk -v o="$orig" -v c="$compr" -v u="$used" 'BEGIN {
      printf "{\"origBytes\":%d,\"comprBytes\":%d,\"memUsedBytes\":%d,\"ratio\":%.2f}\n", o, c, u, (c > 0 ? o / c : 0)
    }'
    ;;
  *) sed -n '2,12p' "$0" | sed 's/^# \{0,1\}//' >&2; exit 2 ;;
esac
