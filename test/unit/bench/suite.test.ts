import { describe, expect, it } from 'vitest';
import { packedPlan, packedResult } from '../../../bench/packed.js';
import { ratioTable, renderPackedReport } from '../../../bench/packed-report.js';
import { buildReport, spaceSets, suiteOptions } from '../../../bench/suite/index.js';
import { DEVICES, WORKLOADS, devicesOf, summarizeSpace, summarizeSpeed, type SpeedRow } from '../../../bench/suite/model.js';
import { renderCharts, renderMarkdown } from '../../../bench/suite/render.js';
import { validateReport } from '../../../bench/suite/schema.js';

function speedRow(device: string, workload: string, round: number, value: number): SpeedRow {
  return {
    round, device, workload, MBps: value, iops: value * 10, runtimeSec: 2, ioBytes: 64 * 1024 * 1024,
    latUsMean: 100, latUsP50: 90, latUsP99: 400, latUsP999: 900, errors: 0,
    serverCpuS: ['packed', 'direct', 'vdo'].includes(device) ? 0.5 : null, kernelCpuS: 0.25,
  } as SpeedRow;
}

/** Guest output as bench/suite/guest.sh prints it, for two rounds and two data sets. */
function guestOutput(skip?: string): string {
  const out = ['SUITE-INFO {"kernel":"6.12","cpus":2,"memBytes":3000000000,"fio":"fio-3.33"}'];
  out.push('SUITE-CEILING {"bytes":8388608,"writeMBps":200,"readMBps":800}');
  out.push('SUITE-TIME {"part":"prepare data","device":null,"seconds":4.5,"setupS":null}');
  for (const round of [1, 2]) {
    DEVICES.forEach((d, i) => {
      out.push(`SUITE-TIME {"part":"speed round ${round}","device":"${d}","seconds":20,"setupS":${i},"teardownS":1}`);
      for (const w of WORKLOADS) {
        if (`${d}/${w}` === skip) continue;
        out.push(`SUITE-SPEED ${JSON.stringify(speedRow(d, w, round, (i + 1) * round))}`);
      }
      if (d === 'packed' || d === 'direct') out.push(`SUITE-RSS {"round":${round},"device":"${d}","peakRssBytes":${100e6 * round}}`);
    });
  }
  for (const ds of ['fio-d45c60', 'zero', 'fio-d90c0']) {
    devicesOf(ds).forEach((d, i) => {
      const physical = ds === 'zero' && d === 'zram' ? 0 : 1024 * 1024 * (i + 1);
      out.push(`SUITE-SPACE {"device":"${d}","dataset":"${ds}","logicalBytes":8388608,"seconds":1.5,"physicalBytes":${physical},"dataBytes":${physical}}`);
    });
  }
  out.push('SUITE-TIME {"part":"guest","device":null,"seconds":300,"setupS":null}', 'SUITE-DONE');
  return out.join('\n');
}

