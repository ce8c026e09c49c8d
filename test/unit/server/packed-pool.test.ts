// Host tests of the packed device's pool handling (no ublk needed): preflight
// errors, format / re-open / grow, and every refusal leaving the pool as it was.
import { createHash } from 'node:crypto';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, truncateSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import type { AddConfig, PackedConfig } from '../../../src/server/config.js';
import { claimPackedPool, openPackedPool, preflightPackedPool } from '../../../src/server/targets/packed-pool.js';
import { countersPath, loadLegacyCounters } from '../../../src/server/targets/counter-store.js';
import { formatPool, openPool, zeroCounters } from '../../../src/engine/index.js';
import { KEY_C } from '../../../src/meta/keys.js';
import { LevelMetaStore } from '../../../src/meta/level-store.js';
import { main } from '../../../src/cli/main.js';
import { memoryIo } from '../../../src/cli/io.js';
import { UcError } from '../../../src/util/errors.js';
import { cfgOf, packedOf } from './support.js';
import { openLogger } from '../../../src/server/logger.js';
import { packedTarget } from '../../../src/server/targets/packed.js';
import type { ServedDevice } from '../../../src/server/serve-target.js';

let dir: string;
beforeEach(() => {
  dir = mkdtempSync(join(tmpdir(), 'packed-pool-'));
});
afterEach(() => rmSync(dir, { recursive: true, force: true }));

function sha(path: string): string {
  return createHash('sha256').update(readFileSync(path)).digest('hex');
}
async function rejects(p: Promise<unknown>, code: string, pattern: RegExp): Promise<void> {
  const err = await p.then(() => undefined, (e: unknown) => e);
  expect(err).toBeInstanceOf(UcError);
  expect((err as UcError).code).toBe(code);
  expect((err as UcError).message).toMatch(pattern);
}
async function withData(pool: string, sizeBytes: number): Promise<void> {
  const cfg = cfgOf(pool, sizeBytes);
  const opened = await openPackedPool(cfg, packedOf(pool), preflightPackedPool(cfg, packedOf(pool)));
  const buf = Buffer.alloc(64 * 4096);
  for (let i = 0; i < buf.length; i += 4096) buf.write(`block ${i} `.repeat(40), i);
  await opened.engine.write(0, 64, buf, false);
  await opened.engine.close();
}

describe('packed pool preflight', () => {
  it('needs --size to create a pool', () => {
    const pool = join(dir, 'p.img');
    expect(() => preflightPackedPool(cfgOf(pool), packedOf(pool))).toThrow(/give --size to create it/);
  });
  it('refuses a non-empty metadata directory without its pool', () => {
    const pool = join(dir, 'p.img');
    const meta = join(dir, 'm');
    mkdirSync(meta);
    writeFileSync(join(meta, 'CURRENT'), 'x');
    expect(() => preflightPackedPool(cfgOf(pool, 1 << 26), packedOf(pool, meta))).toThrow(/is not empty but pool/);
    expect(existsSync(pool)).toBe(false);
  });
  it('refuses a metadata path that is a file', () => {
    const pool = join(dir, 'p.img');
    writeFileSync(join(dir, 'm'), '');
    expect(() => preflightPackedPool(cfgOf(pool, 1 << 26), packedOf(pool, join(dir, 'm')))).toThrow(/not a directory/);
  });
});

