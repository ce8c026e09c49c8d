// Background compaction waits for a pause in the writes while free segments are
// plentiful (background.ts, COMPACT_LOW_FREE_FRACTION), and cleans at once when
// they are not: a burst of writes is not slowed by cleaning that can wait.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import { formatEngine, type BlockEngine } from '../../src/engine/index.js';
import { MemMetaStore } from '../../src/testing/mem-store.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../src/util/units.js';

const SEGMENT_BYTES = 64 * 1024;
const IDLE_MS = 400;

/** An engine over `segments` segments whose first `blocks` blocks were written (16 of
 * random data fill a segment), then every other one of the first 96 rewritten: the
 * first segments are half dead (compaction candidates). */
async function withCandidates(segments: number, blocks: number): Promise<BlockEngine> {
  const e = await formatEngine(new SimDisk(4096 + segments * SEGMENT_BYTES), new MemMetaStore(), {
    logicalBytes: 2048 * BLOCK_BYTES, segmentBytes: SEGMENT_BYTES, flushDelayMs: 10, backgroundCompaction: true, compactIdleMs: IDLE_MS,
  });
  await e.write(0, blocks, randomBytes(blocks * BLOCK_BYTES), false);
  for (let lba = 0; lba < 96; lba += 2) await e.write(lba, 1, randomBytes(BLOCK_BYTES), false);
  await e.flush();
  return e;
}

/** Writes one block every 20 ms for `ms`. */
async function keepWriting(e: BlockEngine, ms: number): Promise<void> {
  for (const end = performance.now() + ms; performance.now() < end;) {
    await e.write(2000 + Math.floor(Math.random() * 40), 1, randomBytes(BLOCK_BYTES), false);
    await new Promise((resolve) => setTimeout(resolve, 20));
  }
}

describe('background compaction', () => {
  it('waits while writes keep coming and space is plentiful, then cleans once they pause', async () => {
    const e = await withCandidates(64, 96);
    expect(e.stats().compaction.candidates).toBeGreaterThan(0);
    await keepWriting(e, 3 * IDLE_MS);
    expect(e.stats().compaction.segmentsCleaned, 'cleaned during the writes').toBe(0);
    await new Promise((resolve) => setTimeout(resolve, 3 * IDLE_MS));
    expect(e.stats().compaction.segmentsCleaned, 'cleaned after the pause').toBeGreaterThan(0);
    await e.close();
  });

  it('cleans during the writes when free segments run short', async () => {
    // 1008 + 48 blocks of random data fill ~67 of 84 segments: under a quarter free,
    // yet enough that the writes never need a foreground compaction.
    const e = await withCandidates(84, 1008);
    await keepWriting(e, 3 * IDLE_MS);
    expect(e.stats().compaction.segmentsCleaned, 'cleaned during the writes').toBeGreaterThan(0);
    await e.close();
  });
});
