// `npm run bench -- packed`: the packed ublk device vs zram (lz4) and the 1:1
// ublk device, in one boot of the QEMU guest (or natively where the host has
// ublk_drv), on the same data, through the report's guest script
// (bench/suite/guest.sh): fio pinned to vCPU 0 and every server to vCPU 1,
// interleaved rounds (zram, 1:1, packed, then again) of 1 MiB sequential write
// and 4 KiB random read and write at QD16 on fio 60% compressible and 30%
// duplicate data, then a real tree copied twice onto ext4 on each device.
// Prints and writes bench/report/packed.{json,md}: the packed device's figures
// as ratios to zram of the same round. Guest figures compare only with each
// other (TCG, shared host).
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { getNumber, parseArgs, type OptionSpec } from '../src/cli/args.js';
import * as device from './device-bench.js';
import type { BenchModule, BenchOutcome } from './module.js';
import { benchReportDir } from './paths.js';
import { PACKED_DEVICES, renderPackedReport, type PackedBenchResult } from './packed-report.js';
import { summarizeSpace, summarizeSpeed, type DeviceName, type SpeedRow } from './suite/model.js';
import { runGuest, suiteLines, type GuestPlan } from './suite/run-guest.js';

const OPTIONS: readonly OptionSpec[] = [
  device.countOption('size-mb', 'fio region in MiB (default 128)'),
  device.countOption('runtime-s', 'seconds per random job (default 10)'),
  { name: 'rounds', kind: 'int', valueName: 'N', min: 2, help: 'interleaved rounds (default 2)' },
  device.countOption('tree-mb', 'MiB of real files in the tree data set, copied twice (default 24)'),
  device.MODE_OPTION,
];

export function packedPlan(argv: readonly string[]): GuestPlan & { treeMb: number } {
  const args = parseArgs(argv, OPTIONS);
  const rounds = getNumber(args, 'rounds') ?? 2;
  const speedMb = device.countOf(args, 'size-mb', 128);
  const runtimeS = device.countOf(args, 'runtime-s', 10);
  return {
    mode: device.modeOf(args),
    devices: PACKED_DEVICES,
    rounds,
    speedMb,
    runtimeS,
    speedDedupe: 30,
    sets: ['tree'],
    cellMb: 0,
    fillMb: 0,
    treeMb: device.countOf(args, 'tree-mb', 24),
    vmMb: 0,
    vmCopies: 0,
    devMb: Math.max(1024, speedMb),
    memMb: 3072,
    // Generous: on a loaded 2-core host one device's jobs and daemon start take minutes.
    timeoutS: 600 + rounds * PACKED_DEVICES.length * (240 + 3 * runtimeS),
  };
}

export function packedResult(stdout: string, plan: GuestPlan & { treeMb: number }): PackedBenchResult {
  const speedRaw = suiteLines<SpeedRow>(stdout, 'SPEED');
  const peakRssBytes: Partial<Record<DeviceName, number>> = {};
  for (const r of suiteLines<{ device: DeviceName; peakRssBytes: number }>(stdout, 'RSS')) {
    peakRssBytes[r.device] = Math.max(peakRssBytes[r.device] ?? 0, r.peakRssBytes);
  }
  return {
    mode: plan.mode,
    date: new Date().toISOString(),
    rounds: plan.rounds,
    sizeMb: plan.speedMb,
    runtimeS: plan.runtimeS,
    treeMb: plan.treeMb,
    speedRaw,
    speed: summarizeSpeed(speedRaw, PACKED_DEVICES),
    tree: summarizeSpace(suiteLines(stdout, 'SPACE')),
    peakRssBytes,
  };
}

export async function runPackedBench(args: readonly string[]): Promise<PackedBenchResult> {
  const plan = packedPlan(args);
  const { stdout, incomplete } = await runGuest(plan);
  const result = packedResult(stdout, plan);
  const expected = plan.rounds * PACKED_DEVICES.length * 3;
  if (incomplete !== undefined || result.speedRaw.length !== expected) {
    throw new Error(`packed bench: ${incomplete ?? `${result.speedRaw.length} of ${expected} fio jobs reported`}`);
  }
  const bad = result.speedRaw.filter((row) => row.errors !== 0);
  if (bad.length > 0) throw new Error(`fio reported errors: ${JSON.stringify(bad)}`);
  const md = renderPackedReport(result);
  mkdirSync(benchReportDir(), { recursive: true });
  writeFileSync(join(benchReportDir(), 'packed.json'), `${JSON.stringify(result, null, 2)}\n`);
  writeFileSync(join(benchReportDir(), 'packed.md'), md);
  process.stdout.write(md);
  return result;
}

export const packedBench: BenchModule = {
  summary: 'packed ublk device vs zram (lz4) and the 1:1 device: pinned, interleaved fio rounds + tree copy, in the guest',
  usage: device.usageOf(OPTIONS),
  unavailableReason: device.deviceBenchUnavailable,
  async run(args): Promise<BenchOutcome> {
    const result = await runPackedBench(args);
    const vs = (w: string): string => (result.speed.find((s) => s.device === 'packed' && s.workload === w)?.vsZram.mean ?? NaN).toFixed(3);
    return {
      reportFiles: ['bench/report/packed.json', 'bench/report/packed.md'],
      headline: [`packed x zram: randread-4k ${vs('randread-4k')}, randwrite-4k ${vs('randwrite-4k')}, seqwrite-1m ${vs('seqwrite-1m')}`],
    };
  },
};
