// `npm run bench` (or `npm run bench -- suite`): one report of space and speed
// for ublk-compress packed and 1:1 against zram, dm-vdo, loop and brd, all six
// measured in one boot of the QEMU guest (natively where the host has
// ublk_drv) on the same data by bench/suite/guest.sh. Writes README.md,
// report.json and SVG charts to bench/report/ (or --out DIR).
import { cpus, loadavg, release } from 'node:os';
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getFlag, getNumber, getString, parseArgs, type OptionSpec } from '../../src/cli/args.js';
import { UcError } from '../../src/util/errors.js';
import * as device from '../device-bench.js';
import type { BenchModule, BenchOutcome } from '../module.js';
import { benchReportDir } from '../paths.js';
import {
  DEVICES, headline, summarizeCpu, summarizeSpace, summarizeSpeed, summaryLine,
  type Ceiling, type DeviceName, type SpaceRow, type SpeedRow, type SuiteReport,
} from './model.js';
import { renderCharts, renderMarkdown } from './render.js';
import { runGuest, suiteLines as lines, type GuestOutput, type GuestPlan } from './run-guest.js';
import { summarizeTimes, type TimeRow } from './timing.js';
import { validateReport } from './schema.js';

export interface SuiteOptions extends GuestPlan {
  quick: boolean;
  out: string;
  /** fio matrix cells, dDcC = dedupe D% and buffer_compress_percentage C%. */
  cells: string[];
}

const CELLS = ['d0c0', 'd0c60', 'd0c90', 'd45c0', 'd45c60', 'd45c90', 'd90c0', 'd90c60', 'd90c90'];
/**
 * The smoke run keeps the speed cell of the matrix (measured on the first
 * speed round's devices: no set-up of its own) and the real tree (ext4 +
 * fstrim): every kind of measurement of the report at the fewest device
 * set-ups, which dominate a small run under emulation. The dd, same-fill and
 * mutate fills are plain writes; guest-helper's are tested on the host, and
 * the empty-device ratio (zram on all-zero data) in the unit tests.
 */
const QUICK_SETS = ['fio-d45c60', 'tree'];
const OPTIONS: readonly OptionSpec[] = [
  { name: 'quick', kind: 'boolean', help: 'smoke run (small sizes): checks the pipeline, not the speeds' },
  { name: 'out', kind: 'string', valueName: 'DIR', help: 'report directory (default bench/report)' },
  { name: 'rounds', kind: 'int', valueName: 'N', min: 2, help: 'interleaved speed rounds (default 2)' },
  {
    name: 'cells',
    kind: 'string',
    valueName: 'LIST',
    help: `comma list of fio matrix cells dDcC (dedupe D%, compress C%) for the space part (default all: ${CELLS.join(',')})`,
  },
  { name: 'timeout-s', kind: 'int', valueName: 'N', min: 60, help: 'bound on the guest run (default 1800 quick, 2400 full)' },
  device.MODE_OPTION,
];

/**
 * The space data sets in the order they run: the speed cell and the real-data
 * sets first, the rest of the matrix last, so a run cut short on a loaded
 * machine still answers the main questions.
 */
export function spaceSets(cells: readonly string[]): string[] {
  return ['fio-d45c60', 'tree', 'vm-images', 'zero', 'same-fill', ...cells.filter((c) => c !== 'd45c60').map((c) => `fio-${c}`)];
}

export function suiteOptions(argv: readonly string[]): SuiteOptions {
  const args = parseArgs(argv, OPTIONS);
  const quick = getFlag(args, 'quick');
  const cells = getString(args, 'cells')?.split(',') ?? (quick ? ['d45c60'] : CELLS);
  const bad = cells.filter((c) => !CELLS.includes(c));
  if (bad.length > 0) throw new UcError('UC_INVALID_ARGUMENT', `--cells: one or more of ${CELLS.join(',')} (not ${bad.join(',')})`);
  const sizes = quick
    ? { speedMb: 4, runtimeS: 1, cellMb: 4, fillMb: 4, treeMb: 4, vmMb: 2, vmCopies: 2, devMb: 256, memMb: 3072, timeoutS: 1800 }
    : { speedMb: 32, runtimeS: 5, cellMb: 16, fillMb: 8, treeMb: 12, vmMb: 4, vmCopies: 3, devMb: 512, memMb: 4096, timeoutS: 2400 };
  return {
    ...sizes,
    quick,
    out: getString(args, 'out') ?? benchReportDir(),
    mode: device.modeOf(args),
    devices: ['brd', 'loop', 'zram', 'vdo', 'direct', 'packed'],
    rounds: getNumber(args, 'rounds') ?? 2,
    timeoutS: getNumber(args, 'timeout-s') ?? sizes.timeoutS,
    speedDedupe: 45,
    cells,
    sets: quick && getString(args, 'cells') === undefined ? QUICK_SETS : spaceSets(cells),
  };
}

export function buildReport(guest: GuestOutput, o: SuiteOptions, started: number, loadStart: number[]): SuiteReport {
  const { stdout, incomplete } = guest;
  const durationS = Math.round((Date.now() - started) / 1000);
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
  const { out: _out, timeoutS: _t, devices: _d, sets: _s, cells, ...options } = o;
  return {
    schema: 'ublk-compress-bench/1',
    complete: incomplete === undefined,
    ...(incomplete === undefined ? {} : { incomplete }),
    date: new Date(started).toISOString(),
    quick: o.quick,
    mode: o.mode,
    durationS,
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
    timings: summarizeTimes(lines<TimeRow>(stdout, 'TIME'), guest.host, durationS),
  };
}

export async function runSuite(args: readonly string[]): Promise<{ report: SuiteReport; files: string[] }> {
  const o = suiteOptions(args);
  const started = Date.now();
  const loadStart = loadavg();
  const report = buildReport(await runGuest(o), o, started, loadStart);
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
  usage: device.usageOf(OPTIONS),
  unavailableReason: device.deviceBenchUnavailable,
  async run(args): Promise<BenchOutcome> {
    const { report, files } = await runSuite(args);
    return { reportFiles: files, headline: report.devices.map((d) => report.summary[d]) };
  },
};
