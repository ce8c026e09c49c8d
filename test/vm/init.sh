#!/bin/sh
# PID 1 of the vm-run guest (runs from the initramfs with static busybox).
# Mounts the host's root (virtio-fs tag "hostroot") on /mnt, gives it private
# proc/sys/dev/run (and a fresh /tmp unless told not to), bind-mounts the
# cached module tree at /lib/modules/<kver>, then chroots into it to run the
# job script that vm-run left in its run directory (vmrun.dir= on the kernel
# command line). Any failure here is written to the console with the
# "vm-run-init:" prefix, which vm-run reports. Mounts use busybox, not the
# host's binaries, so no exec crosses virtio-fs before the chroot.
bb=/bin/busybox
PATH=/bin
export PATH

fail() {
  echo "vm-run-init: $*" >/dev/console
  [ -n "$run" ] && [ -d "/mnt$run" ] && echo "$*" >"/mnt$run/harness-error"
  $bb poweroff -f
  $bb sleep 5
}

$bb mount -t proc proc /proc
$bb mount -t sysfs sys /sys
$bb mount -t devtmpfs dev /dev

run=
for w in $($bb cat /proc/cmdline); do
  case "$w" in vmrun.dir=*) run="${w#vmrun.dir=}" ;; esac
done
[ -n "$run" ] || fail "no vmrun.dir= on the kernel command line"

$bb mount -t virtiofs hostroot /mnt || fail "cannot mount the virtio-fs tag hostroot"
[ -f "/mnt$run/init.env" ] || fail "run directory $run/init.env not visible in the guest"
# KVER, MODULES (host path of the module tree), FRESH_TMP (1/0)
. "/mnt$run/init.env"

$bb mount -t proc proc /mnt/proc || fail "mount /proc in the chroot"
$bb mount -t sysfs sys /mnt/sys || fail "mount /sys in the chroot"
$bb mount -t devtmpfs dev /mnt/dev || fail "mount /dev in the chroot"
$bb mkdir -p /mnt/dev/pts /mnt/dev/shm
$bb mount -t devpts -o newinstance,ptmxmode=0666 devpts /mnt/dev/pts
$bb mount -t tmpfs -o mode=1777 shm /mnt/dev/shm
$bb mount -t tmpfs -o mode=755 run /mnt/run && $bb mkdir -p /mnt/run/lock
if [ "$FRESH_TMP" = 1 ]; then
  $bb mount -t tmpfs -o mode=1777 tmp /mnt/tmp || fail "mount a tmpfs on /tmp"
fi
if [ -n "$KVER" ]; then
  [ -d "/mnt/lib/modules/$KVER" ] || fail "no mount point /lib/modules/$KVER on the host"
  $bb mount -o bind "/mnt$MODULES" "/mnt/lib/modules/$KVER" || fail "bind-mount the module tree $MODULES"
fi
$bb ip link set lo up 2>/dev/null

$bb chroot /mnt /bin/bash "$run/job.sh" || echo "vm-run-init: job.sh exited $?" >/dev/console
$bb poweroff -f
$bb sleep 5
