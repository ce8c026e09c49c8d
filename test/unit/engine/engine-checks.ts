// Checks shared by the engine failure tests (stall, sync failure): every block of a
// model reads back, and after close + reopen the pool still holds them all and
// audits clean.
import { expect } from 'vitest';
import { auditPool, openEngine, type BlockEngine } from '../../../src/engine/index.js';
import type { MemMetaStore } from '../../../src/testing/mem-store.js';
import type { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';

/** Every block of `model` reads back from `engine`. */
export async function expectAll(engine: BlockEngine, model: Map<number, Buffer>): Promise<void> {
  for (const [lba, b] of model) {
    const out = Buffer.alloc(BLOCK_BYTES);
    await engine.read(lba, 1, out);
    expect(out.equals(b), `lba ${lba}`).toBe(true);
  }
}

/** Closes `engine`, reopens the pool, checks every block of `model` and audits it. */
export async function expectAllAfterReopen(
  engine: BlockEngine, disk: SimDisk, meta: MemMetaStore, model: Map<number, Buffer>,
): Promise<void> {
  await engine.close();
  const again = await openEngine(disk, meta, { flushDelayMs: 0 });
  await expectAll(again, model);
  await again.close();
  expect((await auditPool(disk, meta)).problems).toEqual([]);
}
