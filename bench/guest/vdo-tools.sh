#!/usr/bin/env bash
# Host side: fetches and caches dm-vdo's user space (vdoformat, vdostats) for
# the guest. Bookworm has no `vdo` package and trixie's needs glibc 2.38, so
# trixie's vdo, libc6, libblkid1, libuuid1 and zlib1g are downloaded through a
# private apt sources list (the system's apt configuration is untouched),
# unpacked with dpkg-deb into one directory, and every tool is started through
# that directory's own dynamic loader (bench/guest/vdo-run.sh). Idempotent,
# serialized with flock. Prints the cache directory.
#   vdo-tools.sh [CACHE_DIR]      (default <repo>/.cache/bench/vdo)
set -euo pipefail
here="$(cd "$(dirname "${BASH_SOURCE[0]}")" && pwd)"
repo="$(cd "$here/../.." && pwd)"
cache="${1:-$repo/.cache/bench/vdo}"
die() { echo "vdo-tools: $*" >&2; exit 1; }
mkdir -p "$cache"
exec 9>"$cache/.lock"
flock -w 600 9 || die "timed out waiting for $cache/.lock"
if [ -x "$cache/root/usr/bin/vdoformat" ] && [ -f "$cache/root/.complete" ]; then echo "$cache"; exit 0; fi

apt="$cache/apt"
mkdir -p "$apt/lists/partial" "$apt/archives/partial" "$apt/cache"
[ -f /usr/share/keyrings/debian-archive-keyring.gpg ] || die "missing debian-archive-keyring"
mirror=$(sed -n 's/^URIs:[[:space:]]*\([^[:space:]]*\/debian\)\/\{0,1\}$/\1/p' \
  /etc/apt/sources.list.d/*.sources 2>/dev/null | head -n1)
[ -n "$mirror" ] || mirror=http://deb.debian.org/debian
echo "deb [signed-by=/usr/share/keyrings/debian-archive-keyring.gpg] $mirror trixie main" >"$apt/sources.list"
opts=(-q -o "Dir::Etc::sourcelist=$apt/sources.list" -o Dir::Etc::sourceparts=/dev/null
  -o "Dir::State::Lists=$apt/lists" -o "Dir::Cache=$apt/cache" -o "Dir::Cache::Archives=$apt/archives"
  -o Dir::Etc::preferencesparts=/dev/null -o APT::Sandbox::User=root)
echo "vdo-tools: fetching trixie's vdo from $mirror" >&2
apt-get "${opts[@]}" update >"$apt/update.log" 2>&1 || die "apt-get update (trixie) failed: $(grep -E '^(E|W):' "$apt/update.log" | head -n1)"
rm -f "$apt"/*.deb
(cd "$apt" && apt-get "${opts[@]}" download vdo libc6 libblkid1 libuuid1 zlib1g >"$apt/download.log" 2>&1) \
  || die "apt-get download failed: $(grep -E '^(E|W):' "$apt/download.log" | head -n1)"
rm -rf "$cache/root.tmp" && mkdir -p "$cache/root.tmp"
for deb in "$apt"/*.deb; do dpkg-deb -x "$deb" "$cache/root.tmp" || die "dpkg-deb -x $deb failed"; done
[ -x "$cache/root.tmp/usr/bin/vdoformat" ] || die "trixie's vdo has no usr/bin/vdoformat"
touch "$cache/root.tmp/.complete"
rm -rf "$cache/root" && mv "$cache/root.tmp" "$cache/root"
rm -f "$apt"/*.deb
echo "$cache"
