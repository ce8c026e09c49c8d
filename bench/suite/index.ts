// `npm run bench` (or `npm run bench -- suite`): one report of space and speed
// for ublk-compress packed and 1:1 against zram, dm-vdo, loop and brd, all six
// measured in one boot of the QEMU guest (natively where the host has
// ublk_drv) on the same data by bench/suite/guest.sh. Writes README.md,
// report.json and SVG charts to bench/report/ (or --out DIR).
import { spawn } from 'node:child_process';
import { cpus, loadavg, release } from 'node:os';
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FS_SOURCES, listFiles, pickFiles } from '../corpus/fs-image.js';
import type { BenchModule, BenchOutcome } from '../module.js';
import { benchCacheDir, benchReportDir, repoRoot } from '../paths.js';
import {
  DEVICES, headline, summarizeCpu, summarizeSpace, summarizeSpeed, summaryLine,
  type Ceiling, type DeviceName, type SpaceRow, type SpeedRow, type SuiteReport,
} from './model.js';
import { renderCharts, renderMarkdown } from './render.js';
import { validateReport } from './schema.js';

export interface SuiteOptions {
  quick: boolean;
  out: string;
  /** fio matrix cells, dDcC = dedupe D% and buffer_compress_percentage C%. */
  cells: string[];
  mode: 'guest' | 'native';
  rounds: number;
  speedMb: number;
  runtimeS: number;
  cellMb: number;
  fillMb: number;
  treeMb: number;
  vmMb: number;
  vmCopies: number;
  devMb: number;
  memMb: number;
  timeoutS: number;
}

const CELLS = ['d0c0', 'd0c60', 'd0c90', 'd45c0', 'd45c60', 'd45c90', 'd90c0', 'd90c60', 'd90c90'];
/** The smoke run keeps the speed cell of the matrix. */
const QUICK_CELLS = ['d45c60'];
const USAGE = [
  'options:',
  '  --quick          smoke run (small sizes, < 5 min): checks the pipeline, not the speeds',
  '  --out DIR        report directory (default bench/report)',
  '  --rounds N       interleaved speed rounds (default 2)',
  '  --timeout-s N    bound on the guest run (default 1800 quick, 3600 full)',
  '  --mode M         guest | native (default: native when /dev/ublk-control exists)',
].join('\n');

export function suiteOptions(args: readonly string[]): SuiteOptions {
  const quick = args.includes('--quick');
  const o: SuiteOptions = quick
    ? { quick, out: '', mode: 'guest', cells: QUICK_CELLS, rounds: 2, speedMb: 4, runtimeS: 1, cellMb: 4, fillMb: 4, treeMb: 4, vmMb: 2, vmCopies: 2, devMb: 256, memMb: 3072, timeoutS: 1800 }
    : { quick, out: '', mode: 'guest', cells: CELLS, rounds: 2, speedMb: 32, runtimeS: 5, cellMb: 16, fillMb: 16, treeMb: 24, vmMb: 8, vmCopies: 4, devMb: 512, memMb: 4096, timeoutS: 3600 };
  o.out = benchReportDir();
  o.mode = existsSync('/dev/ublk-control') ? 'native' : 'guest';
  for (let i = 0; i < args.length; i += 1) {
    const a = args[i];
    if (a === '--quick') continue;
    else if (a === '--out') o.out = args[++i] ?? '';
    else if (a === '--rounds') o.rounds = Number(args[++i]);
    else if (a === '--timeout-s') o.timeoutS = Number(args[++i]);
    else if (a === '--mode') o.mode = args[++i] === 'native' ? 'native' : 'guest';
    else throw new Error(`unknown option '${a}'\n${USAGE}`);
  }
  if (!Number.isInteger(o.rounds) || o.rounds < 2) throw new Error('--rounds needs an integer >= 2');
  if (!Number.isInteger(o.timeoutS) || o.timeoutS < 60) throw new Error('--timeout-s needs an integer >= 60');
  if (o.out === '') throw new Error('--out needs a directory');
  return o;
}

