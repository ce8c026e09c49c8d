// `npm run bench -- direct`: fio on the 1:1 ublk device vs the kernel loop
// device, each over a file on tmpfs, in one boot of the QEMU guest (or
// natively where the host has ublk_drv), with the project's workloads of
// bench/guest/fio-baseline.sh: 1 MiB sequential write (QD4), 4 KiB random
// read and write (QD16). Prints a table and JSON and writes
// bench/report/direct.{json,md}. Guest figures are only comparable with each
// other (TCG); the ratio ublk/loop is the result.
import { spawn } from 'node:child_process';
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
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
const USAGE = [
  'options:',
  '  --size-mb N      file and job size in MiB (default 256)',
  '  --runtime-s N    seconds per random job (default 10)',
  '  --mode M         guest | native (default: native when /dev/ublk-control exists)',
  '  --rounds N       interleaved rounds (default 2)',
  '  --variants LIST  comma list of ublk-direct (native request path), ublk-direct-js',
  '                   (the JS request path forced), null (src/device with a null target),',
  '                   loop-dio (loop --direct-io=on), brd (default ublk-direct,ublk-direct-js)',
  '  --json           print only the JSON object on stdout',
].join('\n');

interface Options {
  sizeMb: number;
  runtimeS: number;
  mode: 'guest' | 'native';
  rounds: number;
  variants: string[];
  json: boolean;
}

const VARIANTS = ['ublk-direct', 'ublk-direct-js', 'null', 'loop-dio', 'brd'];

function parseOptions(args: readonly string[]): Options {
  const o: Options = {
    sizeMb: 256,
    runtimeS: 10,
    mode: existsSync('/dev/ublk-control') ? 'native' : 'guest',
    rounds: 2,
    variants: ['ublk-direct', 'ublk-direct-js'],
    json: false,
  };
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    const num = (): number => {
      const v = Number(args[++i]);
      if (!Number.isInteger(v) || v < 1) throw new Error(`${a} needs a positive integer`);
      return v;
    };
    if (a === '--size-mb') o.sizeMb = num();
    else if (a === '--runtime-s') o.runtimeS = num();
    else if (a === '--rounds') o.rounds = num();
    else if (a === '--variants') {
      o.variants = (args[++i] ?? '').split(',');
      const bad = o.variants.filter((v) => !VARIANTS.includes(v));
      if (bad.length > 0 || o.variants.length === 0) throw new Error(`--variants: one or more of ${VARIANTS.join(',')}`);
    } else if (a === '--mode') {
      const m = args[++i];
      if (m !== 'guest' && m !== 'native') throw new Error('--mode is guest or native');
      o.mode = m;
    } else if (a === '--json') o.json = true;
    else throw new Error(`unknown option '${a}'\n${USAGE}`);
  }
  return o;
}

/** Generous: on a loaded 2-core host one device's three jobs and its daemon start can take minutes. */
function guestTimeoutSec(o: Options): number {
  return 300 + o.rounds * (1 + o.variants.length) * (180 + 3 * o.runtimeS);
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    child.stdout.on('data', (b: Buffer) => (stdout += String(b)));
    child.stderr.on('data', (b: Buffer) => (stderr += String(b)));
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

export function parseBenchLines(stdout: string): DirectBenchRow[] {
  return stdout
    .split('\n')
    .filter((l) => l.startsWith('BENCH {'))
    .map((l) => JSON.parse(l.slice('BENCH '.length)) as DirectBenchRow);
}

export interface DirectBenchResult {
  rows: DirectBenchRow[];
  /** `${variant} ${job}` -> variant / loop, means over the rounds (IOPS for random jobs, MB/s for sequential). */
  ratios: Record<string, number>;
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

function ratiosOf(rows: readonly DirectBenchRow[], variants: readonly string[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const v of variants) {
    for (const job of JOBS) {
      const loop = rowsOf(rows, 'loop', job).map(metricOf(job));
      const ublk = rowsOf(rows, v, job).map(metricOf(job));
      if (loop.length === 0 || ublk.length === 0) continue;
      out[`${v} ${job}`] = +(mean(ublk) / mean(loop)).toFixed(2);
    }
  }
  return out;
}

export function renderDirectTable(result: DirectBenchResult): string {
  const lines = [
    '| job | device | per round | mean vs loop | daemon CPU user+sys | CPU µs/IO (all / main thread) |',
    '|---|---|---|---|---|---|',
  ];
  for (const job of JOBS) {
    for (const label of ['loop', ...result.variants]) {
      const rs = rowsOf(result.rows, label, job);
      if (rs.length === 0) continue;
      const fmt = (r: DirectBenchRow): string =>
        job.startsWith('seq') ? `${r.MBps} MB/s` : `${r.iops} (${r.latUsMean} µs)`;
      const ratio = label === 'loop' ? '1' : String(result.ratios[`${label} ${job}`]);
      const cpu = rs.map((r) => (r.daemonUserPct === undefined ? '-' : `${r.daemonUserPct}%+${r.daemonSysPct}%`));
      const perIo = rs.map((r) => (r.cpuUsPerIo === undefined ? '-' : `${r.cpuUsPerIo} / ${r.mainCpuUsPerIo}`));
      lines.push(`| ${job} | ${label} | ${rs.map(fmt).join(', ')} | ${ratio}x | ${cpu.join(', ')} | ${perIo.join(', ')} |`);
    }
  }
  return lines.join('\n') + '\n';
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
  writeFileSync(
    join(benchReportDir(), 'direct.md'),
    `# 1:1 ublk device vs loop (${o.mode}, tmpfs-backed files, ${o.sizeMb} MiB, ${o.rounds} interleaved rounds, fio on CPU 0, daemon on CPU 1)\n\n${table}`,
  );
  if (o.json) process.stdout.write(`${JSON.stringify(result)}\n`);
  else process.stdout.write(`${table}\n${JSON.stringify(result, null, 2)}\n`);
  return result;
}

/** The BenchModule shape bench/registry.ts expects. */
export const directBench: BenchModule = {
  summary: '1:1 ublk device vs kernel loop device (fio, in the guest)',
  usage: USAGE,
  async unavailableReason() {
    if (process.getuid?.() !== 0) return 'needs root (ublk devices, or virtiofsd for the guest)';
    if (!existsSync('/dev/ublk-control') && !existsSync(join(repoRoot(), 'test/vm/vm-run'))) {
      return 'no ublk_drv here and no guest harness';
    }
    return undefined;
  },
  async run(args): Promise<BenchOutcome> {
    const result = await runDirectBench(args);
    return {
      reportFiles: ['bench/report/direct.json', 'bench/report/direct.md'],
      headline: Object.entries(result.ratios).map(([key, ratio]) => `${key}: ${ratio}x loop`),
    };
  },
};