describe('bench suite report', () => {
  const o = suiteOptions(['--quick', '--out', '/nonexistent']);

  it('runs the speed cell and the real data first, the rest of the matrix last', () => {
    expect(spaceSets(['d0c0', 'd45c60', 'd90c90'])).toEqual(['fio-d45c60', 'tree', 'vm-images', 'zero', 'same-fill', 'fio-d0c0', 'fio-d90c90']);
    expect(suiteOptions([]).sets).toHaveLength(13);
    expect(o.out).toBe('/nonexistent');
    expect(() => suiteOptions(['--rounds', '1'])).toThrow(/rounds/);
    expect(() => suiteOptions(['--bogus'])).toThrow(/bogus/);
    expect(o.sets).toEqual(['fio-d45c60', 'tree']);
    expect(suiteOptions(['--cells', 'd0c0,d45c60']).sets).toEqual(['fio-d45c60', 'tree', 'vm-images', 'zero', 'same-fill', 'fio-d0c0']);
    expect(() => suiteOptions(['--cells', 'd45c61'])).toThrow(/d45c61/);
  });

  it('divides every figure by zram and dm-vdo of the same round', () => {
    const rows = [speedRow('packed', 'seqwrite-1m', 1, 10), speedRow('packed', 'seqwrite-1m', 2, 30),
      speedRow('zram', 'seqwrite-1m', 1, 20), speedRow('zram', 'seqwrite-1m', 2, 30),
      speedRow('vdo', 'seqwrite-1m', 1, 5), speedRow('vdo', 'seqwrite-1m', 2, 10)];
    const s = summarizeSpeed(rows, ['packed']).find((x) => x.workload === 'seqwrite-1m');
    expect(s?.value).toEqual({ mean: 20, min: 10, max: 30 });
    expect(s?.vsZram).toEqual({ mean: 0.75, min: 0.5, max: 1 });
    expect(s?.vsVdo).toEqual({ mean: 2.5, min: 2, max: 3 });
  });

  it('runs the matrix beyond the speed cell on the compressing devices only', () => {
    expect(devicesOf('fio-d0c90')).toEqual(['packed', 'zram', 'vdo']);
    expect(devicesOf('fio-d45c60')).toEqual([...DEVICES]);
    expect(devicesOf('tree-deleted-trimmed')).toEqual([...DEVICES]);
    const r = buildReport({ stdout: guestOutput() }, o, Date.now(), [1, 1, 1]);
    expect(r.space.filter((s) => s.dataset === 'fio-d90c0').map((s) => s.device)).toEqual(['packed', 'zram', 'vdo']);
    const problems = validateReport(JSON.parse(JSON.stringify({ ...r, space: r.space.filter((s) => !(s.dataset === 'fio-d90c0' && s.device === 'vdo')) })));
    expect(problems).toEqual(['space vdo/fio-d90c0: missing']);
  });

  it('floors physical bytes at one block so an empty device keeps a finite ratio', () => {
    const [z] = summarizeSpace([{ device: 'zram', dataset: 'zero', logicalBytes: 8192, physicalBytes: 0, dataBytes: 0, seconds: 1 }]);
    expect(z.ratio).toBe(2);
  });

  it('builds a report that passes its schema and renders without empty cells', () => {
    const r = buildReport({ stdout: guestOutput() }, o, Date.now(), [1, 1, 1]);
    expect(validateReport(JSON.parse(JSON.stringify(r)))).toEqual([]);
    expect(r.peakRssBytes.packed).toBe(200e6);
    expect(r.ceiling.writeShare).toBeCloseTo(r.ceiling.deviceWriteMBps / 200);
    const charts = renderCharts(r);
    const md = renderMarkdown(r, Object.keys(charts));
    expect(md).not.toMatch(/\bNaN\b|undefined|\| n\/a/);
    // The matrix beyond the speed cell: compressing devices only, the others '-'.
    expect(md).toMatch(/\| fio-d90c0 \| 8\.0 \| [\d.]+ \([\d.]+\) · [\d.]+ \| - \| [\d.]+ .* \| - \| - \|/);
    for (const name of Object.keys(charts)) expect(md).toContain(`(${name})`);
    expect(r.summary.packed).toMatch(/^ublk-compress packed: leads in .*; trails in .*\.$/);
    expect(md).toMatch(/\| 4 KiB randread QD16, IOPS \| 0\.\d+ \| 0\.\d+ \| 0\.\d+ \| >= 0\.35 \|/);
  });

  it('says where the time went: host, boot, each part with its set-ups, the rest', () => {
    const r = buildReport({ stdout: guestOutput(), host: { vdoToolsS: 2, guestS: 400 } }, o, Date.now(), [1, 1, 1]);
    expect(r.timings.parts).toEqual([
      { part: 'dm-vdo user space (host; cached after the first run)', seconds: 2, setupS: 0, teardownS: 0 },
      { part: 'guest boot and shutdown', seconds: 100, setupS: 0, teardownS: 0 },
      { part: 'prepare data', seconds: 4.5, setupS: 0, teardownS: 0 },
      { part: 'speed round 1', seconds: 120, setupS: 15, teardownS: 6 },
      { part: 'speed round 2', seconds: 120, setupS: 15, teardownS: 6 },
      { part: 'other steps in the guest', seconds: 55.5, setupS: 0, teardownS: 0 },
    ]);
    expect(r.timings.setupByDevice.brd).toBe(10);
    expect(renderMarkdown(r, [])).toMatch(/\| guest boot and shutdown \| 100 \| {2}\| {2}\|\n\| prepare data \| 5 \|/);
  });

  it('names the missing cell when a device lacks a figure', () => {
    const r = buildReport({ stdout: guestOutput('vdo/randread-4k'), incomplete: 'the guest run ended early (exit 124, timeout)' }, o, Date.now(), [1, 1, 1]);
    const problems = validateReport(JSON.parse(JSON.stringify(r)));
    expect(r.complete).toBe(false);
    expect(problems).toContain('run incomplete: the guest run ended early (exit 124, timeout)');
    expect(renderMarkdown(r, [])).toMatch(/\*\*Incomplete: the guest run ended early/);
    expect(problems.some((p) => p.startsWith('speed vdo/randread-4k value'))).toBe(true);
    expect(problems.some((p) => p.startsWith('speed packed/randread-4k vsVdo'))).toBe(true);
  });
});

