// Request latency histograms: loggedTarget times every request it serves,
// failed ones too, into the histogram of its operation.
import { describe, expect, it } from 'vitest';
import type { BlockTarget } from '../../../src/device/target.js';
import { LATENCY_BOUNDS_SEC, RequestLatency } from '../../../src/server/latency.js';
import { loggedTarget } from '../../../src/server/logged-target.js';
import type { Logger } from '../../../src/server/logger.js';
import { NoSpaceEpisode } from '../../../src/server/no-space-episode.js';

const quietLog = { error: () => {}, warn: () => {} } as unknown as Logger;

describe('request latency', () => {
  it('counts each request, by operation, in the bucket of its duration', async () => {
    const inner = {
      read: async () => {},
      write: () => new Promise<void>((r) => setTimeout(r, 30)),
      flush: async () => { throw new Error('EIO'); },
      discard: async () => {},
      writeZeroes: async () => {},
      close: async () => {},
    } as BlockTarget;
    const latency = new RequestLatency();
    const t = loggedTarget(inner, quietLog, new NoSpaceEpisode(), latency);
    const buf = Buffer.alloc(4096);
    await t.read(0, 1, buf);
    await t.write(0, 1, buf, true); // write-fua counts as a write
    await expect(t.flush()).rejects.toThrow('EIO');
    await t.writeZeroes(0, 1, false);
    const s = latency.snapshot();
    expect([s.read.count, s.write.count, s.flush.count, s.discard.count, s.write_zeroes.count]).toEqual([1, 1, 1, 0, 1]);
    const at = (le: number): number => s.write.buckets[LATENCY_BOUNDS_SEC.indexOf(le)];
    expect(at(0.025)).toBe(0); // it slept 30 ms
    expect(at(10)).toBe(1);
    expect(s.write.sumSec).toBeGreaterThanOrEqual(0.029);
    expect(s.read.buckets.at(-1)).toBe(1);
  });
});
