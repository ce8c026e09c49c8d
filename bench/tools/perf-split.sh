#!/usr/bin/env bash
# perf-split.sh DIR WORKLOAD [MAIN_TID]: the split of a packed-profile.sh perf
# recording (PROFILE_PERF=1) of vCPU 1 by thread (the daemon's main thread vs
# its other threads) and kind (kernel, V8 GC, V8 compiler, V8 builtins and
# interpreter, JIT code, the addon and codecs, libc), then the main thread's
# kernel time by entry (system call, page fault, interrupt). Run on the host
# after the guest run: it uses DIR/kallsyms and DIR/perf-<pid>.map, copied
# there by packed-profile.sh (the map is read from /tmp, as perf expects).
set -euo pipefail
dir=${1:?usage: perf-split.sh DIR WORKLOAD [MAIN_TID]} w=${2:?workload}
tid=${3:-$(ls "$dir"/perf-*.map 2>/dev/null | sed -n 's/.*perf-\([0-9]*\)\.map/\1/p' | head -1)}
[ -n "$tid" ] || { echo "perf-split: no perf-<pid>.map in $dir; give MAIN_TID" >&2; exit 2; }
cp "$dir/perf-$tid.map" "/tmp/perf-$tid.map" 2>/dev/null || true
script() { perf script -i "$dir/perf-$w.data" --kallsyms="$dir/kallsyms" -F comm,tid,ip,sym,dso "$@" 2>/dev/null; }
echo "== $w: share of vCPU 1 samples (main = tid $tid)"
script -G | awk -v main="$tid" '
{ comm = $1; line = $0; cat = "other"
  if (comm == "swapper") cat = "idle"
  else if (line ~ /kernel.kallsyms/) cat = "kernel"
  else if (line ~ /Marking|Sweep|Scaveng|Heap|GC|Evacuat|Mark|Remembered|SlotSet|MemoryChunk|PagedSpace|ArrayBufferSweeper|MemoryAllocator|Worklist/) cat = "v8-gc"
  else if (line ~ /compiler::|Compil|Turbofan|Maglev|Parser|Scanner|Zone/) cat = "v8-compiler"
  else if (line ~ /Builtins_|Interpreter|Runtime_|IC::|Ignition/) cat = "v8-builtins"
  else if (line ~ /JIT|perf-[0-9]+\.map/) cat = "js-jit"
  else if (line ~ /ublk_native|liblz4|libxxhash/) cat = "addon+codecs"
  else if (line ~ /libc|libstdc/) cat = "libc"
  else if (line ~ /\/node\)/) cat = "node-other"
  n[comm ":" ($2 == main ? "main" : "other") " " cat]++; tot++ }
END { for (k in n) printf "%6.2f%% %s\n", 100 * n[k] / tot, k }' | sort -rn | head -20
echo "== $w: main thread kernel samples by entry"
script | awk -v main="$tid" '
$1 == "node" && $2 == main && NF == 2 { inmain = 1; e = ""; next }
/^[^ \t]/ { inmain = 0 }
inmain && /kernel.kallsyms/ {
  if ($2 ~ /^__x64_sys_|^__do_sys|^__se_sys/) e = $2
  if ($2 ~ /exc_page_fault/) e = "page fault"
  if ($2 ~ /reschedule_ipi/) e = "reschedule IPI"
  if ($2 ~ /apic_timer/) e = "timer interrupt" }
inmain && /^$/ { if (e != "") { n[e]++; tot++ } inmain = 0; e = "" }
END { for (k in n) printf "%6.1f%% %s\n", 100 * n[k] / tot, k }' | sort -rn | head -10
