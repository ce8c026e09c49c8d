// The benchmark report's data: the raw lines bench/suite/guest.sh prints, and
// what the host derives from them (means, spread over rounds, ratios to zram
// and dm-vdo of the same round, CPU per GiB, per-device summary lines).

import type { Timings } from './timing.js';

export const DEVICES = ['packed', 'direct', 'zram', 'vdo', 'loop', 'brd'] as const;
export type DeviceName = (typeof DEVICES)[number];
export const DEVICE_TITLES: Record<DeviceName, string> = {
  packed: 'ublk-compress packed',
  direct: 'ublk-compress 1:1',
  zram: 'zram (lz4)',
  vdo: 'dm-vdo',
  loop: 'loop (tmpfs file)',
  brd: 'brd (RAM disk)',
};
export const WORKLOADS = ['seqwrite-1m', 'randread-4k', 'randwrite-4k'] as const;
export type Workload = (typeof WORKLOADS)[number];
/** The devices whose figures every other figure is divided by. */
export const REFERENCES = ['zram', 'vdo'] as const;
/** The fio matrix cell the speed workloads write (its space comes from the first speed round). */
export const SPEED_CELL = 'fio-d45c60';
/**
 * Devices that store every block as written (ratio ~1 by construction): the
 * fio matrix beyond the speed cell runs without them, because a device set-up
 * costs more than a small fill under emulation and they would only repeat
 * their speed-cell row.
 */
export const PLAIN_DEVICES: readonly DeviceName[] = ['direct', 'loop', 'brd'];

/** The devices the fio matrix beyond the speed cell runs on. */
export function matrixDevices(devices: readonly DeviceName[] = DEVICES): DeviceName[] {
  return devices.filter((d) => !PLAIN_DEVICES.includes(d));
}

/** The devices a space data set runs on. */
export function devicesOf(dataset: string, devices: readonly DeviceName[] = DEVICES): DeviceName[] {
  return dataset.startsWith('fio-') && dataset !== SPEED_CELL ? matrixDevices(devices) : [...devices];
}

export interface SpaceRow {
  device: DeviceName;
  dataset: string;
  logicalBytes: number;
  physicalBytes: number;
  /** The data alone (zram compr_data_size, dm-vdo data blocks, our pool). */
  dataBytes: number;
  seconds: number;
  [extra: string]: unknown;
}

export interface SpeedRow {
  round: number;
  device: DeviceName;
  workload: Workload;
  MBps: number;
  iops: number;
  runtimeSec: number;
  ioBytes: number;
  latUsMean: number;
  latUsP50: number;
  latUsP99: number;
  latUsP999: number;
  errors: number;
  /** CPU seconds of the device's server over the workload; null: no server outside the kernel. */
  serverCpuS: number | null;
  /** System + irq + softirq seconds of all guest CPUs over the workload (fio's syscalls included); null when it shared its fio process. */
  kernelCpuS: number | null;
}

export interface Spread {
  mean: number;
  min: number;
  max: number;
}

export interface SpeedSummary {
  device: DeviceName;
  workload: Workload;
  /** MB/s for seqwrite-1m, IOPS for the random workloads. */
  value: Spread;
  MBps: Spread;
  iops: Spread;
  latUsP50: number;
  latUsP99: number;
  latUsP999: number;
  /** value / value of the reference device in the same round, over the rounds. */
  vsZram: Spread;
  vsVdo: Spread;
}

export interface CpuSummary {
  device: DeviceName;
  serverCpuSPerGiB: number | null;
  kernelCpuSPerGiB: number;
}

export interface SpaceSummary extends SpaceRow {
  ratio: number;
  dataRatio: number;
  vsZram: number;
  vsVdo: number;
  /** dataRatio / dm-vdo's dataRatio: without dm-vdo's index and metadata, which it
   *  allocates at format time (~128 MiB) whatever the data and which dominate small sets. */
  vsVdoData: number;
}

export interface Ceiling {
  bytes: number;
  writeMBps: number;
  readMBps: number;
  /** The packed device's sequential write MB/s (mean over rounds) and its share of the ceiling. */
  deviceWriteMBps: number;
  deviceReadMBps: number;
  writeShare: number;
  readShare: number;
}

export interface SuiteReport {
  schema: 'ublk-compress-bench/1';
  /** False when the guest run ended early; `incomplete` says why, `problems` lists the empty cells. */
  complete: boolean;
  incomplete?: string;
  problems?: string[];
  date: string;
  quick: boolean;
  mode: 'guest' | 'native';
  durationS: number;
  machine: { hostKernel: string; hostCpu: string; hostCpus: number; loadAvgStart: number[]; loadAvgEnd: number[] };
  guest: { kernel: string; cpus: number; memBytes: number; fio: string; settings: string };
  options: Record<string, number | string>;
  devices: DeviceName[];
  datasets: string[];
  space: SpaceSummary[];
  speedRaw: SpeedRow[];
  speed: SpeedSummary[];
  cpu: CpuSummary[];
  peakRssBytes: Partial<Record<DeviceName, number>>;
  ceiling: Ceiling;
  summary: Record<DeviceName, string>;
  /** Where the run's wall time went. */
  timings: Timings;
}

