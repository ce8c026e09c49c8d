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
}

const JOBS = ['seqwrite-1m', 'randread-4k', 'randwrite-4k'] as const;
const USAGE = [
  'options:',
  '  --size-mb N      file and job size in MiB (default 256)',
  '  --runtime-s N    seconds per random job (default 10)',
  '  --mode M         guest | native (default: native when /dev/ublk-control exists)',
  '  --json           print only the JSON object on stdout',
].join('\n');

interface Options {
  sizeMb: number;
  runtimeS: number;
  mode: 'guest' | 'native';
  json: boolean;
}

function parseOptions(args: readonly string[]): Options {
  const o: Options = {
    sizeMb: 256,
    runtimeS: 10,
    mode: existsSync('/dev/ublk-control') ? 'native' : 'guest',
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
    else if (a === '--mode') {
      const m = args[++i];
      if (m !== 'guest' && m !== 'native') throw new Error('--mode is guest or native');
      o.mode = m;
    } else if (a === '--json') o.json = true;
    else throw new Error(`unknown option '${a}'\n${USAGE}`);
  }
  return o;
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
  /** ublk-direct / loop per job (IOPS for random jobs, MB/s for sequential). */
  ratios: Record<string, number>;
  mode: string;
  sizeMb: number;
  runtimeS: number;
  date: string;
}

function ratiosOf(rows: readonly DirectBenchRow[]): Record<string, number> {
  const out: Record<string, number> = {};
  for (const job of JOBS) {
    const loop = rows.find((r) => r.label === 'loop' && r.workload === job);
    const ublk = rows.find((r) => r.label === 'ublk-direct' && r.workload === job);
    if (!loop || !ublk) continue;
    const metric = job.startsWith('seq') ? (r: DirectBenchRow) => r.MBps : (r: DirectBenchRow) => r.iops;
    out[job] = +(metric(ublk) / metric(loop)).toFixed(2);
  }
  return out;
}

export function renderDirectTable(result: DirectBenchResult): string {
  const lines = [
    '| job | loop | ublk direct | ublk/loop | daemon CPU user+sys | daemon CPU per I/O |',
    '|---|---|---|---|---|---|',
  ];
  for (const job of JOBS) {
    const loop = result.rows.find((r) => r.label === 'loop' && r.workload === job);
    const ublk = result.rows.find((r) => r.label === 'ublk-direct' && r.workload === job);
    if (!loop || !ublk) continue;
    const fmt = (r: DirectBenchRow): string =>
      job.startsWith('seq') ? `${r.MBps} MB/s` : `${r.iops} IOPS (${r.latUsMean} µs)`;
    const cpu = ublk.daemonUserPct === undefined ? '-' : `${ublk.daemonUserPct}% + ${ublk.daemonSysPct}%`;
    lines.push(`| ${job} | ${fmt(loop)} | ${fmt(ublk)} | ${result.ratios[job]}x | ${cpu} | ${ublk.cpuUsPerIo ?? '-'} µs |`);
  }
  return lines.join('\n') + '\n';
}

export async function runDirectBench(args: readonly string[]): Promise<DirectBenchResult> {
  const o = parseOptions(args);
  const env = { ...process.env, BENCH_SIZE_MB: String(o.sizeMb), BENCH_RUNTIME_S: String(o.runtimeS) };
  const script = 'bash bench/direct-guest.sh';
  const r =
    o.mode === 'native'
      ? await run('bash', ['-c', `modprobe ublk_drv; modprobe loop; ${script}`], env)
      : await run(join(repoRoot(), 'test/vm/vm-run'), ['--timeout', '900', '--mem', '2048', '--modules', 'loop', '--', script], env);
  const rows = parseBenchLines(r.stdout);
  if (r.code !== 0 || !r.stdout.includes('BENCH-DONE') || rows.length !== 2 * JOBS.length) {
    throw new Error(`direct bench failed (exit ${r.code}):\n${r.stdout.slice(-2000)}\n${r.stderr.slice(-2000)}`);
  }
  const bad = rows.filter((row) => row.errors !== 0);
  if (bad.length > 0) throw new Error(`fio reported errors: ${JSON.stringify(bad)}`);
  const result: DirectBenchResult = {
    rows,
    ratios: ratiosOf(rows),
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
    `# 1:1 ublk device vs loop (${o.mode}, tmpfs-backed files, ${o.sizeMb} MiB, bench/guest/fio-baseline.sh workloads)\n\n${table}`,
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
      headline: Object.entries(result.ratios).map(([job, ratio]) => `direct ${job}: ${ratio}x loop`),
    };
  },
};
