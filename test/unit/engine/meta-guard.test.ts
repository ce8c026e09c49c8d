// Metadata guards over real LevelDB directories (issue 7, items 2 and 7): a damaged,
// truncated or deleted write-ahead log that loses durable commits is refused
// (rollback, or damage with intact records after it) with every byte of the pool and
// the metadata directory unchanged; a gap in the unsynced end of the log, as a power
// loss writing pages back out of order leaves it, ends the log there; a damaged
// table filter never reads as zeros; `check` writes nothing.
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { exitCodeOf, EXIT_META_ROLLBACK } from '../../../src/cli/exit-codes.js';
import { checkPool, formatPool, openPool } from '../../../src/engine/index.js';
import { applyLogCut, crc32c, findLogCut, scanLog } from '../../../src/meta/log-scan.js';
import { UcError } from '../../../src/util/errors.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';
import { dirDigest } from './dir-digest.js';
import { copyLiveTree } from '../support/live-copy.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-metaguard-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));

const quiet = { flushDelayMs: 0, backgroundCompaction: false };
const FIRST = 256; // blocks 0..255: in a table after the reopen
const LATER_AT = 1024;
const LATER = 600; // blocks 1024..1623: in the log, six flushes

function block(lba: number, round: number): Buffer {
  const b = Buffer.alloc(BLOCK_BYTES);
  let x = (lba * 2654435761 + round * 40503 + 1) >>> 0;
  for (let i = 0; i < BLOCK_BYTES; i += 4) {
    x = (x ^ (x << 13)) >>> 0;
    x = (x ^ (x >>> 17)) >>> 0;
    x = (x ^ (x << 5)) >>> 0;
    b.writeUInt32LE(x, i);
  }
  return b;
}

function range(lba: number, n: number, round: number): Buffer {
  return Buffer.concat(Array.from({ length: n }, (_, i) => block(lba + i, round)));
}

/** A pool whose first blocks sit in a LevelDB table and the later ones in its log. */
async function buildPool(d: string): Promise<string> {
  fs.mkdirSync(d, { recursive: true });
  const backingPath = path.join(d, 'p.img');
  const e = await formatPool({ backingPath, logicalBytes: 2048 * BLOCK_BYTES, segmentBytes: 65536, ...quiet });
  await e.write(0, FIRST, range(0, FIRST, 1), false);
  await e.flush();
  await e.close();
  const again = await openPool({ backingPath, ...quiet }); // recovery moves the log into a table
  for (let i = 0; i < LATER; i += 100) {
    await again.write(LATER_AT + i, 100, range(LATER_AT + i, 100, 2), false);
    await again.flush();
  }
  await again.close();
  return backingPath;
}


function logOf(metaDir: string): string {
  const logs = fs.readdirSync(metaDir).filter((n) => n.endsWith('.log'));
  expect(logs).toHaveLength(1);
  return path.join(metaDir, logs[0]);
}

function flip(file: string, at: number): void {
  const fd = fs.openSync(file, 'r+');
  const b = Buffer.alloc(1);
  fs.readSync(fd, b, 0, 1, at);
  b[0] ^= 0x10;
  fs.writeSync(fd, b, 0, 1, at);
  fs.closeSync(fd);
}

let pristine: string;
let n = 0;

/** A private copy of the pristine pool directory; returns its pool path. */
function copyPool(): string {
  const d = path.join(root, `case-${n++}`);
  fs.cpSync(path.dirname(pristine), d, { recursive: true });
  return path.join(d, 'p.img');
}

beforeAll(async () => {
  pristine = await buildPool(path.join(root, 'pristine'));
}, 120_000);

