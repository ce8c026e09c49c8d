// `npm run bench -- direct`: fio on the 1:1 ublk device vs the kernel loop
// device, each over a file on tmpfs, in one boot of the QEMU guest (or
// natively where the host has ublk_drv), with the project's workloads of
// bench/guest/fio-baseline.sh: 1 MiB sequential write (QD4), 4 KiB random
// read and write (QD16). Prints a table and JSON and writes
// bench/report/direct.{json,md}. Guest figures are only comparable with each
// other (TCG); the ratio ublk/loop is the result.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getFlag, getString, parseArgs, type OptionSpec } from '../src/cli/args.js';
import { UcError } from '../src/util/errors.js';
import {
  countOf,
  countOption,
  deviceBenchUnavailable,
  MODE_OPTION,
  modeOf,
  run,
  usageOf,
  type BenchMode,
} from './device-bench.js';
import { parseKernel, parseStatsLines, renderCpuPerRequest, renderPathTable, type DirectPathReport } from './direct-report.js';
import type { BenchModule, BenchOutcome } from './module.js';
import { benchReportDir, repoRoot } from './paths.js';

/** One line of bench/guest/fio-baseline.sh, plus the daemon's CPU for ublk. */
export interface DirectBenchRow {
  /** Interleaved round (1-based). */
  round: number;
  label: string;
  workload: string;
  MBps: number;
  iops: number;
  runtimeSec: number;
  latUsMean: number;
  errors: number;
  /** Serving daemon CPU over the workload, percent of one CPU (ublk only). */
  daemonUserPct?: number;
  daemonSysPct?: number;
  /** Daemon CPU time per completed request, µs (ublk only). */
  cpuUsPerIo?: number;
  /** The daemon's main thread alone, µs per request (ublk only). */
  mainCpuUsPerIo?: number;
}

const JOBS = ['seqwrite-1m', 'randread-4k', 'randwrite-4k'] as const;
const VARIANTS = ['ublk-direct', 'ublk-direct-js', 'null', 'loop-dio', 'brd', 'ublk-mapped', 'loop-dio-ext4'];
/**
 * What a variant's ratio compares against (when that baseline ran): loop with
 * direct I/O over the same kind of backing, else the buffered loop.
 */
const BASELINE: Record<string, string> = {
  'ublk-mapped': 'loop-dio-ext4',
  'ublk-direct': 'loop-dio',
  'ublk-direct-js': 'loop-dio',
  null: 'loop-dio',
};
const baselineOf = (variant: string, ran: readonly string[]): string =>
  BASELINE[variant] !== undefined && ran.includes(BASELINE[variant]) ? BASELINE[variant] : 'loop';

const OPTIONS: readonly OptionSpec[] = [
  countOption('size-mb', 'file and job size in MiB (default 256)'),
  countOption('runtime-s', 'seconds per random job (default 10)'),
  MODE_OPTION,
  countOption('rounds', 'interleaved rounds (default 2)'),
  {
    name: 'variants',
    kind: 'string',
    valueName: 'LIST',
    help:
      'comma list of ublk-direct (native request path), ublk-direct-js (JS request path forced), ' +
      'null (src/device with a null target), loop-dio (loop --direct-io=on), brd, ublk-mapped ' +
      '(direct-mapped path: a written file on ext4 over a RAM disk), loop-dio-ext4 (loop --direct-io=on ' +
      'over the same kind of file; the baseline of ublk-mapped) (default ublk-direct,ublk-direct-js)',
  },
  { name: 'json', kind: 'boolean', help: 'print only the JSON object on stdout' },
];
const USAGE = usageOf(OPTIONS);

interface Options {
  sizeMb: number;
  runtimeS: number;
  mode: BenchMode;
  rounds: number;
  variants: string[];
  json: boolean;
}

function parseOptions(argv: readonly string[]): Options {
  const args = parseArgs(argv, OPTIONS);
  const variants = (getString(args, 'variants') ?? 'ublk-direct,ublk-direct-js').split(',');
  const bad = variants.filter((v) => !VARIANTS.includes(v));
  if (bad.length > 0) throw new UcError('UC_INVALID_ARGUMENT', `--variants: one or more of ${VARIANTS.join(',')}`);
  return {
    sizeMb: countOf(args, 'size-mb', 256),
    runtimeS: countOf(args, 'runtime-s', 10),
    mode: modeOf(args),
    rounds: countOf(args, 'rounds', 2),
    variants,
    json: getFlag(args, 'json'),
  };
}

/** Generous: on a loaded 2-core host one device's three jobs and its daemon start can take minutes. */
function guestTimeoutSec(o: Options): number {
  return 300 + o.rounds * (1 + o.variants.length) * (180 + 3 * o.runtimeS);
}

export function parseBenchLines(stdout: string): DirectBenchRow[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('BENCH {'))
    .map((l) => JSON.parse(l.slice('BENCH '.length)) as DirectBenchRow);
}

export interface DirectBenchResult {
  rows: DirectBenchRow[];
  /**
   * `${variant} ${job}` -> variant / its baseline (loop-dio, loop-dio-ext4 for
   * ublk-mapped, when it ran; else loop), means over the rounds (IOPS for random jobs, MB/s for sequential).
   */
  ratios: Record<string, number>;
  /** How each ublk variant's requests were served (its daemon's counters after each round). */
  paths: DirectPathReport[];
  kernel: string;
  variants: string[];
  rounds: number;
  mode: string;
  sizeMb: number;
  runtimeS: number;
  date: string;
}

