// `npm run bench -- direct`: the path table from the daemons' stats lines,
// the kernel line, and the main thread's CPU per request against the null target's.
import { describe, expect, it } from 'vitest';
import type { DirectBenchRow } from '../../../bench/direct.js';
import { parseKernel, parseStatsLines, renderCpuPerRequest, renderPathTable } from '../../../bench/direct-report.js';

const stats = {
  requestPath: 'native',
  backingIo: 'direct-mapped',
  zeroCopy: false,
  native: { reads: 10, writes: 20, rawReads: 9, rawWrites: 18, zeroCopyReads: 0, zeroCopyWrites: 0 },
  js: { reads: 1, writes: 2 },
};

function row(label: string, workload: string, round: number, main?: number): DirectBenchRow {
  return { round, label, workload, MBps: 1, iops: 1, runtimeSec: 1, latUsMean: 1, errors: 0, ...(main === undefined ? {} : { mainCpuUsPerIo: main }) };
}

describe('direct bench report', () => {
  it('reads the daemons stats lines and the kernel line', () => {
    const out = ['KERNEL 7.3.4+deb13-cloud-amd64', `STATS ublk-mapped 1 ${JSON.stringify(stats)}`, 'STATS ublk-direct 2 {}', 'BENCH-DONE'].join('\n');
    expect(parseKernel(out)).toBe('7.3.4+deb13-cloud-amd64');
    expect(parseKernel('')).toBe('unknown');
    const paths = parseStatsLines(out);
    expect(paths).toHaveLength(2);
    expect(paths[0]).toMatchObject({ variant: 'ublk-mapped', round: 1, backingIo: 'direct-mapped', rawReads: 9, rawWrites: 18, jsWrites: 2 });
    expect(paths[1]).toMatchObject({ variant: 'ublk-direct', round: 2, requestPath: 'unknown', reads: 0 });
    expect(renderPathTable(paths)).toContain('| ublk-mapped | 1 | native | direct-mapped | off | 10 / 20 | 9 / 18 | 0 / 0 | 1 / 2 |');
  });

  it('gives the main thread CPU per request as a multiple of the null target', () => {
    const rows = [row('loop', 'randread-4k', 1), row('null', 'randread-4k', 1, 100), row('null', 'randread-4k', 2, 300),
      row('ublk-direct', 'randread-4k', 1, 300), row('ublk-direct', 'randread-4k', 2, 500)];
    const table = renderCpuPerRequest(rows, ['ublk-direct', 'loop-dio', 'null'], ['randread-4k']);
    expect(table.split('\n')[0]).toBe('| job | ublk-direct | null |');
    expect(table).toContain('| randread-4k | 400 (2.00x null) | 200 |');
  });
});