describe('packed bench (npm run bench -- packed)', () => {
  it('runs zram, 1:1 and packed in interleaved rounds on the tree only, dedupe 30%', () => {
    const p = packedPlan([]);
    expect(p.devices).toEqual(['zram', 'direct', 'packed']);
    expect(p.rounds).toBe(2);
    expect(p.speedDedupe).toBe(30);
    expect(p.sets).toEqual(['tree']);
    expect(() => packedPlan(['--rounds', '1'])).toThrow(/rounds/);
  });

  it('prints the packed device as ratios to zram of the same round, and the write p99', () => {
    const out = ['SUITE-INFO {"kernel":"6.12","cpus":2,"memBytes":3000000000,"fio":"fio-3.33"}'];
    const value: Record<string, number> = { zram: 100, direct: 50, packed: 10 };
    for (const round of [1, 2]) {
      for (const d of ['zram', 'direct', 'packed']) {
        for (const w of WORKLOADS) {
          const r = speedRow(d, w, round, value[d] * round);
          r.latUsP99 = d === 'packed' ? 8000 * round : 900;
          out.push(`SUITE-SPEED ${JSON.stringify(r)}`);
        }
      }
    }
    for (const [d, physical] of [['zram', 2e6], ['direct', 8e6], ['packed', 1e6]] as const) {
      out.push(`SUITE-SPACE {"device":"${d}","dataset":"tree","logicalBytes":8000000,"seconds":3,"physicalBytes":${physical},"dataBytes":${physical}}`);
    }
    out.push('SUITE-RSS {"round":1,"device":"packed","peakRssBytes":100000000}', 'SUITE-DONE');
    const r = packedResult(out.join('\n'), packedPlan([]));
    expect(r.speed.find((s) => s.device === 'packed' && s.workload === 'randread-4k')?.vsZram.mean).toBeCloseTo(0.1);
    expect(r.tree.find((t) => t.device === 'packed')?.vsZram).toBeCloseTo(2);
    const table = ratioTable(r);
    expect(table).toMatch(/\| 4 KiB randread QD16, IOPS \| 0\.100 \| 0\.100 \| 0\.100 \| >= 0\.35 \|/);
    expect(table).toMatch(/\| 4 KiB randwrite QD16, IOPS \| 0\.100 .* >= 0\.30 \|/);
    expect(table).toMatch(/\| 1 MiB seq write QD4, MB\/s \| 0\.100 .* >= 0\.40 \|/);
    expect(table).toMatch(/\| 4 KiB randwrite QD16 p99, ms packed \(zram\) \| 8\.00 \(0\.90\) \| 16\.00 \(0\.90\) \| 12\.00 \(0\.90\) \| <= 10 ms \|/);
    expect(renderPackedReport(r)).not.toMatch(/\bNaN\b|undefined|n\/a/);
  });
});