describe('openPackedPool', () => {
  it('formats a new sparse pool, re-opens it with its data and grows it', async () => {
    const pool = join(dir, 'p.img');
    await withData(pool, 64 << 20);
    const cfg = cfgOf(pool);
    const again = await openPackedPool(cfg, packedOf(pool), preflightPackedPool(cfg, packedOf(pool)));
    expect(again.action).toBe('open');
    expect(again.engine.stats().mappedBlocks).toBe(64);
    await again.engine.close();
    const grow = cfgOf(pool, 128 << 20);
    const grown = await openPackedPool(grow, packedOf(pool), preflightPackedPool(grow, packedOf(pool)));
    expect(grown.action).toBe('grow');
    expect(grown.note).toMatch(/grew pool .* from 64\.00 MiB to 128\.00 MiB/);
    expect(grown.engine.logicalBytes).toBe(128 << 20);
    const out = Buffer.alloc(4096);
    await grown.engine.read(5, 1, out);
    expect(out.toString('latin1', 0, 12)).toBe(`block ${5 * 4096} `.slice(0, 12));
    await grown.engine.close();
  });

  it('removes a pool it formatted when the start is undone', async () => {
    const pool = join(dir, 'p.img');
    const cfg = cfgOf(pool, 64 << 20);
    const { opened, lock } = await claimPackedPool(cfg, packedOf(pool));
    expect(opened.action).toBe('format');
    await opened.undo();
    lock.release();
    expect(existsSync(pool)).toBe(false);
    expect(existsSync(`${pool}.meta`)).toBe(false);
  });

  it('a start that fails after the device came up stops the device (engine closed) and keeps the pool', async () => {
    const pool = join(dir, 'p.img');
    const log = openLogger(join(dir, 'd.log'), { devId: 0 });
    const opened = await packedTarget(cfgOf(pool, 64 << 20), packedOf(pool)).open(log, () => {});
    let stops = 0;
    // Stands for the started device whose later start step threw (run record, ready report).
    const device = { shutdown: async () => { stops += 1; } } as unknown as ServedDevice;
    await opened.abort(device);
    expect(stops).toBe(1);
    expect(existsSync(pool)).toBe(true); // a device that served: the pool is the user's now
    await opened.abort(undefined); // what a start without a device undoes: the new pool, the ring
    opened.lock.release();
    expect(existsSync(pool)).toBe(false);
  });

  it('refuses, without modifying the pool: shrink, foreign, truncated, missing or foreign metadata', async () => {
    const pool = join(dir, 'p.img');
    await withData(pool, 64 << 20);
    const before = sha(pool);
    const attempt = (cfg: AddConfig, p: PackedConfig): Promise<unknown> =>
      (async () => openPackedPool(cfg, p, preflightPackedPool(cfg, p)))();
    await rejects(attempt(cfgOf(pool, 32 << 20), packedOf(pool)), 'UC_INVALID_ARGUMENT', /smaller than pool .* 256\.00 KiB of data written.*never shrinks/);
    await rejects(attempt(cfgOf(pool), packedOf(pool, join(dir, 'none'))), 'UC_META_MISSING', /missing or empty/);
    expect(existsSync(join(dir, 'none'))).toBe(false);
    const other = join(dir, 'o.img');
    await withData(other, 8 << 20);
    await rejects(attempt(cfgOf(pool), packedOf(pool, `${other}.meta`)), 'UC_META_MISMATCH', /another pool/);
    expect(sha(pool)).toBe(before);

    const foreign = join(dir, 'f.img');
    writeFileSync(foreign, Buffer.alloc(1 << 20, 7));
    await rejects(attempt(cfgOf(foreign, 64 << 20), packedOf(foreign)), 'UC_POOL_FOREIGN', /not our pool/);
    expect(sha(foreign)).toBe(createHash('sha256').update(Buffer.alloc(1 << 20, 7)).digest('hex'));
    expect(existsSync(`${foreign}.meta`)).toBe(false);

    truncateSync(pool, 1 << 20);
    const cut = sha(pool);
    await rejects(attempt(cfgOf(pool), packedOf(pool)), 'UC_POOL_TRUNCATED', /pool is \d+ bytes/);
    expect(sha(pool)).toBe(cut);
  });
});

