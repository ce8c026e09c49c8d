// The delayed (non-durable) commit after a write waits for a commit that is
// still writing before it takes the engine mutex (Background.afterMutation):
// under the mutex, that wait held up every write queued behind it for a whole
// pool write, fdatasync and LevelDB batch. The metadata store's batches are
// held at a gate to keep a commit in flight.
import { describe, expect, it } from 'vitest';
import { auditPool, formatEngine, openEngine } from '../../../src/engine/index.js';
import type { MetaOp } from '../../../src/meta/store.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';

const FLUSH_DELAY_MS = 5;

/** A store whose batches wait while `held`. */
class GatedStore extends MemMetaStore {
  held = false;
  waiting = 0;
  private release: Array<() => void> = [];

  override async batch(ops: Iterable<MetaOp>, sync: boolean): Promise<void> {
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

const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));

describe('the delayed commit', () => {
  it('does not hold the mutex while the commit before it is still writing', async () => {
    const disk = new SimDisk(4096 + 32 * 65536);
    const meta = new GatedStore();
    const opts = { flushDelayMs: FLUSH_DELAY_MS, backgroundCompaction: false };
    const e = await formatEngine(disk, meta, { logicalBytes: 64 * BLOCK_BYTES, segmentBytes: 65536, ...opts });
    meta.held = true;
    await e.write(0, 1, block(1), false);
    await sleep(4 * FLUSH_DELAY_MS); // its delayed commit starts and waits at the gate
    expect(meta.waiting).toBe(1);
    await e.write(1, 1, block(2), false);
    await sleep(4 * FLUSH_DELAY_MS); // the next delayed commit is due while the first is held
    const third = e.write(2, 1, block(3), false);
    const r = await Promise.race([third.then(() => 'done'), sleep(100).then(() => 'waiting')]);
    expect(r).toBe('done');
    expect(meta.waiting).toBe(1); // one commit at a time: the second has not started
    meta.open();
    await e.close();
    const again = await openEngine(disk, meta, { flushDelayMs: 0, backgroundCompaction: false });
    const out = Buffer.alloc(BLOCK_BYTES);
    for (let i = 0; i < 3; i++) {
      await again.read(i, 1, out);
      expect(out.equals(block(i + 1)), `lba ${i}`).toBe(true);
    }
    expect((await auditPool(disk, meta)).problems).toEqual([]);
    await again.close();
  });
});
