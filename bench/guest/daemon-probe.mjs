// Loaded into the packed daemon by bench/guest/packed-profile.sh through
// UBLK_COMPRESS_DAEMON_NODE_ARGS="--import=<this file>": once a second, one JSON
// line to $PROBE_OUT/probe.<pid>.jsonl with the event-loop utilisation of the
// last second and the GC pauses (count and ms per kind) since the last line.
// Measurement only; the product never loads it.
import { appendFileSync } from 'node:fs';
import v8 from 'node:v8';
import { PerformanceObserver, performance, constants } from 'node:perf_hooks';

const dir = process.env.PROBE_OUT;
if (dir) {
  const file = `${dir}/probe.${process.pid}.jsonl`;
  const kinds = {
    [constants.NODE_PERFORMANCE_GC_MINOR]: 'minor',
    [constants.NODE_PERFORMANCE_GC_MAJOR]: 'major',
    [constants.NODE_PERFORMANCE_GC_INCREMENTAL]: 'incremental',
    [constants.NODE_PERFORMANCE_GC_WEAKCB]: 'weakcb',
  };
  let gc = {};
  new PerformanceObserver((list) => {
    for (const e of list.getEntries()) {
      const k = kinds[e.detail?.kind] ?? 'other';
      const g = (gc[k] ??= { n: 0, ms: 0 });
      g.n += 1;
      g.ms += e.duration;
    }
  }).observe({ entryTypes: ['gc'] });
  const lines = [];
  const flush = () => {
    if (lines.length > 0) appendFileSync(file, lines.join('\n') + '\n');
    lines.length = 0;
  };
  process.on('exit', flush);
  let last = performance.eventLoopUtilization();
  let lastCpu = process.cpuUsage();
  const timer = setInterval(() => {
    const now = performance.eventLoopUtilization();
    const d = performance.eventLoopUtilization(now, last);
    const cpu = process.cpuUsage(lastCpu);
    last = now;
    lastCpu = process.cpuUsage();
    const line = {
      t: Date.now(), elu: Number(d.utilization.toFixed(3)), activeMs: Math.round(d.active),
      userMs: Math.round(cpu.user / 1000), systemMs: Math.round(cpu.system / 1000),
      heapMiB: Math.round(v8.getHeapStatistics().used_heap_size / 1048576), gc,
    };
    gc = {};
    lines.push(JSON.stringify(line));
    // Written every 10 s: under emulation each write costs a visible share.
    if (lines.length >= 10) flush();
  }, 1000);
  timer.unref();
}
