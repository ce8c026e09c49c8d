// bench/report/packed.md of `npm run bench -- packed`: the packed device as
// ratios to zram of the same round (the figures its speed targets are set
// in), then every device's figures per round, the tree's space, and RSS.
import { markdownTable } from './render/table.js';
import { DEVICE_TITLES, headline, WORKLOADS, type DeviceName, type SpaceSummary, type SpeedRow, type SpeedSummary } from './suite/model.js';

/** Speed rounds run them in this order; zram is the reference of every ratio. */
export const PACKED_DEVICES: readonly DeviceName[] = ['zram', 'direct', 'packed'];

export interface PackedBenchResult {
  mode: string;
  date: string;
  rounds: number;
  sizeMb: number;
  runtimeS: number;
  treeMb: number;
  /** Every fio job, per round and device (bench/guest/fio-baseline.sh lines). */
  speedRaw: SpeedRow[];
  /** Means over the rounds and the ratios to zram of the same round. */
  speed: SpeedSummary[];
  tree: SpaceSummary[];
  peakRssBytes: Partial<Record<DeviceName, number>>;
}

const MIB = 1024 * 1024;
const x3 = (v: number): string => (Number.isFinite(v) ? v.toFixed(3) : 'n/a');
const ms = (us: number): string => (Number.isFinite(us) ? (us / 1000).toFixed(2) : 'n/a');

/** Every fio job of a run and its number of rounds: what the ratio table needs. */
export type RoundRows = Pick<PackedBenchResult, 'speedRaw' | 'rounds'>;

function row(r: RoundRows, device: DeviceName, workload: string, round: number): SpeedRow | undefined {
  return r.speedRaw.find((x) => x.device === device && x.workload === workload && x.round === round);
}

/** packed / zram of one round for one figure, NaN when either is missing. */
function perRound(r: RoundRows, workload: string, round: number, f: (x: SpeedRow) => number): number {
  const p = row(r, 'packed', workload, round);
  const z = row(r, 'zram', workload, round);
  return p && z && f(z) > 0 ? f(p) / f(z) : NaN;
}

const mean = (xs: number[]): number => xs.reduce((a, b) => a + b, 0) / xs.length;

/** The four figures the packed device is judged on, per round and their mean. */
export function ratioTable(r: RoundRows): string {
  const rounds = Array.from({ length: r.rounds }, (_, i) => i + 1);
  const ratioRow = (label: string, workload: string, target: string): string[] => {
    const v = rounds.map((k) => perRound(r, workload, k, headline));
    return [label, ...v.map(x3), x3(mean(v)), target];
  };
  const p99 = rounds.map((k) => [row(r, 'packed', 'randwrite-4k', k)?.latUsP99 ?? NaN, row(r, 'zram', 'randwrite-4k', k)?.latUsP99 ?? NaN]);
  return markdownTable(
    ['packed / zram, same round', ...rounds.map((k) => `round ${k}`), 'mean', 'target'],
    [
      ratioRow('4 KiB randread QD16, IOPS', 'randread-4k', '>= 0.35'),
      ratioRow('4 KiB randwrite QD16, IOPS', 'randwrite-4k', '>= 0.30'),
      ratioRow('1 MiB seq write QD4, MB/s', 'seqwrite-1m', '>= 0.40'),
      [
        '4 KiB randwrite QD16 p99, ms packed (zram)',
        ...p99.map(([p, z]) => `${ms(p)} (${ms(z)})`),
        `${ms(mean(p99.map(([p]) => p)))} (${ms(mean(p99.map(([, z]) => z)))})`,
        '<= 10 ms',
      ],
    ],
  );
}

function speedTable(r: PackedBenchResult): string {
  const rows: string[][] = [];
  for (const w of WORKLOADS) {
    for (const d of PACKED_DEVICES) {
      for (let k = 1; k <= r.rounds; k += 1) {
        const x = row(r, d, w, k);
        if (!x) continue;
        rows.push([w, DEVICE_TITLES[d], String(k), String(x.MBps), String(x.iops), ms(x.latUsP50), ms(x.latUsP99), ms(x.latUsP999)]);
      }
    }
  }
  return markdownTable(['job', 'device', 'round', 'MB/s', 'IOPS', 'p50 ms', 'p99 ms', 'p99.9 ms'], rows);
}

function treeTable(r: PackedBenchResult): string {
  const rows = r.tree.map((t) => [
    t.dataset,
    DEVICE_TITLES[t.device],
    `${t.seconds.toFixed(1)} s`,
    (t.logicalBytes / MIB).toFixed(1),
    (t.physicalBytes / MIB).toFixed(1),
    `${t.ratio.toFixed(2)}:1`,
    x3(t.vsZram),
  ]);
  return markdownTable(['data set', 'device', 'time', 'logical MiB', 'physical MiB', 'logical/physical', 'x zram'], rows);
}

export function renderPackedReport(r: PackedBenchResult): string {
  const rss = PACKED_DEVICES.filter((d) => r.peakRssBytes[d] !== undefined)
    .map((d) => `${DEVICE_TITLES[d]} ${((r.peakRssBytes[d] as number) / MIB).toFixed(1)} MiB`)
    .join(', ');
  return [
    `# Packed ublk device vs zram (lz4) and the 1:1 ublk device (${r.mode}, ${r.date})`,
    '',
    `fio pinned to vCPU 0, every server to vCPU 1; ${r.rounds} interleaved rounds (${PACKED_DEVICES.join(', ')}, then again), ` +
      `each device fresh; fio-baseline.sh workloads over ${r.sizeMb} MiB, ${r.runtimeS} s per random job, compress 60% dedupe 30%.`,
    '',
    ratioTable(r),
    '',
    speedTable(r),
    '',
    `Space: two copies of ${r.treeMb} MiB of this machine's /usr/lib, /usr/share and /usr/include on ext4 (4 KiB blocks), sync; ` +
      'then one copy deleted and fstrim. Physical: zram mem_used_total; 1:1 backing file allocated; packed pool + metadata allocated.',
    '',
    treeTable(r),
    '',
    `Server peak RSS: ${rss === '' ? 'n/a' : rss}.`,
    '',
  ].join('\n');
}
