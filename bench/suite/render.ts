// bench/report/README.md and the SVG charts from one SuiteReport.
import { renderBarChart, type BarSeries } from '../render/svg-bars.js';
import { ratioTable } from '../packed-report.js';
import { markdownTable } from '../render/table.js';
import { DEVICE_TITLES, PLAIN_DEVICES, WORKLOADS, devicesOf, type DeviceName, type Spread, type SuiteReport } from './model.js';

const COLORS: Record<DeviceName, string> = {
  packed: '#1f77b4',
  direct: '#7fb6e0',
  zram: '#ff7f0e',
  vdo: '#2ca02c',
  loop: '#9467bd',
  brd: '#8c8c8c',
};
const MIB = 1024 * 1024;

const f2 = (x: number): string => (Number.isFinite(x) ? (Math.abs(x) >= 100 ? x.toFixed(0) : x.toFixed(2)) : 'n/a');
const spr = (s: Spread): string => `${f2(s.mean)} (${f2(s.min)}-${f2(s.max)})`;
const mib = (b: number): string => (b / MIB).toFixed(1);
const ms = (us: number): string => (us >= 1000 ? `${(us / 1000).toFixed(1)} ms` : `${us.toFixed(0)} µs`);

function series(r: SuiteReport, value: (d: DeviceName) => number[]): BarSeries[] {
  return r.devices.map((d) => ({ name: DEVICE_TITLES[d], color: COLORS[d], values: value(d) }));
}

export function renderCharts(r: SuiteReport): Record<string, string> {
  const sp = (d: DeviceName, w: string): number => r.speed.find((s) => s.device === d && s.workload === w)?.value.mean ?? NaN;
  const lat = (d: DeviceName, w: string): number[] => {
    const s = r.speed.find((x) => x.device === d && x.workload === w);
    return s ? [s.latUsP50 / 1000, s.latUsP99 / 1000, s.latUsP999 / 1000] : [NaN, NaN, NaN];
  };
  const c = r.ceiling;
  return {
    'space-ratio.svg': renderBarChart({
      title: 'Space: logical / physical per data set (higher saves more)',
      yLabel: 'ratio',
      categories: r.datasets,
      series: series(r, (d) => r.datasets.map((ds) => r.space.find((s) => s.device === d && s.dataset === ds)?.ratio ?? NaN)),
    }),
    'speed-seqwrite.svg': renderBarChart({
      title: '1 MiB sequential write, MB/s (mean of rounds)',
      yLabel: 'MB/s',
      categories: ['seqwrite-1m'],
      series: series(r, (d) => [sp(d, 'seqwrite-1m')]),
    }),
    'speed-iops.svg': renderBarChart({
      title: '4 KiB random I/O at QD16, IOPS (mean of rounds)',
      yLabel: 'IOPS',
      categories: ['randread-4k', 'randwrite-4k'],
      series: series(r, (d) => [sp(d, 'randread-4k'), sp(d, 'randwrite-4k')]),
    }),
    'latency-randread.svg': renderBarChart({
      title: '4 KiB random read latency (ms)',
      yLabel: 'ms',
      categories: ['p50', 'p99', 'p99.9'],
      series: series(r, (d) => lat(d, 'randread-4k')),
    }),
    'latency-randwrite.svg': renderBarChart({
      title: '4 KiB random write latency (ms)',
      yLabel: 'ms',
      categories: ['p50', 'p99', 'p99.9'],
      series: series(r, (d) => lat(d, 'randwrite-4k')),
    }),
    'engine-ceiling.svg': renderBarChart({
      title: 'Packed device vs its own lz4+XXH128 ceiling, MB/s (same vCPU)',
      yLabel: 'MB/s',
      categories: ['write', 'read'],
      series: [
        { name: 'packed device', color: COLORS.packed, values: [c.deviceWriteMBps, c.deviceReadMBps] },
        { name: 'lz4+XXH128 ceiling', color: '#d62728', values: [c.writeMBps, c.readMBps] },
      ],
    }),
  };
}

/** One row per device: the headline figures and their ratios to zram / dm-vdo. */
function summaryTable(r: SuiteReport): string[] {
  const sets = ['tree', 'vm-images', 'fio-d45c60'].filter((d) => r.datasets.includes(d));
  const rows = r.devices.map((d) => {
    const space = sets.map((ds) => {
      const s = r.space.find((x) => x.device === d && x.dataset === ds);
      return s ? `${f2(s.ratio)} · ${f2(s.dataRatio)}` : 'n/a';
    });
    const speed = WORKLOADS.map((w) => {
      const s = r.speed.find((x) => x.device === d && x.workload === w);
      return s ? `${f2(s.value.mean)} (${f2(s.vsZram.mean)}x / ${f2(s.vsVdo.mean)}x)` : 'n/a';
    });
    return [DEVICE_TITLES[d], ...space, ...speed];
  });
  return [
    markdownTable(['device', ...sets.map((s) => `ratio ${s}`), 'seq write MB/s (x zram / x dm-vdo)', 'rand read IOPS (x zram / x dm-vdo)', 'rand write IOPS (x zram / x dm-vdo)'], rows),
  ];
}

