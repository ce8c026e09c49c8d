#!/usr/bin/env bash
# Installs what a fresh machine lacks before the tests run: npm packages, the
# Debian packages the guest harness and e2e tests use, and the guest kernel.
# Idempotent and quiet when everything is already there.
set -euo pipefail
cd "$(dirname "$0")/.."

# Debian packages: the addon's codec libraries (liblz4, libxxhash: headers
# and the shared libraries it links), the guest harness (qemu, virtiofsd from
# qemu-system-common, busybox, cpio, xz, zstd, the archive keyring for the
# backports kernel, kmod), the e2e tools that run inside the guest from the host root
# (nvme-cli and open-iscsi: the kernel's NVMe/TCP and iSCSI initiators' tools; jq),
# python3 (the sd_notify test's datagram receiver), systemd (systemd-analyze verify) and
# groff-base (the man page test formats ublk-compress.8).
DEB_PACKAGES=(liblz4-dev libxxhash-dev qemu-system-x86 qemu-system-common busybox-static cpio xz-utils zstd kmod e2fsprogs fio util-linux
  debian-archive-keyring python3 systemd groff-base xfsprogs nvme-cli open-iscsi jq)
# The benchmarks (bench/): dm-vdo's tables (dmsetup).
DEB_PACKAGES+=(dmsetup)
missing=()
for p in "${DEB_PACKAGES[@]}"; do
  dpkg-query -W -f='${Status}' "$p" 2>/dev/null | grep -q "install ok installed" || missing+=("$p")
done
if [ "${#missing[@]}" -gt 0 ]; then
  if [ "$(id -u)" != 0 ]; then
    echo "setup: missing Debian packages (${missing[*]}); run as root or install them" >&2
    exit 1
  fi
  echo "setup: installing Debian packages: ${missing[*]}"
  export DEBIAN_FRONTEND=noninteractive
  apt-get update -qq
  apt-get install -y -qq --no-install-recommends "${missing[@]}" >/dev/null
fi

# After the Debian packages: `npm ci` builds the addon, which needs liblz4's
# and libxxhash's headers.
if [ ! -d node_modules/vitest ] || [ ! -d node_modules/classic-level ] || [ ! -d node_modules/prom-client ]; then
  echo "setup: installing npm packages"
  npm ci --no-audit --no-fund
fi

# The guest kernels, cached: bookworm-backports 6.12 (every guest test) and
# the newest trixie-backports one (the kernel matrix test), resolved by name
# now. A failure on the second is left to that test, which fails with the reason.
if [ -x test/vm/prepare.sh ]; then
  bash test/vm/prepare.sh
  bash test/vm/prepare.sh --kernel new || echo "setup: the newer guest kernel is not ready; kernel-matrix-guest will fail" >&2
fi

# dm-vdo's user space for the benchmark report (trixie's, private sources list), cached.
if [ -x bench/guest/vdo-tools.sh ] && [ "$(id -u)" = 0 ]; then
  bash bench/guest/vdo-tools.sh >/dev/null
fi