describe('counter store (legacy JSON file)', () => {
  const legacy = (uuid: string, counters: Record<string, unknown>, at = dir): void =>
    writeFileSync(countersPath(at), JSON.stringify({ uuid, savedAt: 'x', counters }));

  it('reads the totals of its own pool only, and nothing from a damaged file', () => {
    legacy('uuid-a', { blocksWritten: 42, dedupHits: 7, reclaimedBytes: 9, bytesMoved: -1 });
    expect(loadLegacyCounters(dir, 'uuid-a')).toEqual({ ...zeroCounters(), blocksWritten: 42, dedupHits: 7 });
    expect(loadLegacyCounters(dir, 'uuid-b')).toBeUndefined();
    writeFileSync(countersPath(dir), '{not json');
    expect(loadLegacyCounters(dir, 'uuid-a')).toBeUndefined();
  });

  it('migrates once into the engine\'s C record of a pool that has none', async () => {
    const pool = join(dir, 'old.img');
    const metaDir = join(dir, 'old.meta');
    const e0 = await formatPool({ backingPath: pool, metaDir, logicalBytes: 1 << 20, segmentBytes: 64 << 10, flushDelayMs: 0 });
    const uuid = e0.uuid;
    await e0.close();
    // A pool from before the record: drop it, keep the totals in the old file.
    const m = await LevelMetaStore.open(metaDir, { create: false });
    await m.batch([{ type: 'del', key: KEY_C }], true);
    await m.close();
    legacy(uuid, { blocksWritten: 100, dedupHits: 5, segmentsCleaned: 2 }, metaDir);
    const legacyCounters = (u: string) => loadLegacyCounters(metaDir, u);
    const e1 = await openPool({ backingPath: pool, metaDir, legacyCounters, flushDelayMs: 0 });
    expect(e1.stats().totals).toMatchObject({ blocksWritten: 100, dedupHits: 5, segmentsCleaned: 2 });
    await e1.write(0, 2, Buffer.alloc(2 * 4096, 7), false);
    await e1.close();
    // The record now holds the sum; the old file is not read again (even if it changed).
    legacy(uuid, { blocksWritten: 999_999 }, metaDir);
    const e2 = await openPool({ backingPath: pool, metaDir, legacyCounters, flushDelayMs: 0 });
    expect(e2.stats().totals).toMatchObject({ blocksWritten: 102, dedupHits: 5, sameFillBlocks: 2, segmentsCleaned: 2 });
    expect(e2.stats().blocksWritten).toBe(0);
    await e2.close();
  });

  it('starts from zeros when a pool has neither the record nor the file', async () => {
    const pool = join(dir, 'bare.img');
    const metaDir = join(dir, 'bare.meta');
    const e0 = await formatPool({ backingPath: pool, metaDir, logicalBytes: 1 << 20, segmentBytes: 64 << 10 });
    await e0.close();
    const m = await LevelMetaStore.open(metaDir, { create: false });
    await m.batch([{ type: 'del', key: KEY_C }], true);
    await m.close();
    const e1 = await openPool({ backingPath: pool, metaDir, legacyCounters: (u) => loadLegacyCounters(metaDir, u) });
    expect(e1.stats().totals).toEqual(zeroCounters());
    await e1.close();
    const m2 = await LevelMetaStore.open(metaDir, { create: false });
    expect(m2.getSync(KEY_C)).toBeDefined(); // written at close
    await m2.close();
  });
});

describe('packed command lines', () => {
  async function run(argv: string[]): Promise<{ code: number; err: string }> {
    const io = memoryIo();
    const code = await main(argv, io);
    return { code, err: io.stderr.join('') };
  }
  it('rejects bad values and misplaced options with exit 2', async () => {
    expect(await run(['add', '--backing', 'x', '--dedup', 'maybe'])).toMatchObject({ code: 2, err: expect.stringMatching(/--dedup: 'maybe' is not one of off, on, verify/) });
    expect(await run(['add', '--backing', 'x', '--compress', 'zstd'])).toMatchObject({ code: 2, err: expect.stringMatching(/not one of lz4, none/) });
    expect(await run(['add', '--backing', 'x', '--size', '64M', '--layout', 'direct', '--meta', 'm'])).toMatchObject({ code: 2, err: expect.stringMatching(/--meta applies to --layout packed only/) });
    expect(await run(['stats', '--json', '--format', 'json'])).toMatchObject({ code: 2, err: expect.stringMatching(/give --json or --format, not both/) });
    expect(await run(['stats', '--format', 'xml'])).toMatchObject({ code: 2, err: expect.stringMatching(/'xml' is not one of table, json, prometheus/) });
    expect(await run(['stats', '-n', '1', '--count', '2'])).toMatchObject({ code: 2, err: expect.stringMatching(/need --watch/) });
    expect(await run(['compact', '-n', '1', '--threshold', '2'])).toMatchObject({ code: 2, err: expect.stringMatching(/not a fraction/) });
    expect(await run(['recover'])).toMatchObject({ code: 2, err: expect.stringMatching(/missing required option --id/) });
  });
  it('says which device has no daemon to ask', async () => {
    const prev = process.env.UBLK_COMPRESS_RUN_DIR;
    process.env.UBLK_COMPRESS_RUN_DIR = dir;
    try {
      expect(await run(['stats', '-n', '9'])).toMatchObject({ code: 6, err: expect.stringMatching(/no device 9 served by ublk-compress/) });
    } finally {
      if (prev === undefined) delete process.env.UBLK_COMPRESS_RUN_DIR;
      else process.env.UBLK_COMPRESS_RUN_DIR = prev;
    }
  });
});
