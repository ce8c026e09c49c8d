import { describe, expect, it } from 'vitest';
import { buildStatsSnapshot, type SnapshotInput } from '../../../src/server/targets/packed-stats.js';
import { renderStatsTable } from '../../../src/cli/render/packed-stats-table.js';
import { zeroCounters } from '../../../src/engine/index.js';

const ZERO = zeroCounters();
import { renderBar } from '../../../src/cli/progress.js';
import { parseThreshold } from '../../../src/cli/commands/compact.js';
import { UcError } from '../../../src/util/errors.js';

function input(over: Partial<SnapshotInput> = {}): SnapshotInput {
  return {
    devId: 3, pid: 1234, startedAtMs: 1_000_000, nowMs: 1_010_000, pool: '/p.img', metaDir: '/p.img.meta',
    dedup: 'verify', compression: 'lz4',
    engine: {
      uuid: 'u', logicalBytes: 1 << 30, segmentBytes: 4 << 20, mappedBlocks: 1000, extents: 400,
      liveBytes: 400 * 1024, physicalBytes: 8 << 20, readVerifyFailures: 2, compaction: { running: false, candidates: 2 },
      cache: { bytes: 3 << 20, hits: 900, misses: 100, evictions: 5, filterBytes: 1 << 20, filterNew: 40, filterReady: true, warmedRecords: 0 },
    },
    totals: { ...ZERO, blocksWritten: 1200, blocksRead: 500, dedupHits: 600, sameFillBlocks: 200, compressedBlocks: 350, rawBlocks: 50, segmentsCleaned: 3 },
    sessionBlocksRead: 250, sessionBlocksWritten: 1000,
    requests: { reads: 10, writes: 70, flushes: 15, discards: 5, writeZeroes: 0, errors: 0 },
    poolAllocatedBytes: 9 << 20, metadataBytes: 12345, ublkFlags: ['USER_RECOVERY', 'UPDATE_SIZE'],
    ...over,
  };
}