describe('metadata rollback and log damage at open', () => {
  const cases: Array<[string, (log: string) => void, string]> = [
    ['the log deleted', (log) => fs.rmSync(log), 'UC_META_ROLLBACK'],
    ['the log truncated to 40%', (log) => fs.truncateSync(log, Math.floor(fs.statSync(log).size * 0.4)), 'UC_META_ROLLBACK'],
    ['a byte flipped in the last record', (log) => flip(log, fs.statSync(log).size - 20), 'UC_META_ROLLBACK'],
    ['a byte flipped in the first log block', (log) => flip(log, 5000), 'UC_META_CORRUPT'],
    ['a 4 KiB region of the log zeroed', (log) => {
      const fd = fs.openSync(log, 'r+');
      fs.writeSync(fd, Buffer.alloc(4096), 0, 4096, 8192);
      fs.closeSync(fd);
    }, 'UC_META_CORRUPT'],
  ];
  for (const [what, damage, code] of cases) {
    it(`refuses ${what} (${code}) and modifies nothing; check reports it and writes nothing`, async () => {
      const backingPath = copyPool();
      const d = path.dirname(backingPath);
      damage(logOf(`${backingPath}.meta`));
      const before = dirDigest(d);
      const err = await openPool({ backingPath, ...quiet }).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UcError);
      expect((err as UcError).code).toBe(code);
      expect((err as UcError).message).toMatch(/Restore .* from a backup|restore the metadata directory/i);
      if (code === 'UC_META_ROLLBACK') expect(exitCodeOf(err)).toBe(EXIT_META_ROLLBACK);
      // Every batch of this log was synced: a gap before intact records hides durable commits.
      else expect((err as UcError).message).toMatch(/intact record\(s\) after it, and commits the pool recorded as durable lie beyond/);
      expect(dirDigest(d)).toBe(before);
      const report = await checkPool({ backingPath });
      expect(report.clean).toBe(false);
      expect(report.problems.join('\n')).toMatch(code === 'UC_META_ROLLBACK' ? /rolled back/ : /metadata log .* is damaged/);
      expect(dirDigest(d)).toBe(before);
    });
  }

  it('opens an intact pool after check, with every block as written', async () => {
    const backingPath = copyPool();
    const d = path.dirname(backingPath);
    const before = dirDigest(d);
    const report = await checkPool({ backingPath });
    expect(report.problems).toEqual([]);
    expect(dirDigest(d)).toBe(before);
    const e = await openPool({ backingPath, ...quiet });
    const out = Buffer.alloc(LATER * BLOCK_BYTES);
    await e.read(LATER_AT, LATER, out);
    expect(out.equals(range(LATER_AT, LATER, 2))).toBe(true);
    await e.read(0, FIRST, out.subarray(0, FIRST * BLOCK_BYTES));
    expect(out.subarray(0, FIRST * BLOCK_BYTES).equals(range(0, FIRST, 1))).toBe(true);
    await e.close();
  });

  it('refuses a damaged table block at open (UC_META_CORRUPT, file and offset named); check reports it; nothing written', async () => {
    const backingPath = copyPool();
    const d = path.dirname(backingPath);
    const meta = `${backingPath}.meta`;
    const table = fs.readdirSync(meta).find((f) => f.endsWith('.ldb'));
    expect(table).toBeDefined();
    flip(path.join(meta, table!), 3000);
    const before = dirDigest(d);
    const err = await openPool({ backingPath, ...quiet }).then(() => undefined, (e: unknown) => e);
    expect(err).toBeInstanceOf(UcError);
    expect((err as UcError).code).toBe('UC_META_CORRUPT');
    expect((err as UcError).message).toMatch(new RegExp(`metadata table ${table}: block at \\d+ .* fails its checksum`));
    expect((err as UcError).message).toMatch(/Nothing was modified. Restore the metadata directory .* from a backup/);
    expect(dirDigest(d)).toBe(before);
    const report = await checkPool({ backingPath });
    expect(report.problems.join('\n')).toMatch(new RegExp(`metadata table ${table}: block at \\d+ .* fails its checksum`));
    expect(dirDigest(d)).toBe(before);
  });

  it('reads an intact LevelDB log as intact and finds a flipped byte mid-way', () => {
    const log = fs.readFileSync(logOf(`${pristine}.meta`));
    expect(log.length).toBeGreaterThan(32768 + 4096);
    const clean = scanLog(log);
    expect(clean).toMatchObject({ damaged: 0, gapAt: -1, recordsAfterGap: 0 });
    expect(clean.records).toBeGreaterThanOrEqual(6);
    const bad = Buffer.from(log);
    bad[10_000] ^= 1;
    const found = scanLog(bad);
    expect(found.damaged).toBe(1);
    expect(found.gapAt).toBeGreaterThan(0);
    expect(found.gapAt).toBeLessThanOrEqual(10_000);
    expect(found.recordsAfterGap).toBeGreaterThan(0);
    const torn = scanLog(log.subarray(0, log.length - 3)); // a torn tail: a crash, nothing after it
    expect(torn).toMatchObject({ damaged: 0, recordsAfterGap: 0 });
    expect(torn.gapAt).toBeGreaterThan(0);
  });
});

