#!/usr/bin/env bash
# Fetches and caches what the QEMU guest needs: a Debian cloud kernel with
# ublk_drv and its module tree, and a tiny busybox initramfs whose /init is
# test/vm/init.sh. Idempotent, quiet when cached, serialized with flock. The
# system's apt configuration is untouched: the kernel .deb comes through a
# private sources list and state directory.
#
#   prepare.sh [--kernel lts|new] [--print-env]
#
# Kernels (the guest kernel matrix):
#   lts  bookworm-backports: what linux-image-cloud-amd64 depends on (6.12).
#        Cached in kernel/ + kernel.env (the default).
#   new  trixie-backports: the newest linux-image-<ver>+deb13-cloud-amd64 in
#        the index at fetch time (6.18 in Dec 2026), resolved by name so it
#        follows Debian's updates. Cached beside it in kernel-new/ + kernel-new.env.
# Environment:
#   UBLK_VM_CACHE   cache directory (default <repo>/.cache/vm)
#   UBLK_VM_KSET    lts|new when --kernel is not given (default lts)
#   UBLK_VM_KPKG    kernel package to use instead of the resolved one
#   UBLK_VM_DEB     a local kernel .deb to use instead of downloading
# Prints the kernel's env file path on success with --print-env.
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

kset="${UBLK_VM_KSET:-lts}" print_env=0
while [ $# -gt 0 ]; do
  case "$1" in
    --kernel) kset="${2:-}"; shift 2 ;;
    --print-env) print_env=1; shift ;;
    *) die "unknown argument '$1' (usage: prepare.sh [--kernel lts|new] [--print-env])" ;;
  esac
done
case "$kset" in
  lts) suite=bookworm-backports debtag=deb12 kdir="$cache/kernel" kenv="$cache/kernel.env" aptdir="$cache/apt" ;;
  new) suite=trixie-backports debtag=deb13 kdir="$cache/kernel-new" kenv="$cache/kernel-new.env" aptdir="$cache/apt-new" ;;
  *) die "unknown kernel '$kset' (lts or new)" ;;
esac

mkdir -p "$cache" || die "cannot create cache dir $cache"
exec 9>"$cache/.lock"
flock -w 600 9 || die "timed out waiting for the cache lock $cache/.lock"