describe('packed stats snapshot', () => {
  it('computes each ratio from its own figures', () => {
    const s = buildStatsSnapshot(input());
    expect(s.ratio.compression).toBeCloseTo((400 * 4096) / (400 * 1024)); // 4:1
    expect(s.ratio.combined).toBeCloseTo((1000 * 4096) / (400 * 1024)); // 10:1
    expect(s.ratio.dedup).toBeCloseTo((400 + 600) / 400);
    expect(s.ratio.sameFill).toBeCloseTo(1200 / 1000);
    expect(s.bytesWritten).toBe(1200 * 4096);
    expect(s.mappedBytes).toBe(1000 * 4096);
    expect(s.readVerifyFailures).toBe(2);
    expect(s.compactor).toEqual({ state: 'idle', candidates: 2, segmentsCleaned: 3, reclaimedBytes: 3 * (4 << 20), bytesMoved: 0 });
  });

  it('averages IOPS and MB/s over the uptime', () => {
    const s = buildStatsSnapshot(input());
    expect(s.uptimeSec).toBe(10);
    expect(s.session.iops).toBeCloseTo(10);
    expect(s.session.writeMBps).toBeCloseTo((1000 * 4096) / 1e6 / 10);
    expect(s.session.readMBps).toBeCloseTo((250 * 4096) / 1e6 / 10);
  });

  it('reports 1:1 for an empty pool, never NaN or Infinity', () => {
    const s = buildStatsSnapshot(input({
      engine: { uuid: 'u', logicalBytes: 1 << 20, segmentBytes: 1 << 16, mappedBlocks: 0, extents: 0, liveBytes: 0, physicalBytes: 0, readVerifyFailures: 0, compaction: { running: false, candidates: 0 }, cache: { bytes: 3 << 20, hits: 900, misses: 100, evictions: 5, filterBytes: 1 << 20, filterNew: 40, filterReady: true, warmedRecords: 0 } },
      totals: { ...ZERO }, nowMs: 1_000_000,
    }));
    for (const v of Object.values(s.ratio)) expect(v).toBe(1);
    expect(s.session.iops).toBe(0);
  });

  it('renders an aligned two-column table', () => {
    const text = renderStatsTable(buildStatsSnapshot(input()));
    const lines = text.trimEnd().split('\n');
    expect(lines.length).toBeGreaterThan(15);
    const col = lines[0].search(/ {2}\S/) + 2;
    for (const line of lines) expect(line.slice(0, col).trimEnd().length, line).toBeLessThan(col - 1);
    for (const line of lines) expect(line[col], line).not.toBe(' ');
    expect(text).toMatch(/^ratio combined +10\.00:1$/m);
    expect(text).toMatch(/^daemon +pid 1234, up 10\.0s$/m);
    expect(text).toMatch(/^dedup hits +600$/m);
    expect(text).toMatch(/^read verify failures +2 \(since start\)$/m);
    expect(text).toMatch(/^ublk flags +USER_RECOVERY UPDATE_SIZE$/m);
    expect(renderStatsTable(buildStatsSnapshot(input({ ublkFlags: undefined })))).toMatch(/^ublk flags +-$/m);
    expect(text).toMatch(/^metadata cache +3\.00 MiB \+ filter 1\.00 MiB, 900 hits, 100 misses, 5 evicted, 0 warmed at start, 40 certainly new \(since start\)$/m);
    expect(text).toMatch(/^compactor +idle, 2 candidate segments, 3 cleaned, 12\.00 MiB reclaimed$/m);
    expect(text).not.toMatch(/^native reads/m); // a daemon from before the native read path
  });

  it('shows the native read path and its counts', () => {
    const nativeRead = {
      path: 'native' as const, requests: 70, blocks: 90, toJs: 9, misses: 7, ioFailures: 1, verifyFailures: 1, poolReads: 'inline' as const,
    };
    const s = buildStatsSnapshot(input({ nativeRead }));
    expect(s.nativeRead).toEqual(nativeRead);
    expect(renderStatsTable(s)).toMatch(
      /^native reads +70 requests \(90 blocks\) native, pool read inline, 9 to JS \(7 misses, 1 I\/O, 1 verify\) \(since start\)$/m,
    );
    const ring = buildStatsSnapshot(input({ nativeRead: { ...nativeRead, poolReads: 'ring' } }));
    expect(renderStatsTable(ring)).toMatch(/^native reads +70 requests \(90 blocks\) native, pool read on the ring, 9 to JS/m);
    const off = buildStatsSnapshot(input({ nativeRead: { ...nativeRead, path: 'js' } }));
    expect(renderStatsTable(off)).toMatch(/^native reads +off \(every read through the engine in JS\)$/m);
  });

  it('shows the native writes, why the rest went to JavaScript, and what held the engine mutex', () => {
    const base = input().engine;
    const nativeWriteDeclines = { closed: 12, journal: 0, fill: 3, filter: 0, dup: 4, plan: 5, record: 0, gateClosures: 40, gateClosedMs: 2500 };
    const mutex = {
      commit: { sections: 30, heldMs: 90, maxMs: 7.5, waitedMs: 4 },
      compact: { sections: 2, heldMs: 400, maxMs: 300, waitedMs: 1 },
    };
    const s = buildStatsSnapshot(input({ engine: { ...base, nativeAppliedBlocks: 7, nativeWrittenBlocks: 900, nativeWriteDeclines, mutex } }));
    expect(s.nativeWriteDeclines).toEqual(nativeWriteDeclines);
    expect(s.engineMutex).toEqual(mutex);
    const text = renderStatsTable(s);
    expect(text).toMatch(/^native writes +900 blocks; to JavaScript: closed 12, fill 3, dup 4, plan 5; gate shut 40 times, 2\.5s \(since start\)$/m);
    expect(text).toMatch(/^engine mutex +compact 2x 400 ms \(max 300\), commit 30x 90 ms \(max 7\.5\) \(since start\)$/m);
  });
});

describe('progress bar and compact threshold', () => {
  it('draws a bounded bar', () => {
    expect(renderBar(0, 4)).toBe(`[${'.'.repeat(30)}]   0% 0/4`);
    expect(renderBar(2, 4, 'x')).toBe(`[${'#'.repeat(15)}${'.'.repeat(15)}]  50% 2/4 x`);
    expect(renderBar(9, 4)).toMatch(/^\[#{30}\] 100% 9\/4$/);
    expect(renderBar(0, 0)).toMatch(/100%/);
  });

  it('accepts fractions in (0, 1] only', () => {
    expect(parseThreshold(undefined)).toBe(0.8);
    expect(parseThreshold('0.5')).toBe(0.5);
    expect(parseThreshold('1')).toBe(1);
    for (const bad of ['0', '1.5', '-0.2', 'abc', '']) {
      expect(() => parseThreshold(bad), bad).toThrow(UcError);
    }
  });
});
