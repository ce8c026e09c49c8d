#!/usr/bin/env bash
# Fetches and caches what the QEMU guest needs: Debian's bookworm-backports
# cloud kernel (6.12, which has ublk_drv) with its module tree, and a tiny
# busybox initramfs whose /init is test/vm/init.sh. Idempotent, quiet when
# cached, serialized with flock. The system's apt configuration is untouched:
# the kernel .deb comes through a private sources list and state directory.
#
# Environment:
#   UBLK_VM_CACHE  cache directory (default <repo>/.cache/vm)
#   UBLK_VM_KPKG   kernel package to use (default: what linux-image-cloud-amd64
#                  depends on in bookworm-backports)
#   UBLK_VM_DEB    a local kernel .deb to use instead of downloading
# Prints the cache's kernel.env path on success with --print-env.
set -euo pipefail

here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
# Resolved: kernel.env's paths are used by the guest's initramfs (see vm-run).
cache="$(realpath -m -- "${UBLK_VM_CACHE:-$repo/.cache/vm}")"

die() { echo "prepare.sh: $*" >&2; exit 1; }
need() { command -v "$1" >/dev/null 2>&1 || die "missing '$1' (Debian package $2); run scripts/setup.sh"; }

need flock util-linux
need dpkg-deb dpkg
need depmod kmod
need cpio cpio
need gzip gzip
need zstd zstd
[ -x /bin/busybox ] || die "missing /bin/busybox (Debian package busybox-static); run scripts/setup.sh"

mkdir -p "$cache" || die "cannot create cache dir $cache"
exec 9>"$cache/.lock"
flock -w 600 9 || die "timed out waiting for the cache lock $cache/.lock"

