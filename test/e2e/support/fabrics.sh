# Exporting a block device through the kernel's own targets and attaching it
# back with the kernel's initiators, on configfs (sourced by the export guest
# e2e and bench/export-guest.sh). docs/scale-out.md shows these same commands.
# Every function stops the caller (set -e) on the first failed step.

CFS=/sys/kernel/config

# fabrics_mount_configfs: nvmet and LIO both live under /sys/kernel/config.
fabrics_mount_configfs() {
  mountpoint -q "$CFS" || mount -t configfs configfs "$CFS"
}

# nvmet_export NQN DEVICE ADDR PORT PORTID: serve DEVICE as namespace 1 of
# subsystem NQN on NVMe/TCP ADDR:PORT (any host may connect).
nvmet_export() {
  local nqn=$1 dev=$2 addr=$3 port=$4 portid=$5
  local s=$CFS/nvmet/subsystems/$nqn p=$CFS/nvmet/ports/$portid
  mkdir "$s"
  echo 1 > "$s/attr_allow_any_host"
  mkdir "$s/namespaces/1"
  echo -n "$dev" > "$s/namespaces/1/device_path"
  echo 1 > "$s/namespaces/1/enable"
  mkdir "$p"
  echo tcp > "$p/addr_trtype"
  echo ipv4 > "$p/addr_adrfam"
  echo "$addr" > "$p/addr_traddr"
  echo "$port" > "$p/addr_trsvcid"
  ln -s "$s" "$p/subsystems/$nqn"
}

# nvmet_unexport NQN PORTID: the reverse, in reverse order.
nvmet_unexport() {
  local nqn=$1 portid=$2
  local s=$CFS/nvmet/subsystems/$nqn p=$CFS/nvmet/ports/$portid
  rm "$p/subsystems/$nqn"
  rmdir "$p"
  echo 0 > "$s/namespaces/1/enable"
  rmdir "$s/namespaces/1"
  rmdir "$s"
}

# nvme_attach NQN ADDR PORT: connects the kernel's NVMe/TCP host and prints
# the namespace's block device (/dev/nvmeXnY), found through sysfs (no udev).
nvme_attach() {
  local nqn=$1 addr=$2 port=$3 sub ns
  nvme connect -t tcp -a "$addr" -s "$port" -n "$nqn" >/dev/null
  for _ in $(seq 100); do
    for sub in /sys/class/nvme-subsystem/*; do
      [ "$(cat "$sub/subsysnqn" 2>/dev/null)" = "$nqn" ] || continue
      for ns in "$sub"/nvme*n*; do
        [ -e "$ns" ] && [ -b "/dev/${ns##*/}" ] && { echo "/dev/${ns##*/}"; return 0; }
      done
    done
    sleep 0.1
  done
  echo "nvme_attach: no namespace of $nqn appeared" >&2
  return 1
}

# nvme_detach NQN
nvme_detach() {
  nvme disconnect -n "$1" >/dev/null
}

# lio_iscsi_export IQN NAME DEVICE ADDR PORT: LIO block backstore NAME on
# DEVICE as LUN 0 of iSCSI target IQN on ADDR:PORT, open to any initiator
# (no CHAP, dynamic ACLs, writable).
lio_iscsi_export() {
  local iqn=$1 name=$2 dev=$3 addr=$4 port=$5
  local b=$CFS/target/core/iblock_0/$name t=$CFS/target/iscsi/$iqn/tpgt_1
  mkdir -p "$b"
  echo "udev_path=$dev" > "$b/control"
  echo 1 > "$b/enable"
  mkdir -p "$t/lun/lun_0"
  ln -s "$b" "$t/lun/lun_0/$name"
  mkdir "$t/np/$addr:$port"
  echo 0 > "$t/attrib/authentication"
  echo 1 > "$t/attrib/generate_node_acls"
  echo 0 > "$t/attrib/demo_mode_write_protect"
  echo 1 > "$t/enable"
}

# lio_iscsi_unexport IQN NAME ADDR PORT
lio_iscsi_unexport() {
  local iqn=$1 name=$2 addr=$3 port=$4
  local b=$CFS/target/core/iblock_0/$name t=$CFS/target/iscsi/$iqn/tpgt_1
  echo 0 > "$t/enable"
  rmdir "$t/np/$addr:$port"
  rm "$t/lun/lun_0/$name"
  rmdir "$t/lun/lun_0"
  rmdir "$t"
  rmdir "$CFS/target/iscsi/$iqn"
  rmdir "$b"
}

# iscsi_attach IQN ADDR PORT: discovery + login with open-iscsi (iscsid must
# run), prints the SCSI disk (/dev/sdX) of the new session, found through sysfs.
iscsi_attach() {
  local iqn=$1 addr=$2 port=$3 s blk
  iscsiadm -m discovery -t sendtargets -p "$addr:$port" >/dev/null
  iscsiadm -m node -T "$iqn" -p "$addr:$port" --login >/dev/null
  for _ in $(seq 100); do
    for s in /sys/class/iscsi_session/session*; do
      [ "$(cat "$s/targetname" 2>/dev/null)" = "$iqn" ] || continue
      for blk in "$s"/device/target*/*/block/*; do
        [ -e "$blk" ] && [ -b "/dev/${blk##*/}" ] && { echo "/dev/${blk##*/}"; return 0; }
      done
    done
    sleep 0.1
  done
  echo "iscsi_attach: no disk of $iqn appeared" >&2
  return 1
}

# iscsi_detach IQN ADDR PORT: logout and forget the node record.
iscsi_detach() {
  local iqn=$1 addr=$2 port=$3
  iscsiadm -m node -T "$iqn" -p "$addr:$port" --logout >/dev/null
  iscsiadm -m node -T "$iqn" -p "$addr:$port" -o delete >/dev/null
}