describe('a power loss that wrote the unsynced log pages back out of order', () => {
  const PAGE = 4096;
  const GROUPS = 8;
  const GROUP_BLOCKS = 50;
  const AT = 100;

  /** A crash image of a pool left open: every byte the page cache held, LOCK left out. */
  function crashImage(from: string, to: string): void {
    copyLiveTree(from, to, (name) => name === 'LOCK');
  }

  it('ends the log at the gap: flushed blocks intact, later ones a prefix of the writes, check clean', async () => {
    const d = path.join(root, 'reorder');
    fs.mkdirSync(d);
    const backingPath = path.join(d, 'p.img');
    const e = await formatPool({ backingPath, logicalBytes: 2048 * BLOCK_BYTES, segmentBytes: 65536, flushDelayMs: 5, backgroundCompaction: false });
    await e.write(0, 64, range(0, 64, 1), false);
    await e.flush();
    const log = logOf(`${backingPath}.meta`);
    const durableBytes = fs.statSync(log).size;
    for (let g = 0; g < GROUPS; g += 1) {
      await e.write(AT + g * GROUP_BLOCKS, GROUP_BLOCKS, range(AT + g * GROUP_BLOCKS, GROUP_BLOCKS, 3), false);
      await new Promise((r) => setTimeout(r, 40)); // the delayed commit: a batch without sync
    }
    const unsyncedBytes = fs.statSync(log).size;
    const image = path.join(root, 'reorder-crash');
    crashImage(d, image);
    await e.close();
    // The first whole page after the synced end never reached the disk; later pages did.
    const lost = Math.ceil(durableBytes / PAGE) * PAGE;
    expect(unsyncedBytes).toBeGreaterThan(lost + 2 * PAGE);
    const imageLog = path.join(`${image}/p.img.meta`, path.basename(log));
    const fd = fs.openSync(imageLog, 'r+');
    fs.writeSync(fd, Buffer.alloc(PAGE), 0, PAGE, lost);
    fs.closeSync(fd);
    const cut = findLogCut(`${image}/p.img.meta`);
    expect(cut).toMatchObject({ file: path.basename(log) });
    expect(cut!.at).toBeGreaterThanOrEqual(durableBytes - 32768);
    expect(cut!.recordsDropped).toBeGreaterThan(0);

    const reopened = await openPool({ backingPath: path.join(image, 'p.img'), ...quiet });
    const out = Buffer.alloc(64 * BLOCK_BYTES);
    await reopened.read(0, 64, out);
    expect(out.equals(range(0, 64, 1))).toBe(true); // flushed: intact
    const states: string[] = [];
    for (let i = 0; i < GROUPS * GROUP_BLOCKS; i += 1) {
      const b = Buffer.alloc(BLOCK_BYTES);
      await reopened.read(AT + i, 1, b);
      states.push(b.equals(block(AT + i, 3)) ? 'new' : b.every((x) => x === 0) ? 'zero' : 'other');
    }
    expect(states).not.toContain('other');
    const firstZero = states.indexOf('zero');
    expect(firstZero).toBeGreaterThanOrEqual(0); // the gap dropped something
    expect(states.slice(firstZero)).not.toContain('new'); // and what stays is a prefix of the writes
    await reopened.close();
    const report = await checkPool({ backingPath: path.join(image, 'p.img') });
    expect(report.problems).toEqual([]);
  });

  it('a gap in an older log ends the logs there: every later log is emptied', () => {
    const meta = path.join(root, 'two-logs');
    fs.mkdirSync(meta);
    const log = fs.readFileSync(logOf(`${pristine}.meta`));
    const older = Buffer.from(log);
    older.fill(0, log.length - 2 * PAGE - 100, log.length - PAGE - 100); // a zeroed page, records after it
    fs.writeFileSync(path.join(meta, '000009.log'), older);
    fs.writeFileSync(path.join(meta, '000012.log'), log);
    const cut = findLogCut(meta);
    expect(cut).toMatchObject({ file: '000009.log', laterLogs: ['000012.log'] });
    expect(cut!.recordsDropped).toBeGreaterThanOrEqual(scanLog(log).records); // the later log: all of it
    applyLogCut(meta, cut!);
    expect(fs.statSync(path.join(meta, '000009.log')).size).toBe(cut!.at);
    expect(fs.statSync(path.join(meta, '000012.log')).size).toBe(0);
    expect(findLogCut(meta)).toBeUndefined();
  });
});