function spaceTable(r: SuiteReport): string[] {
  const rows = r.datasets.map((ds) => [
    ds,
    mib(r.space.find((s) => s.dataset === ds)?.logicalBytes ?? NaN),
    ...r.devices.map((d) => {
      const s = r.space.find((x) => x.device === d && x.dataset === ds);
      if (!s) return devicesOf(ds, r.devices).includes(d) ? 'n/a' : '-';
      return `${f2(s.ratio)} (${mib(s.physicalBytes)}) · ${f2(s.dataRatio)}`;
    }),
  ]);
  return [markdownTable(['data set', 'logical MiB', ...r.devices.map((d) => DEVICE_TITLES[d])], rows)];
}

function speedTables(r: SuiteReport): string[] {
  const out: string[] = [];
  for (const w of WORKLOADS) {
    const unit = w === 'seqwrite-1m' ? 'MB/s' : 'IOPS';
    const rows = r.devices.map((d) => {
      const s = r.speed.find((x) => x.device === d && x.workload === w);
      if (!s) return [DEVICE_TITLES[d], 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a', 'n/a'];
      return [
        DEVICE_TITLES[d],
        spr(s.value),
        w === 'seqwrite-1m' ? f2(s.iops.mean) : f2(s.MBps.mean),
        spr(s.vsZram),
        spr(s.vsVdo),
        ms(s.latUsP50),
        ms(s.latUsP99),
        ms(s.latUsP999),
      ];
    });
    out.push(`### ${w}`, '');
    const other = w === 'seqwrite-1m' ? 'IOPS' : 'MB/s';
    out.push(markdownTable([`device`, `${unit} mean (min-max)`, other, 'x zram', 'x dm-vdo', 'p50', 'p99', 'p99.9'], rows), '');
  }
  return out;
}

/** Where the run's wall time went, part by part, with the device set-ups in it. */
function timeTable(r: SuiteReport): string[] {
  const t = r.timings;
  const s = (x: number): string => (x > 0 ? x.toFixed(0) : '');
  const rows = t.parts.map((p) => [p.part, p.seconds.toFixed(0), s(p.setupS), s(p.teardownS)]);
  rows.push(['total (`npm run bench`, report included)', t.totalS.toFixed(0), '', '']);
  const setups = r.devices.filter((d) => t.setupByDevice[d] !== undefined).map((d) => `${DEVICE_TITLES[d]} ${(t.setupByDevice[d] as number).toFixed(0)} s`);
  return [
    markdownTable(['part', 'seconds', 'of which device set-ups', 'and tear-downs'], rows),
    '',
    `Set-up (until the device is usable) per device over the run: ${setups.join(', ')}. In the space part our servers and dm-vdo start while the other devices of the same data set fill (their set-up is the wait left) and dm-vdo is removed in the background.`,
  ];
}

function cpuTable(r: SuiteReport): string[] {
  const rows = r.cpu.map((c) => [
    DEVICE_TITLES[c.device],
    c.serverCpuSPerGiB === null ? 'in kernel (no server)' : f2(c.serverCpuSPerGiB),
    f2(c.kernelCpuSPerGiB),
    r.peakRssBytes[c.device] !== undefined ? `${mib(r.peakRssBytes[c.device] as number)} MiB` : '-',
  ]);
  return [markdownTable(['device', 'server CPU s/GiB', 'kernel CPU s/GiB', 'server peak RSS'], rows)];
}

export function renderMarkdown(r: SuiteReport, charts: string[]): string {
  const g = r.guest;
  const m = r.machine;
  const c = r.ceiling;
  return [
    `# ublk-compress: space and speed against zram, dm-vdo, loop and brd`,
    '',
    `Run ${r.date}${r.quick ? ' (`--quick` smoke run: small sizes, figures are not meaningful)' : ''}, ${(r.durationS / 60).toFixed(1)} min.`,
    '',
    ...(r.complete ? [] : [`**Incomplete: ${r.incomplete ?? ''}.** Cells without figures read n/a; ${(r.problems ?? []).length} figures missing (report.json \`problems\`).`, '']),
    '## Summary',
    '',
    ...summaryTable(r),
    '',
    'Ratio: logical / physical (all-in) · logical / data only. Speed: mean of the rounds, and the mean of the per-round ratios to zram and dm-vdo.',
    '',
    ...r.devices.map((d) => `- ${r.summary[d]}`),
    '',
    '## How to read this',
    '',
    `- All six devices ran in ${r.mode === 'guest' ? 'one boot of a QEMU guest under emulation (TCG)' : 'one session on this host'}, one after the other, on the same data. ` +
      'Guest figures are several times below real hardware and compare **only within this report**: read the ratios (x zram, x dm-vdo), which divide by the reference device of the same round.',
    `- Speed: ${r.options.rounds} interleaved rounds (every device, then every device again); each cell is the mean with the range over the rounds. fio runs on vCPU 0, every server (our daemon, dm-vdo's threads) on vCPU 1.`,
    '- Space: ratio = logical / physical bytes, physical in MiB in brackets (higher ratio saves more). Physical is what the device really holds: ours = pool file allocated + metadata (LevelDB); zram = mem_used_total; dm-vdo = its backing file allocated (data, index and metadata); loop and 1:1 = backing file allocated; brd = the guest memory it took (memory no /proc/meminfo counter accounts for, before and after). Each data set runs on a fresh device. ' +
      'After the dot: the data-only ratio (ours: pool file; zram: compr_data_size; dm-vdo: vdostats data blocks). dm-vdo allocates ~128 MiB of index and metadata at format time whatever the data, which dominates data sets this small: compare dm-vdo on the data-only ratio (the summary lines do).',
    '- CPU s/GiB: over the sequential write; server = our daemon\'s (or dm-vdo\'s kernel threads\') user + system time; kernel = system + irq + softirq time of all vCPUs (includes fio\'s own syscalls).',
    `- Machine: ${m.hostCpu}, ${m.hostCpus} cores, host kernel ${m.hostKernel}, load average ${m.loadAvgStart.map((x) => x.toFixed(1)).join('/')} at the start and ${m.loadAvgEnd.map((x) => x.toFixed(1)).join('/')} at the end (other work shared the machine). Guest: kernel ${g.kernel}, ${g.cpus} vCPUs, ${mib(g.memBytes)} MiB, ${g.fio}; ${g.settings}.`,
    '',
    '## Space',
    '',
    `Data sets: fio dedupe D% x buffer_compress_percentage C% (fio-dDcC, ${r.options.cellMb} MiB sequential fill each; fio-d45c60, the speed data, is the first speed round's ${r.options.speedMb} MiB sequential write on its fresh device; the other cells run on the compressing devices only, '-': ${PLAIN_DEVICES.map((d) => DEVICE_TITLES[d]).join(', ')} store every block as written); \`zero\` and \`same-fill\` (${r.options.fillMb} MiB of all-zero / 8-byte-pattern blocks); ` +
      `\`tree\`: two copies of ${r.options.treeMb} MiB of this machine's /usr/lib, /usr/share and /usr/include on ext4, then sync; \`tree-deleted-trimmed\`: one copy deleted, fstrim; ` +
      `\`vm-images\`: ${r.options.vmCopies} copies of one ${r.options.vmMb} MiB root-like tree on ext4, each with a different 1/16 of its files rewritten.`,
    '',
    ...spaceTable(r),
    '',
    '![space](space-ratio.svg)',
    '',
    '## Speed',
    '',
    `fio on the raw device, libaio, direct, dedupe 45% / compress 60% data, ${r.options.speedMb} MiB region (the sequential write covers all of it), ${r.options.runtimeS} s per random job.`,
    '',
    ...speedTables(r),
    '![seq write](speed-seqwrite.svg) ![IOPS](speed-iops.svg)',
    '',
    '![read latency](latency-randread.svg) ![write latency](latency-randwrite.svg)',
    '',
    '## The packed device against zram, round by round',
    '',
    ...(r.devices.includes('packed') && r.devices.includes('zram')
      ? [ratioTable({ speedRaw: r.speedRaw, rounds: Number(r.options.rounds) }), '']
      : []),
    '## CPU and memory',
    '',
    ...cpuTable(r),
    '',
    '## The engine against its own ceiling',
    '',
    `The lz4 + XXH128 work the packed device must do for the speed data (${mib(c.bytes)} MiB, measured in the guest on vCPU 1 with the engine's own codec calls): ` +
      `write ${f2(c.writeMBps)} MB/s, read ${f2(c.readMBps)} MB/s. The device reached ${f2(c.deviceWriteMBps)} MB/s sequential write (${(c.writeShare * 100).toFixed(1)}% of the ceiling) ` +
      `and ${f2(c.deviceReadMBps)} MB/s in 4 KiB random reads (${(c.readShare * 100).toFixed(1)}%).`,
    '',
    '![ceiling](engine-ceiling.svg)',
    '',
    '## Where the time went',
    '',
    ...timeTable(r),
    '',
    '## Files',
    '',
    '- [report.json](report.json): every figure, per round; ' + charts.map((n) => `[${n}](${n})`).join(', '),
    '',
  ].join('\n');
}