/** A stable list of real files (seeded order) summing to about `mb` MiB, cached for the guest. */
function fileList(name: string, mb: number, seed: number, sources = DEFAULT_FS_SOURCES): string {
  const path = join(benchCacheDir(), `suite-${name}-${mb}m.list`);
  if (existsSync(path)) return path;
  const total = sources.reduce((a, s) => a + s.share, 0);
  const seen = new Set<string>();
  const files = sources.flatMap((s) =>
    pickFiles(listFiles(s.dir, 4 * 1024 * 1024, seen), (mb * 1024 * 1024 * s.share) / total, seed).map((f) => f.path),
  );
  mkdirSync(benchCacheDir(), { recursive: true });
  writeFileSync(path, files.join('\n') + '\n');
  return path;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv): Promise<{ code: number; stdout: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'inherit'] });
    let stdout = '';
    child.stdout.on('data', (b: Buffer) => {
      stdout += String(b);
      process.stderr.write(String(b).replace(/^SUITE-/gm, '  '));
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout }));
  });
}

function realpathOf(path: string): string {
  mkdirSync(path, { recursive: true });
  return realpathSync(path);
}

function lines<T>(stdout: string, kind: string): T[] {
  const tag = `SUITE-${kind} `;
  return stdout.split('\n').filter((l) => l.startsWith(tag)).map((l) => JSON.parse(l.slice(tag.length)) as T);
}

async function runGuest(o: SuiteOptions): Promise<{ stdout: string; incomplete?: string }> {
  const root = repoRoot();
  const vdo = await run('bash', [join(root, 'bench/guest/vdo-tools.sh')], process.env);
  if (vdo.code !== 0) throw new Error('cannot fetch dm-vdo user space (bench/guest/vdo-tools.sh)');
  const env = {
    ...process.env,
    // vm-run's run directory must be a real path: the guest mounts the host
    // root under /mnt before its chroot, where an absolute symlink in the
    // path (.cache -> elsewhere) would not resolve.
    UBLK_VM_CACHE: process.env.UBLK_VM_CACHE ?? realpathOf(join(root, '.cache/vm')),
    SUITE_DEVICES: 'brd loop zram vdo direct packed',
    SUITE_ROUNDS: String(o.rounds),
    SUITE_SPEED_MB: String(o.speedMb),
    SUITE_RUNTIME_S: String(o.runtimeS),
    SUITE_CELL_MB: String(o.cellMb),
    SUITE_CELLS: o.cells.join(' '),
    SUITE_FILL_MB: String(o.fillMb),
    SUITE_TREE_LIST: fileList('tree', o.treeMb, 1),
    SUITE_VM_LIST: fileList('vm', o.vmMb, 2, [{ dir: '/usr/lib', share: 2 }, { dir: '/usr/share', share: 1 }]),
    SUITE_VM_COPIES: String(o.vmCopies),
    SUITE_DEV_MB: String(o.devMb),
    SUITE_VDO_DIR: vdo.stdout.trim().split('\n').pop() ?? '',
  };
  const script = 'bash bench/suite/guest.sh';
  const r =
    o.mode === 'native'
      ? await run('bash', ['-c', `modprobe ublk_drv; modprobe zram; modprobe loop; modprobe dm-vdo; ${script}`], env)
      : await run(join(root, 'test/vm/vm-run'), ['--timeout', String(o.timeoutS), '--mem', String(o.memMb), '--modules', 'zram,loop,dm-vdo', '--', script], env);
  const complete = r.code === 0 && r.stdout.includes('SUITE-DONE');
  if (!complete && !r.stdout.includes('SUITE-SPEED')) throw new Error(`bench/suite/guest.sh failed (exit ${r.code}):\n${r.stdout.slice(-3000)}`);
  // A run cut short (timeout on a loaded machine) still reports what it measured.
  return { stdout: r.stdout, incomplete: complete ? undefined : `the guest run ended early (exit ${r.code}${r.code === 124 ? ', timeout' : ''})` };
}

