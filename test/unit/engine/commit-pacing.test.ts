// When a write leaves the overlay at its commit bound while a commit is still
// writing (Background.commitIfDue), the writer must not wait for that commit
// under the engine mutex: the next commit starts when it ends. Only an overlay
// at the hard bound (the bound plus its slack) makes writers wait. The metadata store's batches are held
// at a gate to keep a commit in flight.
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine, type BlockEngine } from '../../../src/engine/index.js';
import { overlayHardBound } from '../../../src/engine/background.js';
import type { EngineCore } from '../../../src/engine/core.js';
import type { MetaOp } from '../../../src/meta/store.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';

const BOUND = 16;
const HARD_BOUND = overlayHardBound(BOUND);

/** A store whose batches wait while `held` (the first one waiting counts in `waiting`). */
class GatedStore extends MemMetaStore {
  held = false;
  waiting = 0;
  private release: Array<() => void> = [];

  override async batch(ops: MetaOp[], sync: boolean): Promise<void> {
    if (this.held) {
      this.waiting += 1;
      await new Promise<void>((resolve) => this.release.push(resolve));
    }
    return super.batch(ops, sync);
  }

  open(): void {
    this.held = false;
    for (const r of this.release.splice(0)) r();
  }
}

function block(seed: number): Buffer {
  const b = Buffer.alloc(BLOCK_BYTES);
  for (let i = 0; i < BLOCK_BYTES; i++) b[i] = (i * seed + (i >> 5) * 3 + seed) & 0xff;
  return b;
}

function commitInFlight(e: BlockEngine): boolean {
  return (e as unknown as { core: EngineCore }).core.commitInFlight;
}

function overlay(e: BlockEngine): number {
  return (e as unknown as { core: EngineCore }).core.pendingRecords;
}

describe('commits started by writes', () => {
  it('a write at the bound does not wait for the commit in flight; the next commit follows it', async () => {
    const disk = new SimDisk(4096 + 32 * 65536);
    const meta = new GatedStore();
    const opts = { flushDelayMs: 0, backgroundCompaction: false, commitRecordsMax: BOUND, dedup: 'off' as const };
    const e = await formatEngine(disk, meta, { logicalBytes: 256 * BLOCK_BYTES, segmentBytes: 65536, ...opts });
    meta.held = true;
    // Two records per block (map, extent): 8 blocks reach the bound and start a commit, which waits at the gate.
    await e.write(0, 8, Buffer.concat(Array.from({ length: 8 }, (_, i) => block(i + 1))), false);
    await new Promise((r) => setImmediate(r));
    expect(meta.waiting).toBe(1);
    expect(commitInFlight(e)).toBe(true);
    // These writes reach the bound again while that commit is held: they must complete now.
    let lba = 8;
    for (; overlay(e) < BOUND; lba += 1) await e.write(lba, 1, block(lba + 1), false);
    const atBound = e.write(lba, 1, block(lba + 1), false);
    const done = await Promise.race([atBound.then(() => 'done'), new Promise((r) => setTimeout(() => r('waiting'), 50))]);
    expect(done).toBe('done');
    expect(meta.waiting).toBe(1); // no second batch yet: only one commit may be in flight
    // At the hard bound a writer waits for the commit.
    // (A one-block write adds two records: stop one write short of the hard bound.)
    for (lba += 1; overlay(e) + 2 < HARD_BOUND; lba += 1) await e.write(lba, 1, block(lba + 1), false);
    const atHardBound = e.write(lba, 1, block(lba + 1), false);
    const waited = await Promise.race([atHardBound.then(() => 'done'), new Promise((r) => setTimeout(() => r('waiting'), 50))]);
    expect(waited).toBe('waiting');
    meta.open();
    await atHardBound;
    // The follow-up commits ran: the overlay is back under the bound.
    await new Promise((r) => setTimeout(r, 20));
    expect(overlay(e)).toBeLessThan(BOUND);
    await e.close();
    const again = await openEngine(disk, meta, opts);
    const out = Buffer.alloc(BLOCK_BYTES);
    for (let i = 0; i <= lba; i++) {
      await again.read(i, 1, out);
      expect(out.equals(block(i + 1)), `lba ${i}`).toBe(true);
    }
    expect((await auditPool(disk, meta)).problems).toEqual([]);
    await again.close();
  });
});
