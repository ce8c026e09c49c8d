// `npm run bench -- packed`: the packed ublk device vs zram (lz4) and the 1:1
// ublk device, in one boot of the QEMU guest (or natively where the host has
// ublk_drv), on the same data (bench/packed-guest.sh): mkfs.ext4 + two copies
// of a real tree + sync (time, physical bytes), then fio 1 MiB sequential
// write and 4 KiB random read/write at QD16 (bench/guest/fio-baseline.sh).
// Writes bench/report/packed.{json,md}. Guest figures compare only with each
// other (TCG, shared host).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { parseArgs, type OptionSpec } from '../src/cli/args.js';
import * as device from './device-bench.js';
import type { BenchModule, BenchOutcome } from './module.js';
import { benchReportDir, repoRoot } from './paths.js';

export interface TreeRow {
  label: string;
  seconds: number;
  logicalBytes: number;
  physicalBytes: number;
  [extra: string]: unknown;
}

export interface FioRow {
  label: string;
  workload: string;
  MBps: number;
  iops: number;
  latUsMean: number;
  errors: number;
}

export interface PackedBenchResult {
  tree: TreeRow[];
  fio: FioRow[];
  mode: string;
  sizeMb: number;
  runtimeS: number;
  date: string;
}

const LABELS = ['ublk-packed', 'ublk-direct', 'zram'] as const;
const JOBS = ['seqwrite-1m', 'randread-4k', 'randwrite-4k'] as const;
const OPTIONS: readonly OptionSpec[] = [
  device.countOption('size-mb', 'fio region in MiB (default 128)'),
  device.countOption('runtime-s', 'seconds per random job (default 10)'),
  device.MODE_OPTION,
];
const USAGE = device.usageOf(OPTIONS);

function parseOptions(argv: readonly string[]): { sizeMb: number; runtimeS: number; mode: device.BenchMode } {
  const args = parseArgs(argv, OPTIONS);
  return { sizeMb: device.countOf(args, 'size-mb', 128), runtimeS: device.countOf(args, 'runtime-s', 10), mode: device.modeOf(args) };
}

export function parsePackedBench(stdout: string): { tree: TreeRow[]; fio: FioRow[] } {
  const lines = stdout.split('\n');
  const tree = lines.filter((l) => l.startsWith('BENCH-TREE {')).map((l) => JSON.parse(l.slice('BENCH-TREE '.length)) as TreeRow);
  const fio = lines.filter((l) => l.startsWith('BENCH {')).map((l) => JSON.parse(l.slice('BENCH '.length)) as FioRow);
  return { tree, fio };
}

const MIB = 1024 * 1024;

export function renderPackedReport(r: PackedBenchResult): string {
  const out = [
    `# Packed ublk device vs zram (lz4) and the 1:1 ublk device (${r.mode}, ${r.date})`,
    '',
    'mkfs.ext4 + mount + two copies of the same tree + sync; physical = bytes the device holds afterwards',
    '(zram: mem_used_total; 1:1: allocated bytes of the backing file; packed: pool + metadata allocated).',
    '',
    '| device | time | logical (fs) | physical | logical/physical |',
    '|---|---|---|---|---|',
  ];
  for (const label of LABELS) {
    const t = r.tree.find((x) => x.label === label);
    if (!t) continue;
    out.push(
      `| ${label} | ${t.seconds.toFixed(1)} s | ${(t.logicalBytes / MIB).toFixed(1)} MiB | ${(t.physicalBytes / MIB).toFixed(1)} MiB | ` +
        `${(t.logicalBytes / Math.max(1, t.physicalBytes)).toFixed(2)}:1 |`,
    );
  }
  out.push('', `fio (bench/guest/fio-baseline.sh, ${r.sizeMb} MiB region, ${r.runtimeS} s per random job, compress 60% dedupe 30%):`, '');
  out.push(`| job | ${LABELS.join(' | ')} |`, `|---|${LABELS.map(() => '---').join('|')}|`);
  for (const job of JOBS) {
    const cells = LABELS.map((label) => {
      const f = r.fio.find((x) => x.label === label && x.workload === job);
      if (!f) return '-';
      return job.startsWith('seq') ? `${f.MBps} MB/s` : `${f.iops} IOPS (${f.latUsMean} µs)`;
    });
    out.push(`| ${job} | ${cells.join(' | ')} |`);
  }
  return `${out.join('\n')}\n`;
}

export async function runPackedBench(args: readonly string[]): Promise<PackedBenchResult> {
  const o = parseOptions(args);
  const env = { ...process.env, BENCH_SIZE_MB: String(o.sizeMb), BENCH_RUNTIME_S: String(o.runtimeS) };
  const script = 'bash bench/packed-guest.sh';
  const r =
    o.mode === 'native'
      ? await device.run('bash', ['-c', `modprobe ublk_drv; modprobe zram; ${script}`], env)
      : await device.run(join(repoRoot(), 'test/vm/vm-run'), ['--timeout', '1500', '--mem', '3072', '--modules', 'zram', '--', script], env);
  const { tree, fio } = parsePackedBench(r.stdout);
  if (r.code !== 0 || !r.stdout.includes('BENCH-DONE') || tree.length !== LABELS.length || fio.length !== LABELS.length * JOBS.length) {
    throw new Error(`packed bench failed (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  }
  const bad = fio.filter((row) => row.errors !== 0);
  if (bad.length > 0) throw new Error(`fio reported errors: ${JSON.stringify(bad)}`);
  const result: PackedBenchResult = { tree, fio, mode: o.mode, sizeMb: o.sizeMb, runtimeS: o.runtimeS, date: new Date().toISOString() };
  const md = renderPackedReport(result);
  mkdirSync(benchReportDir(), { recursive: true });
  writeFileSync(join(benchReportDir(), 'packed.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(benchReportDir(), 'packed.md'), md);
  process.stdout.write(md);
  return result;
}

export const packedBench: BenchModule = {
  summary: 'packed ublk device vs zram (lz4) and the 1:1 device: tree copy + fio, in the guest',
  usage: USAGE,
  unavailableReason: device.deviceBenchUnavailable,
  async run(args): Promise<BenchOutcome> {
    const result = await runPackedBench(args);
    const p = result.tree.find((t) => t.label === 'ublk-packed');
    const z = result.tree.find((t) => t.label === 'zram');
    return {
      reportFiles: ['bench/report/packed.json', 'bench/report/packed.md'],
      headline: p && z ? [`packed tree copy: ${(p.logicalBytes / p.physicalBytes).toFixed(2)}:1 vs zram ${(z.logicalBytes / z.physicalBytes).toFixed(2)}:1`] : [],
    };
  },
};