const metricOf = (job: string) => (r: DirectBenchRow): number => (job.startsWith('seq') ? r.MBps : r.iops);

function rowsOf(rows: readonly DirectBenchRow[], label: string, job: string): DirectBenchRow[] {
  return rows.filter((r) => r.label === label && r.workload === job).sort((a, b) => a.round - b.round);
}

function mean(values: readonly number[]): number {
  return values.reduce((a, b) => a + b, 0) / Math.max(1, values.length);
}

export function ratiosOf(rows: readonly DirectBenchRow[], variants: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of variants) {
    for (const job of JOBS) {
      const loop = rowsOf(rows, baselineOf(v, variants), job).map(metricOf(job));
      const ublk = rowsOf(rows, v, job).map(metricOf(job));
      if (loop.length === 0 || ublk.length === 0) continue;
      out[`${v} ${job}`] = +(mean(ublk) / mean(loop)).toFixed(2);
    }
  }
  return out;
}

export function renderDirectTable(result: DirectBenchResult): string {
  const lines = [
    '| job | device | per round | mean vs baseline | daemon CPU user+sys | CPU µs/IO (all / main thread) |',
    '|---|---|---|---|---|---|',
  ];
  for (const job of JOBS) {
    for (const label of ['loop', ...result.variants]) {
      const rs = rowsOf(result.rows, label, job);
      if (rs.length === 0) continue;
      const fmt = (r: DirectBenchRow): string =>
        job.startsWith('seq') ? `${r.MBps} MB/s` : `${r.iops} (${r.latUsMean} µs)`;
      const ratio =
        label === 'loop' ? '1x' : `${result.ratios[`${label} ${job}`]}x ${baselineOf(label, result.variants)}`;
      const cpu = rs.map((r) => (r.daemonUserPct === undefined ? '-' : `${r.daemonUserPct}%+${r.daemonSysPct}%`));
      const perIo = rs.map((r) => (r.cpuUsPerIo === undefined ? '-' : `${r.cpuUsPerIo} / ${r.mainCpuUsPerIo}`));
      lines.push(`| ${job} | ${label} | ${rs.map(fmt).join(', ')} | ${ratio} | ${cpu.join(', ')} | ${perIo.join(', ')} |`);
    }
  }
  return lines.join('\n') + '\n';
}

export function renderDirectMarkdown(result: DirectBenchResult): string {
  const r = result;
  return (
    `# 1:1 ublk device vs loop (${r.mode}, kernel ${r.kernel}, ${r.sizeMb} MiB, ${r.rounds} interleaved rounds, fio on CPU 0, daemon on CPU 1)\n\n` +
    `${renderDirectTable(r)}\n` +
    `## Main thread CPU per request, µs (mean of the rounds)\n\n${renderCpuPerRequest(r.rows, r.variants, JOBS)}\n` +
    `## How the ublk devices were served (their daemons' counters at the end of each round)\n\n${renderPathTable(r.paths)}`
  );
}

export async function runDirectBench(args: readonly string[]): Promise<DirectBenchResult> {
  const o = parseOptions(args);
  const env = {
    ...process.env,
    BENCH_SIZE_MB: String(o.sizeMb),
    BENCH_RUNTIME_S: String(o.runtimeS),
    BENCH_ROUNDS: String(o.rounds),
    BENCH_VARIANTS: o.variants.join(' '),
  };
  const script = 'bash bench/direct-guest.sh';
  const r =
    o.mode === 'native'
      ? await run('bash', ['-c', `modprobe ublk_drv; modprobe loop; ${script}`], env)
      : await run(join(repoRoot(), 'test/vm/vm-run'), ['--timeout', String(guestTimeoutSec(o)), '--mem', '2048', '--modules', 'loop', '--', script], env);
  const rows = parseBenchLines(r.stdout);
  if (r.code !== 0 || !r.stdout.includes('BENCH-DONE') || rows.length < o.rounds * (1 + o.variants.length - (o.variants.includes('loop-dio') ? 1 : 0)) * JOBS.length) {
    throw new Error(`direct bench failed (exit ${r.code}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
  const bad = rows.filter((row) => row.errors !== 0);
  if (bad.length > 0) throw new Error(`fio reported errors: ${JSON.stringify(bad)}`);
  const result: DirectBenchResult = {
    rows,
    ratios: ratiosOf(rows, o.variants),
    paths: parseStatsLines(r.stdout),
    kernel: parseKernel(r.stdout),
    variants: o.variants,
    rounds: o.rounds,
    mode: o.mode,
    sizeMb: o.sizeMb,
    runtimeS: o.runtimeS,
    date: new Date().toISOString(),
  };
  const table = renderDirectTable(result);
  mkdirSync(benchReportDir(), { recursive: true });
  writeFileSync(join(benchReportDir(), 'direct.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(benchReportDir(), 'direct.md'), renderDirectMarkdown(result));
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${table}\n${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** The BenchModule shape bench/registry.ts expects. */
export const directBench: BenchModule = {
  summary: '1:1 ublk device vs kernel loop device (fio, in the guest)',
  usage: USAGE,
  unavailableReason: deviceBenchUnavailable,
  async run(args): Promise<BenchOutcome> {
    const result = await runDirectBench(args);
    return {
      reportFiles: ['bench/report/direct.json', 'bench/report/direct.md'],
      headline: Object.entries(result.ratios).map(([key, ratio]) => `${key}: ${ratio}x ${baselineOf(key.split(' ')[0], result.variants)}`),
    };
  },
};
