// The parts of `npm run bench -- direct`'s report beyond the per-round table:
// which path served each 1:1 variant (from the daemon's `stats --json`, which
// bench/direct-guest.sh prints as "STATS <variant> <round> {json}"), the guest
// kernel, and the main thread's CPU per request against the null target's.
import type { DirectBenchRow } from './direct.js';

/** How a ublk variant's requests were served, from its daemon's own counters. */
export interface DirectPathReport {
  variant: string;
  round: number;
  requestPath: string;
  backingIo: string;
  zeroCopy: boolean;
  reads: number;
  writes: number;
  rawReads: number;
  rawWrites: number;
  zeroCopyReads: number;
  zeroCopyWrites: number;
  jsReads: number;
  jsWrites: number;
}

interface StatsJson {
  requestPath?: string;
  backingIo?: string;
  zeroCopy?: boolean;
  native?: Record<string, number>;
  js?: Record<string, number>;
}

export function parseStatsLines(stdout: string): DirectPathReport[] {
  const out: DirectPathReport[] = [];
  for (const line of stdout.split('\n')) {
    const m = /^STATS (\S+) (\d+) (\{.*\})\s*$/.exec(line);
    if (m === null) continue;
    const s = JSON.parse(m[3]) as StatsJson;
    const n = (k: string): number => s.native?.[k] ?? 0;
    out.push({
      variant: m[1],
      round: Number(m[2]),
      requestPath: s.requestPath ?? 'unknown',
      backingIo: s.backingIo ?? 'unknown',
      zeroCopy: s.zeroCopy === true,
      reads: n('reads'),
      writes: n('writes'),
      rawReads: n('rawReads'),
      rawWrites: n('rawWrites'),
      zeroCopyReads: n('zeroCopyReads'),
      zeroCopyWrites: n('zeroCopyWrites'),
      jsReads: s.js?.reads ?? 0,
      jsWrites: s.js?.writes ?? 0,
    });
  }
  return out;
}

/** The guest's (or host's) kernel release from the "KERNEL <release>" line. */
export function parseKernel(stdout: string): string {
  return /^KERNEL (\S+)/m.exec(stdout)?.[1] ?? 'unknown';
}

export function renderPathTable(paths: readonly DirectPathReport[]): string {
  if (paths.length === 0) return 'Not recorded in this run.\n';
  const lines = [
    '| device | round | request path | backing I/O | zero copy | native reads / writes | on the raw device | on the request pages | JS reads / writes |',
    '|---|---|---|---|---|---|---|---|---|',
  ];
  for (const p of paths) {
    lines.push(
      `| ${p.variant} | ${p.round} | ${p.requestPath} | ${p.backingIo} | ${p.zeroCopy ? 'on' : 'off'} | ${p.reads} / ${p.writes} | ` +
        `${p.rawReads} / ${p.rawWrites} | ${p.zeroCopyReads} / ${p.zeroCopyWrites} | ${p.jsReads} / ${p.jsWrites} |`,
    );
  }
  return lines.join('\n') + '\n';
}

const mean = (xs: readonly number[]): number => xs.reduce((a, b) => a + b, 0) / Math.max(1, xs.length);

/**
 * The serving process's main thread, CPU µs per request (mean of the rounds),
 * per ublk variant and workload, and as a multiple of the null target's (the
 * device layer alone) where it ran.
 */
export function renderCpuPerRequest(rows: readonly DirectBenchRow[], variants: readonly string[], jobs: readonly string[]): string {
  const ublk = variants.filter((v) => rows.some((r) => r.label === v && r.mainCpuUsPerIo !== undefined));
  const perIo = (v: string, job: string): number =>
    mean(rows.filter((r) => r.label === v && r.workload === job && r.mainCpuUsPerIo !== undefined).map((r) => r.mainCpuUsPerIo as number));
  const lines = [`| job | ${ublk.join(' | ')} |`, `|---|${ublk.map(() => '---').join('|')}|`];
  for (const job of jobs) {
    const base = ublk.includes('null') ? perIo('null', job) : NaN;
    const cells = ublk.map((v) => {
      const x = perIo(v, job);
      return v === 'null' || !Number.isFinite(base) ? x.toFixed(0) : `${x.toFixed(0)} (${(x / base).toFixed(2)}x null)`;
    });
    lines.push(`| ${job} | ${cells.join(' | ')} |`);
  }
  return lines.join('\n') + '\n';
}
