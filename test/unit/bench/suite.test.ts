import { describe, expect, it } from 'vitest';
import { buildReport, suiteOptions } from '../../../bench/suite/index.js';
import { DEVICES, WORKLOADS, summarizeSpace, summarizeSpeed, type SpeedRow } from '../../../bench/suite/model.js';
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
  for (const round of [1, 2]) {
    DEVICES.forEach((d, i) => {
      for (const w of WORKLOADS) {
        if (`${d}/${w}` === skip) continue;
        out.push(`SUITE-SPEED ${JSON.stringify(speedRow(d, w, round, (i + 1) * round))}`);
      }
      if (d === 'packed' || d === 'direct') out.push(`SUITE-RSS {"round":${round},"device":"${d}","peakRssBytes":${100e6 * round}}`);
    });
  }
  for (const ds of ['fio-d45c60', 'zero']) {
    DEVICES.forEach((d, i) => {
      const physical = ds === 'zero' && d === 'zram' ? 0 : 1024 * 1024 * (i + 1);
      out.push(`SUITE-SPACE {"device":"${d}","dataset":"${ds}","logicalBytes":8388608,"seconds":1.5,"physicalBytes":${physical},"dataBytes":${physical}}`);
    });
  }
  out.push('SUITE-DONE');
  return out.join('\n');
}

describe('bench suite report', () => {
  const o = suiteOptions(['--quick', '--out', '/nonexistent']);

  it('divides every figure by zram and dm-vdo of the same round', () => {
    const rows = [speedRow('packed', 'seqwrite-1m', 1, 10), speedRow('packed', 'seqwrite-1m', 2, 30),
      speedRow('zram', 'seqwrite-1m', 1, 20), speedRow('zram', 'seqwrite-1m', 2, 30),
      speedRow('vdo', 'seqwrite-1m', 1, 5), speedRow('vdo', 'seqwrite-1m', 2, 10)];
    const s = summarizeSpeed(rows, ['packed']).find((x) => x.workload === 'seqwrite-1m');
    expect(s?.value).toEqual({ mean: 20, min: 10, max: 30 });
    expect(s?.vsZram).toEqual({ mean: 0.75, min: 0.5, max: 1 });
    expect(s?.vsVdo).toEqual({ mean: 2.5, min: 2, max: 3 });
  });

  it('floors physical bytes at one block so an empty device keeps a finite ratio', () => {
    const [z] = summarizeSpace([{ device: 'zram', dataset: 'zero', logicalBytes: 8192, physicalBytes: 0, dataBytes: 0, seconds: 1 }]);
    expect(z.ratio).toBe(2);
  });

  it('builds a report that passes its schema and renders without empty cells', () => {
    const r = buildReport(guestOutput(), o, Date.now(), [1, 1, 1]);
    expect(validateReport(JSON.parse(JSON.stringify(r)))).toEqual([]);
    expect(r.peakRssBytes.packed).toBe(200e6);
    expect(r.ceiling.writeShare).toBeCloseTo(r.ceiling.deviceWriteMBps / 200);
    const charts = renderCharts(r);
    const md = renderMarkdown(r, Object.keys(charts));
    expect(md).not.toMatch(/\bNaN\b|undefined|\| n\/a/);
    for (const name of Object.keys(charts)) expect(md).toContain(`(${name})`);
    expect(r.summary.packed).toMatch(/^ublk-compress packed: leads in .*; trails in .*\.$/);
  });

  it('names the missing cell when a device lacks a figure', () => {
    const r = buildReport(guestOutput('vdo/randread-4k'), o, Date.now(), [1, 1, 1], 'the guest run ended early (exit 124, timeout)');
    const problems = validateReport(JSON.parse(JSON.stringify(r)));
    expect(r.complete).toBe(false);
    expect(problems).toContain('run incomplete: the guest run ended early (exit 124, timeout)');
    expect(renderMarkdown(r, [])).toMatch(/\*\*Incomplete: the guest run ended early/);
    expect(problems.some((p) => p.startsWith('speed vdo/randread-4k value'))).toBe(true);
    expect(problems.some((p) => p.startsWith('speed packed/randread-4k vsVdo'))).toBe(true);
  });
});