export function spread(values: number[]): Spread {
  if (values.length === 0) return { mean: NaN, min: NaN, max: NaN };
  return {
    mean: values.reduce((a, b) => a + b, 0) / values.length,
    min: Math.min(...values),
    max: Math.max(...values),
  };
}

export function headline(row: Pick<SpeedRow, 'workload' | 'MBps' | 'iops'>): number {
  return row.workload === 'seqwrite-1m' ? row.MBps : row.iops;
}

export function summarizeSpeed(rows: SpeedRow[], devices: readonly DeviceName[]): SpeedSummary[] {
  const out: SpeedSummary[] = [];
  for (const device of devices) {
    for (const workload of WORKLOADS) {
      const mine = rows.filter((r) => r.device === device && r.workload === workload);
      const vs = (ref: DeviceName): Spread =>
        spread(
          mine.flatMap((r) => {
            const other = rows.find((o) => o.device === ref && o.workload === workload && o.round === r.round);
            return other && headline(other) > 0 ? [headline(r) / headline(other)] : [];
          }),
        );
      const mean = (k: 'latUsP50' | 'latUsP99' | 'latUsP999'): number => spread(mine.map((r) => r[k])).mean;
      out.push({
        device,
        workload,
        value: spread(mine.map(headline)),
        MBps: spread(mine.map((r) => r.MBps)),
        iops: spread(mine.map((r) => r.iops)),
        latUsP50: mean('latUsP50'),
        latUsP99: mean('latUsP99'),
        latUsP999: mean('latUsP999'),
        vsZram: vs('zram'),
        vsVdo: vs('vdo'),
      });
    }
  }
  return out;
}

const GIB = 1024 ** 3;
const BLOCK = 4096;

export function summarizeCpu(rows: SpeedRow[], devices: readonly DeviceName[]): CpuSummary[] {
  return devices.map((device) => {
    const seq = rows.filter((r) => r.device === device && r.workload === 'seqwrite-1m' && r.ioBytes > 0);
    const perGiB = (f: (r: SpeedRow) => number): number => spread(seq.map((r) => f(r) / (r.ioBytes / GIB))).mean;
    const server = seq.every((r) => r.serverCpuS !== null) && seq.length > 0 ? perGiB((r) => r.serverCpuS ?? 0) : null;
    return { device, serverCpuSPerGiB: server, kernelCpuSPerGiB: perGiB((r) => r.kernelCpuS ?? NaN) };
  });
}

export function summarizeSpace(rows: SpaceRow[]): SpaceSummary[] {
  // Physical is floored at one block: a device holding nothing (all-zero data
  // on zram) still gets a finite ratio.
  const ratio = (r: SpaceRow | undefined): number => (r ? r.logicalBytes / Math.max(BLOCK, r.physicalBytes) : NaN);
  const dataRatio = (r: SpaceRow | undefined): number => (r ? r.logicalBytes / Math.max(BLOCK, r.dataBytes) : NaN);
  return rows.map((r) => {
    const ref = (d: DeviceName): SpaceRow | undefined => rows.find((o) => o.device === d && o.dataset === r.dataset);
    return {
      ...r,
      ratio: ratio(r),
      dataRatio: dataRatio(r),
      vsZram: ratio(r) / ratio(ref('zram')),
      vsVdo: ratio(r) / ratio(ref('vdo')),
      vsVdoData: dataRatio(r) / dataRatio(ref('vdo')),
    };
  });
}

function fmtX(x: number): string {
  return `${x >= 10 ? x.toFixed(0) : x.toFixed(2)}x`;
}

/** One line per device: where it leads zram and dm-vdo, where it trails, by how much. */
export function summaryLine(device: DeviceName, space: SpaceSummary[], speed: SpeedSummary[]): string {
  const lead: string[] = [];
  const trail: string[] = [];
  for (const ref of REFERENCES) {
    if (ref === device) continue;
    const key = ref === 'zram' ? 'vsZram' : 'vsVdo';
    // The matrix is in the tables; the summary keeps its speed cell.
    for (const s of space.filter((x) => x.device === device && (!x.dataset.startsWith('fio-') || x.dataset === 'fio-d45c60'))) {
      const v = ref === 'zram' ? s.vsZram : s.vsVdoData;
      if (!Number.isFinite(v) || Math.abs(v - 1) < 0.05) continue;
      (v > 1 ? lead : trail).push(`space ${s.dataset} ${fmtX(v)} ${ref === 'vdo' ? 'dm-vdo (data only)' : ref}`);
    }
    for (const s of speed.filter((x) => x.device === device)) {
      const v = s[key].mean;
      if (!Number.isFinite(v) || Math.abs(v - 1) < 0.05) continue;
      (v > 1 ? lead : trail).push(`${s.workload} ${fmtX(v)} ${ref === 'vdo' ? 'dm-vdo' : ref}`);
    }
  }
  const list = (xs: string[]): string => (xs.length > 0 ? xs.join(', ') : 'nowhere');
  return `${DEVICE_TITLES[device]}: leads in ${list(lead)}; trails in ${list(trail)}.`;
}
