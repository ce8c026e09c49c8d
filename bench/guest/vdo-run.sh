#!/usr/bin/env bash
# Runs one of trixie's vdo tools (vdoformat, vdostats) from the cache that
# bench/guest/vdo-tools.sh made, through that cache's own glibc loader.
#   vdo-run.sh CACHE_DIR TOOL [ARGS...]
set -euo pipefail
root="${1:?CACHE_DIR}/root"
tool=${2:?TOOL}
shift 2
exec "$root/usr/lib/x86_64-linux-gnu/ld-linux-x86-64.so.2" --library-path "$root/usr/lib/x86_64-linux-gnu" "$root/usr/bin/$tool" "$@"