export function buildReport(stdout: string, o: SuiteOptions, started: number, loadStart: number[], incomplete?: string): SuiteReport {
  const info = lines<{ kernel: string; cpus: number; memBytes: number; fio: string }>(stdout, 'INFO')[0];
  const speedRaw = lines<SpeedRow>(stdout, 'SPEED');
  const spaceRows = lines<SpaceRow>(stdout, 'SPACE');
  const ceil = lines<{ bytes: number; writeMBps: number; readMBps: number }>(stdout, 'CEILING')[0];
  const devices = [...DEVICES];
  const speed = summarizeSpeed(speedRaw, devices);
  const space = summarizeSpace(spaceRows);
  const peakRssBytes: Partial<Record<DeviceName, number>> = {};
  for (const r of lines<{ device: DeviceName; peakRssBytes: number }>(stdout, 'RSS')) {
    peakRssBytes[r.device] = Math.max(peakRssBytes[r.device] ?? 0, r.peakRssBytes);
  }
  const packed = (w: string): number => speed.find((s) => s.device === 'packed' && s.workload === w)?.MBps.mean ?? NaN;
  const ceiling: Ceiling = {
    bytes: ceil?.bytes ?? NaN,
    writeMBps: ceil?.writeMBps ?? NaN,
    readMBps: ceil?.readMBps ?? NaN,
    deviceWriteMBps: packed('seqwrite-1m'),
    deviceReadMBps: packed('randread-4k'),
    writeShare: packed('seqwrite-1m') / (ceil?.writeMBps ?? NaN),
    readShare: packed('randread-4k') / (ceil?.readMBps ?? NaN),
  };
  const summary = Object.fromEntries(devices.map((d) => [d, summaryLine(d, space, speed)])) as Record<DeviceName, string>;
  const { out: _out, timeoutS: _t, cells, ...options } = o;
  return {
    schema: 'ublk-compress-bench/1',
    complete: incomplete === undefined,
    ...(incomplete === undefined ? {} : { incomplete }),
    date: new Date(started).toISOString(),
    quick: o.quick,
    mode: o.mode,
    durationS: Math.round((Date.now() - started) / 1000),
    machine: { hostKernel: release(), hostCpu: cpus()[0]?.model ?? 'unknown', hostCpus: cpus().length, loadAvgStart: loadStart, loadAvgEnd: loadavg() },
    guest: {
      kernel: info?.kernel ?? 'unknown',
      cpus: info?.cpus ?? NaN,
      memBytes: info?.memBytes ?? NaN,
      fio: info?.fio ?? 'unknown',
      settings: o.mode === 'guest' ? 'QEMU TCG (-accel tcg,thread=multi, -cpu max,-pks,-la57,-cx16), root shared over virtio-fs, mitigations=off' : 'native',
    },
    options: { ...options, cells: cells.join(' '), quick: String(o.quick) },
    devices,
    datasets: [...new Set(spaceRows.map((s) => s.dataset))],
    space,
    speedRaw,
    speed,
    cpu: summarizeCpu(speedRaw, devices),
    peakRssBytes,
    ceiling,
    summary,
  };
}

export async function runSuite(args: readonly string[]): Promise<{ report: SuiteReport; files: string[] }> {
  const o = suiteOptions(args);
  const started = Date.now();
  const loadStart = loadavg();
  const { stdout, incomplete } = await runGuest(o);
  const report = buildReport(stdout, o, started, loadStart, incomplete);
  const bad = report.speedRaw.filter((r) => r.errors !== 0 || !(headline(r) > 0));
  if (bad.length > 0) throw new Error(`fio reported errors or no I/O: ${JSON.stringify(bad)}`);
  const problems = validateReport(JSON.parse(JSON.stringify(report)));
  if (problems.length > 0) report.problems = problems;
  mkdirSync(o.out, { recursive: true });
  const charts = renderCharts(report);
  for (const [name, svg] of Object.entries(charts)) writeFileSync(join(o.out, name), svg);
  writeFileSync(join(o.out, 'report.json'), `${JSON.stringify(report, null, 2)}\n`);
  writeFileSync(join(o.out, 'README.md'), renderMarkdown(report, Object.keys(charts)));
  if (problems.length > 0) throw new Error(`report incomplete (files written to ${o.out}):\n${problems.join('\n')}`);
  return { report, files: ['README.md', 'report.json', ...Object.keys(charts)].map((f) => join(o.out, f)) };
}

export const suiteBench: BenchModule = {
  summary: 'the report: packed and 1:1 vs zram, dm-vdo, loop and brd, space and speed, one guest boot',
  usage: USAGE,
  async unavailableReason() {
    if (process.getuid?.() !== 0) return 'needs root (ublk devices, or virtiofsd for the guest)';
    if (!existsSync('/dev/ublk-control') && !existsSync(join(repoRoot(), 'test/vm/vm-run'))) return 'no ublk_drv here and no guest harness';
    return undefined;
  },
  async run(args): Promise<BenchOutcome> {
    const { report, files } = await runSuite(args);
    return { reportFiles: files, headline: report.devices.map((d) => report.summary[d]) };
  },
};