# --- kernel + modules -------------------------------------------------------
# The env file is written last, so its presence means the kernel cache is whole.
fetch_kernel() {
  local apt="$aptdir" deb kpkg mirror
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
    echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror $suite main" \
      >"$apt/sources.list"
    opts=(-q -o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
      -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache"
      -o "Dir::Cache::Archives=$apt/archives" -o Dir::Etc::preferencesparts=/dev/null
      -o APT::Sandbox::User=root)
    echo "prepare.sh: fetching the $kset guest kernel from $mirror $suite" >&2
    apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 \
      || die "apt-get update of $suite failed: $(grep -E '^(E|W):' "$apt/update.log" | head -n1)"
    kpkg="${UBLK_VM_KPKG:-}"
    if [ -z "$kpkg" ] && [ "$kset" = lts ]; then
      kpkg=$(apt-cache "${opts[@]}" depends linux-image-cloud-amd64 2>/dev/null \
        | sed -n 's/^ *Depends: \(linux-image-6\.[0-9.]*+deb12-cloud-amd64\)$/\1/p' | head -n1)
      [ -n "$kpkg" ] || die "cannot resolve linux-image-cloud-amd64 in $suite"
    elif [ -z "$kpkg" ]; then
      # Newest by version among the versioned cloud images (not the
      # metapackage, not -dbg/-unsigned): build numbers change over time.
      kpkg=$(apt-cache "${opts[@]}" pkgnames linux-image- 2>/dev/null \
        | grep -E "^linux-image-[0-9]+\.[0-9]+[0-9.]*\+$debtag-cloud-amd64\$" | sort -V | tail -n1)
      [ -n "$kpkg" ] || die "no linux-image-*+$debtag-cloud-amd64 in $suite"
    fi
    # Newer Debian kernels split the image into linux-{base,binary,modules}-<abi>
    # packages the image package depends on: fetch those of the same <abi> too.
    local -a pkgs=("$kpkg")
    mapfile -t -O 1 pkgs < <(apt-cache "${opts[@]}" show "$kpkg" 2>/dev/null | sed -n 's/^Depends: //p' | head -n1 \
      | tr ',|' '\n\n' | sed 's/^ *\([^ ]*\).*/\1/' | awk -v abi="${kpkg#linux-image-}" '$0 ~ /^linux-[a-z]+-/ && substr($0, index(substr($0, 7), "-") + 7) == abi')
    local i
    # Drop virtual ones (provided by the image itself). The output is captured
    # first: `| grep -q` would close the pipe early and, under pipefail, a
    # SIGPIPE'd apt-cache would drop a real package now and then.
    local shown
    for ((i = ${#pkgs[@]} - 1; i > 0; i--)); do
      shown=$(apt-cache "${opts[@]}" show "${pkgs[$i]}" 2>/dev/null || true)
      [[ $shown == *$'\n'Package:* || $shown == Package:* ]] || unset "pkgs[$i]"
    done
    rm -f "$apt"/*.deb
    (cd "$apt" && apt-get "${opts[@]}" download "${pkgs[@]}" >"$apt/download.log" 2>&1) \
      || die "apt-get download ${pkgs[*]} failed: $(grep -E '^(E|W):' "$apt/download.log" | head -n1)"
    deb=$(ls "$apt"/*.deb 2>/dev/null | head -n1 || true)
    [ -n "$deb" ] || die "apt-get download $kpkg produced no .deb"
  fi

  local tmp="$kdir.tmp" d
  rm -rf "$tmp" && mkdir -p "$tmp"
  if [ -n "${UBLK_VM_DEB:-}" ]; then
    dpkg-deb -x "$deb" "$tmp/root" || die "dpkg-deb -x $deb failed"
  else
    for d in "$apt"/*.deb; do dpkg-deb -x "$d" "$tmp/root" || die "dpkg-deb -x $d failed"; done
  fi
  # Classic layout: /boot/vmlinuz-<kver> + /boot/config-<kver>; newer packages
  # (split linux-binary/linux-base) keep both in the module tree.
  local vmlinuz kver config
  vmlinuz=$(ls "$tmp"/root/boot/vmlinuz-* "$tmp"/root/{usr/,}lib/modules/*/vmlinuz 2>/dev/null | head -n1 || true)
  [ -n "$vmlinuz" ] || die "$deb has no /boot/vmlinuz-* nor lib/modules/*/vmlinuz"
  case "$vmlinuz" in
    */boot/vmlinuz-*) kver="${vmlinuz##*/vmlinuz-}" ;;
    *) kver="${vmlinuz%/vmlinuz}"; kver="${kver##*/}" ;;
  esac
  local mods="$tmp/root/lib/modules/$kver"
  [ -d "$mods/kernel" ] || mods="$tmp/root/usr/lib/modules/$kver"
  [ -d "$mods/kernel" ] || die "$deb has no module tree for $kver"
  config="$tmp/root/boot/config-$kver"
  [ -f "$config" ] || config="$mods/config"
  grep -q '^CONFIG_BLK_DEV_UBLK=[ym]' "$config" 2>/dev/null \
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

  rm -rf "$kdir"
  mv "$tmp" "$kdir"
  kernel_file="${kernel_file/$tmp/$kdir}"
  mods="${mods/$tmp/$kdir}"
  {
    printf 'KVER=%q\n' "$kver"
    printf 'KERNEL=%q\n' "$kernel_file"
    printf 'MODULES=%q\n' "$mods"
    printf 'KPKG=%q\n' "${kpkg:-$(basename "$deb")}"
  } >"$kenv.tmp"
  mv "$kenv.tmp" "$kenv"
  rm -f "$apt"/*.deb
  echo "prepare.sh: cached $kset kernel $kver ($(du -sh "$kdir" | cut -f1))" >&2
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

if [ ! -f "$kenv" ]; then fetch_kernel; fi
# shellcheck source=/dev/null
. "$kenv"
[ -f "$KERNEL" ] && [ -s "$MODULES/modules.dep" ] || { rm -f "$kenv"; die "$kset kernel cache in $kdir is damaged; run again to refetch"; }

# Cheap enough to run before every vm-run: init.sh's hash, busybox's identity.
stamp="$(sha256sum <"$here/init.sh" | cut -d' ' -f1) $(stat -L -c '%s %Y %i' /bin/busybox)"
if [ ! -f "$cache/initrd.gz" ] || [ "$(cat "$cache/initrd.stamp" 2>/dev/null)" != "$stamp" ]; then
  build_initrd "$stamp"
fi

if [ "$print_env" = 1 ]; then echo "$kenv"; fi
