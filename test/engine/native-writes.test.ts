// One-block writes applied in the addon outside the engine mutex, the queue's
// way (native-writes.ts, native/fast-write.cc): the addon applies the block
// and appends its journal record to the engine's journal file itself. Driven
// here through WriteApply.writeOne(lba, data, true), the same ServeWrite the
// queue calls for a 4 KiB WRITE. The records must be exactly the ones
// write-journal.ts reads back (checksums, sequence after the JavaScript
// records), the gate must stay shut while an exclusive section is queued,
// and the engine's view must hold the blocks once it took the addon's work.
import { mkdtempSync, rmSync } from 'node:fs';
import { randomBytes } from 'node:crypto';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { formatPool, openPool } from '../../src/engine/index.js';
import { openJournalFilesReadOnly } from '../../src/engine/journal-files.js';
import { WriteJournal } from '../../src/engine/write-journal.js';
import { createWriteApply } from '../../src/native/index.js';
import { BLOCK_BYTES } from '../../src/util/units.js';

/** Reopens the pool and checks each LBA reads back its block. */
async function expectAfterReopen(backingPath: string, metaDir: string, blocks: Map<number, Buffer>): Promise<void> {
  const again = await openPool({ backingPath, metaDir });
  for (const [lba, want] of blocks) {
    const got = Buffer.alloc(BLOCK_BYTES);
    await again.read(lba, 1, got);
    expect(got.equals(want), `lba ${lba} after reopen`).toBe(true);
  }
  await again.close();
}

describe('one-block writes applied in the addon with their journal records', () => {
  it('writes records write-journal.ts replays, in sequence with JavaScript records, and only while the gate is open', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'native-writes-'));
    try {
      const backingPath = join(dir, 'pool.img');
      const metaDir = join(dir, 'pool.meta');
      // No background commit: every record stays in the journal until close.
      const e = await formatPool({ backingPath, metaDir, logicalBytes: 64 * 1024 * 1024, flushDelayMs: 0, commitRecordsMax: 100_000 });
      const h = createWriteApply();
      expect(e.shareNativeApply(h)).toBe(true);
      const blocks = new Map<number, Buffer>();
      const put = (lba: number): Buffer => {
        const b = randomBytes(BLOCK_BYTES);
        blocks.set(lba, b);
        return b;
      };
      // No segment is open yet: the addon refuses until a JavaScript write opened one.
      expect(h.writeOne(7, randomBytes(BLOCK_BYTES), true)).toBe(false);
      await e.write(0, 2, Buffer.concat([put(0), put(1)]), false); // JavaScript: record 1
      for (let lba = 2; lba < 10; lba++) expect(h.writeOne(lba, put(lba), true), `lba ${lba}`).toBe(true); // records 2..9
      // A same-filled block is JavaScript's; a duplicate of a block in the open
      // segment shares its extent here, after the byte compare (record 10).
      expect(h.writeOne(20, Buffer.alloc(BLOCK_BYTES, 7), true)).toBe(false);
      const hits = e.stats().dedupHits;
      blocks.set(21, blocks.get(3)!);
      expect(h.writeOne(21, blocks.get(3)!, true)).toBe(true);
      e.nativeWritesDone();
      expect(e.stats().nativeWrittenBlocks).toBe(9);
      expect(e.stats().dedupHits).toBe(hits + 1);
      expect(e.stats().extents).toBe(10);
      // An exclusive section queued (a flush) shuts the gate until it ends.
      const flushing = e.flush();
      expect(h.writeOne(30, randomBytes(BLOCK_BYTES), true)).toBe(false);
      await flushing;
      await new Promise((resolve) => setImmediate(resolve));
      expect(h.writeOne(10, put(10), true)).toBe(true); // record 11 (after the flush's commit)
      e.nativeWritesDone();
      await e.write(11, 1, put(11), false); // the engine's own one-block path: record 12
      for (const [lba, want] of blocks) {
        const got = Buffer.alloc(BLOCK_BYTES);
        await e.read(lba, 1, got);
        expect(got.equals(want), `lba ${lba} reads back`).toBe(true);
      }
      const { ops } = await WriteJournal.load(await openJournalFilesReadOnly(metaDir), 0);
      const writes = ops.filter((op) => op.kind === 'write');
      expect(writes.map((op) => op.seq)).toEqual(writes.map((_, i) => writes[0].seq + i));
      const one = writes.filter((op) => op.blocks === 1);
      for (const op of one) expect(op.kind === 'write' && op.data.equals(blocks.get(op.lba)!), `record of lba ${op.lba}`).toBe(true);
      // The addon's records after the flush's commit, and the engine's own after them.
      expect(one.map((op) => op.lba).slice(-2)).toEqual([10, 11]);
      await e.close();
      await expectAfterReopen(backingPath, metaDir, blocks);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});

describe('a one-block write that finds the gate shut', () => {
  it('waits for the sections queued before it and is applied in the addon, not in a mutex turn of its own', async () => {
    const dir = mkdtempSync(join(tmpdir(), 'native-writes-wait-'));
    try {
      const backingPath = join(dir, 'pool.img');
      const metaDir = join(dir, 'pool.meta');
      const e = await formatPool({ backingPath, metaDir, logicalBytes: 64 * 1024 * 1024, flushDelayMs: 0 });
      expect(e.shareNativeApply(createWriteApply())).toBe(true);
      e.nativeWritesByQueues(); // as the daemon: engine.write does not offer a write to the addon when the gate is open
      const first = randomBytes(2 * BLOCK_BYTES);
      await e.write(0, 2, first, false); // opens a segment (JavaScript)
      const before = e.stats();
      const data = randomBytes(BLOCK_BYTES);
      const flushing = e.flush(); // shuts the gate until its section ends
      const writing = e.write(9, 1, data, false);
      await Promise.all([flushing, writing]);
      const after = e.stats();
      expect(after.nativeWrittenBlocks).toBe(before.nativeWrittenBlocks + 1);
      expect(after.mutex['write-batch']?.sections ?? 0).toBe(before.mutex['write-batch']?.sections ?? 0);
      expect(after.mutex.flush?.sections).toBe(1);
      // close() waits for a write that is waiting for the gate.
      const late = randomBytes(BLOCK_BYTES);
      const flushing2 = e.flush();
      const writing2 = e.write(10, 1, late, false);
      await Promise.all([flushing2, e.close(), writing2]);
      const want = new Map([[0, first.subarray(0, BLOCK_BYTES)], [1, first.subarray(BLOCK_BYTES)], [9, data], [10, late]]);
      await expectAfterReopen(backingPath, metaDir, want);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });
});