/** LevelDB's stored form of a CRC (the inverse of unmaskCrc). */
function maskCrc(crc: number): number {
  return ((((crc >>> 15) | (crc << 17)) >>> 0) + 0xa282ead8) >>> 0;
}

/** Zeroes the bit arrays of every bloom filter in a LevelDB table (keeps each probe count). */
function zeroFilters(file: string): number {
  const t = fs.readFileSync(file);
  let pos = t.length - 48;
  const varint = (): number => {
    let v = 0;
    for (let shift = 0; ; shift += 7) {
      const byte = t[pos++];
      v += (byte & 0x7f) * 2 ** shift;
      if (byte < 0x80) return v;
    }
  };
  const metaAt = varint();
  const metaSize = varint();
  expect(t[metaAt + metaSize], 'metaindex block stored uncompressed').toBe(0);
  const end = metaAt + metaSize - 4 - 4 * t.readUInt32LE(metaAt + metaSize - 4);
  let zeroed = 0;
  for (pos = metaAt; pos < end; ) {
    const shared = varint();
    const keyBytes = varint();
    const valueBytes = varint();
    const key = t.subarray(pos, pos + keyBytes).toString('latin1');
    pos += keyBytes;
    const next = pos + valueBytes;
    expect(shared).toBe(0);
    if (key.startsWith('filter.')) {
      const at = varint();
      const size = varint();
      const arrayAt = t.readUInt32LE(at + size - 5);
      const offsets = Array.from({ length: (size - 5 - arrayAt) / 4 }, (_, i) => t.readUInt32LE(at + arrayAt + 4 * i));
      offsets.push(arrayAt);
      for (let i = 0; i + 1 < offsets.length; i++) {
        if (offsets[i + 1] - offsets[i] < 2) continue;
        t.fill(0, at + offsets[i], at + offsets[i + 1] - 1);
        zeroed += 1;
      }
      // A fresh checksum: this is a filter that is wrong yet intact (what the read path
      // must survive), not a flipped byte, which open refuses before LevelDB sees it.
      t.writeUInt32LE(maskCrc(crc32c(t, at, at + size + 1)), at + size + 1);
    }
    pos = next;
  }
  fs.writeFileSync(file, t);
  return zeroed;
}

describe('damaged table filter', () => {
  it('never serves zeros for a mapped block, before or after the mapped-block scan', async () => {
    const backingPath = copyPool();
    const metaDir = `${backingPath}.meta`;
    const tables = fs.readdirSync(metaDir).filter((f) => f.endsWith('.ldb'));
    expect(tables.length).toBeGreaterThan(0);
    let zeroed = 0;
    for (const f of tables) zeroed += zeroFilters(path.join(metaDir, f));
    expect(zeroed).toBeGreaterThan(0);
    const report = await checkPool({ backingPath });
    expect(report.problems.join('\n')).toMatch(/missed by a point lookup/);
    const e = await openPool({ backingPath, ...quiet });
    const one = Buffer.alloc(BLOCK_BYTES);
    // A block's read fails (a seek or the finished scan contradicts the point lookup's
    // miss), or, once the cache warm-up (an iterator: no filters) has cached its
    // records, it is served from the cache and verified. Never zeros or other bytes.
    const readOf = (lba: number): Promise<string> =>
      e.read(lba, 1, one).then(() => (one.equals(range(lba, 1, 1)) ? 'its bytes' : 'other bytes'), (err: UcError) => err.code);
    // At once (the scan may still run: a seek confirms the miss) and after the scans.
    expect(await readOf(7), 'lba 7').toMatch(/UC_META_CORRUPT|UC_POOL_CORRUPT|its bytes/);
    await new Promise((r) => setTimeout(r, 300));
    for (const lba of [0, 100, FIRST - 1]) {
      expect(await readOf(lba), `lba ${lba}`).toMatch(/UC_META_CORRUPT|UC_POOL_CORRUPT|its bytes/);
    }
    expect(e.stats().cache.warmedRecords).toBeGreaterThan(0);
    const later = Buffer.alloc(100 * BLOCK_BYTES);
    await e.read(LATER_AT, 100, later);
    expect(later.equals(range(LATER_AT, 100, 2))).toBe(true);
    const free = Buffer.alloc(BLOCK_BYTES, 1);
    await e.read(1900, 1, free);
    expect(free.equals(Buffer.alloc(BLOCK_BYTES))).toBe(true);
    await e.close();
  });
});
