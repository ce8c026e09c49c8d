// Bytes a pool really occupies: allocated blocks of the pool file (holes and
// unwritten tails excluded) and the size of the LevelDB directory, measured
// after a full manual compaction so LevelDB's write-ahead garbage is not billed.
import { readdirSync, statSync } from 'node:fs';
import { join } from 'node:path';
import { ClassicLevel } from 'classic-level';

/** Allocated bytes of a file (st_blocks x 512). */
export function allocatedBytes(path: string): number {
  return statSync(path).blocks * 512;
}

/** Sum of the apparent sizes of all files under `dir`. */
export function dirBytes(dir: string): number {
  let total = 0;
  for (const name of readdirSync(dir)) {
    const path = join(dir, name);
    const st = statSync(path);
    total += st.isDirectory() ? dirBytes(path) : st.size;
  }
  return total;
}

/** Opens a closed LevelDB directory, compacts every key, closes it again. */
export async function compactLevelDir(dir: string): Promise<void> {
  const db = new ClassicLevel<Buffer, Buffer>(dir, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    createIfMissing: false,
  });
  await db.open();
  try {
    await db.compactRange(Buffer.alloc(0), Buffer.alloc(64, 0xff));
  } finally {
    await db.close();
  }
}