# --- kernel + modules -------------------------------------------------------
# kernel.env is written last, so its presence means the kernel cache is whole.
fetch_kernel() {
  local apt="$cache/apt" deb kpkg mirror
  local -a opts
  mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/cache"
  if [ -n "${UBLK_VM_DEB:-}" ]; then
    deb="$UBLK_VM_DEB"
    [ -f "$deb" ] || die "UBLK_VM_DEB=$deb does not exist"
  else
    need apt-get apt
    [ -f /usr/share/keyrings/debian-archive-keyring.gpg ] \
      || die "missing /usr/share/keyrings/debian-archive-keyring.gpg (Debian package debian-archive-keyring)"
    # Use the mirror the machine's apt already uses (the only reachable one).
    mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' \
      /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
    [ -n "$mirror" ] || mirror=$(awk '$1=="deb" && $0 ~ /bookworm[ \t]/ {for(i=2;i<=NF;i++) if ($i ~ /^https?:/) {print $i; exit}}' \
      /etc/apt/sources.list 2>/dev/null | head -n1)
    [ -n "$mirror" ] || mirror=http://deb.debian.org/debian
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror bookworm-backports main" \
      >"$apt/sources.list"
    opts=(-q -o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
      -o "Dir::Cache::Archives=$apt/archives" -o Dir::Etc::preferencesparts=/dev/null
      -o APT::Sandbox::User=root)
    echo "prepare.sh: fetching the guest kernel from $mirror bookworm-backports" >&2
    apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 \
      || die "apt-get update of bookworm-backports failed: $(grep -E '^(E|W):' "$apt/update.log" | head -n1)"
    kpkg="${UBLK_VM_KPKG:-}"
    if [ -z "$kpkg" ]; then
      kpkg=$(apt-cache "${opts[@]}" depends linux-image-cloud-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-6\.[0-9.]*+deb12-cloud-amd64\)$/\1/p' | head -n1)
      [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 in bookworm-backports"
    fi
    rm -f "$apt"/*.deb
    (cd "$apt" && apt-get "${opts[@]}" download "$kpkg" >"$apt/download.log" 2>&1) \
      || die "apt-get download $kpkg failed: $(grep -E '^(E|W):' "$apt/download.log" | head -n1)"
    deb=$(ls "$apt"/*.deb 2>/dev/null | head -n1)
    [ -n "$deb" ] || die "apt-get download $kpkg produced no .deb"
  fi

  local tmp="$cache/kernel.tmp"
  rm -rf "$tmp" && mkdir -p "$tmp"
  dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
  local vmlinuz kver
  vmlinuz=$(ls "$tmp"/root/boot/vmlinuz-* 2>/dev/null | head -n1)
  [ -n "$vmlinuz" ] || die "$deb has no /boot/vmlinuz-*"
  kver="${vmlinuz##*/vmlinuz-}"
  local mods="$tmp/root/lib/modules/$kver"
  [ -d "$mods" ] || mods="$tmp/root/usr/lib/modules/$kver"
  [ -d "$mods" ] || die "$deb has no module tree for $kver"
  grep -q '^CONFIG_BLK_DEV_UBLK=[ym]' "$tmp/root/boot/config-$kver" \
    || die "kernel $kver has no CONFIG_BLK_DEV_UBLK"
  # The .deb ships no modules.dep (Debian's postinst makes it).
  depmod -b "$tmp/root" "$kver" 2>"$tmp/depmod.log" || depmod -b "$tmp/root/usr" "$kver" 2>>"$tmp/depmod.log" \
    || die "depmod for $kver failed: $(head -n1 "$tmp/depmod.log")"
  [ -s "$mods/modules.dep" ] || die "depmod for $kver wrote no modules.dep"

  # The ELF vmlinux inside the zstd bzImage boots through PVH and skips the
  # in-guest decompression, which is slow under TCG. Fall back to the bzImage.
  local kernel_file="$vmlinuz" off
  off=$(LC_ALL=C grep -aboP '\x28\xb5\x2f\xfd' "$vmlinuz" 2>/dev/null | head -n1 | cut -d: -f1 || true)
  if [ -n "$off" ]; then
    # zstd complains about the bytes after the frame; the ELF check decides.
    tail -c +"$((off + 1))" "$vmlinuz" | zstd -dcq >"$tmp/vmlinux" 2>/dev/null || true
    if [ "$(head -c 4 "$tmp/vmlinux" | od -An -tx1 | tr -d ' ')" = 7f454c46 ]; then kernel_file="$tmp/vmlinux"; fi
  fi
  [ "$kernel_file" = "$tmp/vmlinux" ] || rm -f "$tmp/vmlinux"

  rm -rf "$cache/kernel"
  mv "$tmp" "$cache/kernel"
  kernel_file="${kernel_file/$tmp/$cache/kernel}"
  mods="${mods/$tmp/$cache/kernel}"
  {
    printf 'KVER=%q\n' "$kver"
    printf 'KERNEL=%q\n' "$kernel_file"
    printf 'MODULES=%q\n' "$mods"
  } >"$cache/kernel.env.tmp"
  mv "$cache/kernel.env.tmp" "$cache/kernel.env"
  rm -f "$cache"/apt/*.deb
  echo "prepare.sh: cached kernel $kver ($(du -sh "$cache/kernel" | cut -f1))" >&2
}

# --- initramfs ---------------------------------------------------------------
# Rebuilt whenever init.sh or busybox changes (the stamp holds their hashes).
build_initrd() {
  local stamp="$1" tmp="$cache/initrd.tmp" linkage
  linkage=$(LC_ALL=C ldd /bin/busybox 2>&1 || true)
  [[ "$linkage" == *"not a dynamic"* ]] \
    || die "/bin/busybox is not static (Debian package busybox-static, not busybox); run scripts/setup.sh"
  rm -rf "$tmp" && mkdir -p "$tmp"/{bin,dev,proc,sys,mnt,tmp}
  cp /bin/busybox "$tmp/bin/busybox"
  cp "$here/init.sh" "$tmp/init"
  chmod 755 "$tmp/init" "$tmp/bin/busybox"
  ln -s busybox "$tmp/bin/sh"
  (cd "$tmp" && find . -print0 | LC_ALL=C sort -z | cpio --null -o -H newc --quiet -R 0:0) \
    | gzip -1 >"$cache/initrd.gz.tmp" || die "building the initramfs failed"
  rm -rf "$tmp"
  mv "$cache/initrd.gz.tmp" "$cache/initrd.gz"
  echo "$stamp" >"$cache/initrd.stamp"
}

if [ ! -f "$cache/kernel.env" ]; then fetch_kernel; fi
# shellcheck source=/dev/null
. "$cache/kernel.env"
[ -f "$KERNEL" ] && [ -s "$MODULES/modules.dep" ] || { rm -f "$cache/kernel.env"; die "kernel cache in $cache is damaged; run again to refetch"; }

# Cheap enough to run before every vm-run: init.sh's hash, busybox's identity.
stamp="$(sha256sum <"$here/init.sh" | cut -d' ' -f1) $(stat -L -c '%s %Y %i' /bin/busybox)"
if [ ! -f "$cache/initrd.gz" ] || [ "$(cat "$cache/initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
  build_initrd "$stamp"
fi

if [ "${1:-}" = "--print-env" ]; then echo "$cache/kernel.env"; fi
