// MetaStore over classic-level (LevelDB). The directory must exist unless
// `create` is set: opening a pool whose metadata is missing must not create it.
import fs from 'node:fs';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { UcError } from '../util/errors.js';
import { openFailure } from './level-errors.js';
import { META_CACHE_BYTES, META_WRITE_BUFFER_BYTES } from '../util/limits.js';
import type { MetaOp, MetaStore } from './store.js';

type Db = ClassicLevel<Buffer, Buffer>;

/** Free space a reopen needs beyond the logs it replays into a table. */
const REOPEN_SPARE_BYTES = 1024 * 1024;
/** Ops put into a chained batch per turn of the event loop. */
const BATCH_OPS_PER_TURN = 512;

function newDb(dir: string, create: boolean): Db {
  return new ClassicLevel<Buffer, Buffer>(dir, {
    keyEncoding: 'buffer',
    valueEncoding: 'buffer',
    createIfMissing: create,
    errorIfExists: create,
    cacheSize: META_CACHE_BYTES,
    writeBufferSize: META_WRITE_BUFFER_BYTES,
  });
}

export class LevelMetaStore implements MetaStore {
  private constructor(
    private db: Db,
    readonly dir: string,
  ) {}

  /** Opens (and, with `create`, makes) the database; failures are classified UcErrors
   * (see openFailure). `shownAs` names the directory in messages (a clone's origin). */
  static async open(dir: string, options: { create: boolean; shownAs?: string }): Promise<LevelMetaStore> {
    const shown = options.shownAs ?? dir;
    if (!options.create && !isFile(path.join(dir, 'CURRENT'))) {
      throw new UcError('UC_META_MISSING', `metadata directory ${shown} is missing or empty (no LevelDB CURRENT file)`);
    }
    const db = newDb(dir, options.create);
    try {
      await db.open();
    } catch (err) {
      throw openFailure(err, dir, shown);
    }
    return new LevelMetaStore(db, dir);
  }

  getSync(key: Buffer): Buffer | undefined {
    return this.db.getSync(key);
  }

  async batch(ops: Iterable<MetaOp>, sync: boolean): Promise<void> {
    if (Array.isArray(ops) && ops.length === 0 && !sync) return;
    // A chained batch costs ~5x less per op than db.batch(array) (measured here:
    // 4.9 vs 33 µs/op on a loaded box): the array form clones and re-validates each op.
    const b = this.db.batch();
    try {
      let n = 0;
      for (const op of ops) {
        if (op.type === 'put') b.put(op.key, op.value);
        else b.del(op.key);
        // Requests are served between the pieces of a large batch (a group commit of
        // thousands of records would otherwise hold the thread for tens of ms).
        if (++n % BATCH_OPS_PER_TURN === 0) await new Promise((resolve) => setImmediate(resolve));
      }
    } catch (err) {
      await b.close();
      throw err;
    }
    await b.write({ sync });
  }

  async scan(gte: Buffer, lt: Buffer, limit: number): Promise<Array<[Buffer, Buffer]>> {
    // all() closes the iterator when it is done or fails.
    return await this.db.iterator({ gte, lt, limit }).all();
  }

  async scanKeys(gte: Buffer, lt: Buffer, limit: number): Promise<Buffer[]> {
    return await this.db.keys({ gte, lt, limit }).all();
  }

  async sizeBytes(): Promise<number> {
    let total = 0;
    for (const name of await fs.promises.readdir(this.dir)) {
      // LevelDB's compaction may delete a table between readdir and stat.
      const st = await fs.promises.stat(path.join(this.dir, name)).catch(() => undefined);
      total += st?.size ?? 0;
    }
    return total;
  }

  async close(): Promise<void> {
    await this.db.close();
  }

  /**
   * After a failed write LevelDB may refuse every later one and its log may end
   * torn: close and reopen (replaying the log). A probe file first proves there is
   * room for the replay, so a still-full filesystem leaves the open store as it is
   * (reads keep working) instead of a closed one that cannot reopen.
   */
  async reopen(): Promise<void> {
    let logBytes = 0;
    for (const name of await fs.promises.readdir(this.dir)) {
      if (!name.endsWith('.log')) continue;
      const st = await fs.promises.stat(path.join(this.dir, name)).catch(() => undefined);
      logBytes += st?.size ?? 0;
    }
    const probe = path.join(this.dir, 'REOPEN-PROBE');
    try {
      const fh = await fs.promises.open(probe, 'w', 0o600);
      try {
        await fh.writeFile(Buffer.alloc(logBytes + REOPEN_SPARE_BYTES));
        await fh.datasync();
      } finally {
        await fh.close();
      }
    } finally {
      await fs.promises.rm(probe, { force: true });
    }
    await this.db.close();
    const db = newDb(this.dir, false);
    try {
      await db.open();
    } catch (err) {
      // Keep a store that answers reads (abstract-level reopens a closed instance);
      // the engine retries the reopen before its next batch.
      await this.db.open().catch(() => undefined);
      throw err;
    }
    this.db = db;
  }
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false; // missing, or a path component is not a directory
  }
}
