// Every refusal leaves every byte of the pool and both metadata directories as it
// was (issue 7, item 7), with its own code (item 5); `check --repair` rewrites only
// a damaged superblock copy (item 6).
import fs from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { execFileSync } from 'node:child_process';
import { ClassicLevel } from 'classic-level';
import { afterAll, describe, expect, it } from 'vitest';
import { parseArgs } from '../../../src/cli/args.js';
import { checkCommand } from '../../../src/cli/commands/check.js';
import { CHECK_PROBLEMS } from '../../../src/cli/check-status.js';
import { EXIT_BACKING_UNUSABLE, EXIT_NO_SPACE, exitCodeOf } from '../../../src/cli/exit-codes.js';
import { memoryIo } from '../../../src/cli/io.js';
import { formatPool, openPool } from '../../../src/engine/index.js';
import { KEY_S } from '../../../src/meta/keys.js';
import { openFailure } from '../../../src/meta/level-errors.js';
import { LevelMetaStore } from '../../../src/meta/level-store.js';
import { decodeState, encodeState } from '../../../src/meta/records.js';
import { SLOT_BYTES } from '../../../src/pool/format.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';
import { dirDigest } from './dir-digest.js';

const root = fs.mkdtempSync(path.join(os.tmpdir(), 'uc-refuse-'));
afterAll(() => fs.rmSync(root, { recursive: true, force: true }));
const quiet = { flushDelayMs: 0, backgroundCompaction: false };
let n = 0;

async function newPool(): Promise<string> {
  const d = path.join(root, `p${n++}`);
  fs.mkdirSync(d);
  const backingPath = path.join(d, 'p.img');
  const e = await formatPool({ backingPath, logicalBytes: 256 * BLOCK_BYTES, segmentBytes: 65536, ...quiet });
  const data = Buffer.alloc(16 * BLOCK_BYTES);
  for (let i = 0; i < data.length; i++) data[i] = (i * 131 + (i >> 12)) & 0xff;
  await e.write(0, 16, data, true);
  await e.close();
  return backingPath;
}


/** Rewrites the S record of a closed pool's metadata. */
async function editState(metaDir: string, edit: (s: ReturnType<typeof decodeState>) => void): Promise<void> {
  const m = await LevelMetaStore.open(metaDir, { create: false });
  const s = decodeState(m.getSync(KEY_S)!);
  edit(s);
  await m.batch([{ type: 'put', key: KEY_S, value: encodeState(s) }], true);
  await m.close();
}

async function refusal(o: { backingPath: string; metaDir?: string }, code: string): Promise<void> {
  const dirs = [...new Set([path.dirname(o.backingPath), path.dirname(o.metaDir ?? o.backingPath)])];
  const before = dirs.map(dirDigest);
  await expect(openPool({ ...o, ...quiet })).rejects.toMatchObject({ code });
  expect(dirs.map(dirDigest)).toEqual(before);
}

describe('refusals modify nothing', () => {
  it("another pool's metadata: UC_META_MISMATCH, neither pool nor either directory changed", async () => {
    const a = await newPool();
    const b = await newPool();
    await refusal({ backingPath: a, metaDir: `${b}.meta` }, 'UC_META_MISMATCH');
  });

  it('a foreign file as the pool: UC_POOL_FOREIGN, the metadata directory untouched', async () => {
    const a = await newPool();
    const foreign = path.join(path.dirname(a), 'foreign.img');
    fs.writeFileSync(foreign, Buffer.alloc(1 << 20, 0x5a));
    await refusal({ backingPath: foreign, metaDir: `${a}.meta` }, 'UC_POOL_FOREIGN');
  });

  it('metadata of a newer format: UC_POOL_VERSION', async () => {
    const a = await newPool();
    await editState(`${a}.meta`, (s) => { s.version = 9; });
    await refusal({ backingPath: a }, 'UC_POOL_VERSION');
  });

  it('segment size differing between superblock and metadata: UC_META_CORRUPT, not ERR_ASSERTION', async () => {
    const a = await newPool();
    await editState(`${a}.meta`, (s) => { s.segmentBytes = 131072; });
    await refusal({ backingPath: a }, 'UC_META_CORRUPT');
  });

  it('a segment record beyond the pool: UC_META_CORRUPT', async () => {
    const a = await newPool();
    const m = await LevelMetaStore.open(`${a}.meta`, { create: false });
    const key = Buffer.from([0x47, 0, 0x10, 0, 0]);
    await m.batch([{ type: 'put', key, value: Buffer.from('000000000000000002', 'hex') }], true);
    await m.close();
    await refusal({ backingPath: a }, 'UC_META_CORRUPT');
  });

  it('a damaged MANIFEST: UC_META_CORRUPT; an empty directory: UC_META_MISSING', async () => {
    const a = await newPool();
    const meta = `${a}.meta`;
    for (const f of fs.readdirSync(meta)) if (f.startsWith('MANIFEST-')) fs.writeFileSync(path.join(meta, f), Buffer.alloc(100, 7));
    await refusal({ backingPath: a }, 'UC_META_CORRUPT');
    const empty = path.join(path.dirname(a), 'empty.meta');
    fs.mkdirSync(empty);
    await refusal({ backingPath: a, metaDir: empty }, 'UC_META_MISSING');
    expect(fs.readdirSync(empty)).toEqual([]);
  });

  it('metadata open in another handle: UC_POOL_LOCKED', async () => {
    const a = await newPool();
    const holder = new ClassicLevel(`${a}.meta`);
    await holder.open();
    await new Promise((r) => setTimeout(r, 300)); // let the holder's own recovery compaction settle
    try {
      await refusal({ backingPath: a }, 'UC_POOL_LOCKED');
    } finally {
      await holder.close();
    }
  });

  it('both superblock copies damaged: UC_POOL_CORRUPT', async () => {
    const a = await newPool();
    const fd = fs.openSync(a, 'r+');
    fs.writeSync(fd, Buffer.from([0xee]), 0, 1, 100);
    fs.writeSync(fd, Buffer.from([0xee]), 0, 1, SLOT_BYTES + 100);
    fs.closeSync(fd);
    await refusal({ backingPath: a }, 'UC_POOL_CORRUPT');
  });
});

describe('a full metadata filesystem at open (small tmpfs; needs root like the guest tests)', () => {
  it('refuses with UC_NO_SPACE (exit 8), modifies nothing, and opens once space is freed', async () => {
    const mnt = fs.mkdtempSync(path.join(root, 'tmpfs-'));
    execFileSync('mount', ['-t', 'tmpfs', '-o', 'size=2m', 'tmpfs', mnt]);
    try {
      const backingPath = path.join(root, `full-${n++}.img`);
      const metaDir = path.join(mnt, 'p.meta');
      const e = await formatPool({ backingPath, metaDir, logicalBytes: 256 * BLOCK_BYTES, segmentBytes: 65536, ...quiet });
      await e.write(0, 64, Buffer.alloc(64 * BLOCK_BYTES, 0x61), true);
      await e.close();
      const filler = path.join(mnt, 'filler');
      const fd = fs.openSync(filler, 'w');
      try {
        for (;;) fs.writeSync(fd, Buffer.alloc(4096, 1));
      } catch (err) {
        expect((err as NodeJS.ErrnoException).code).toBe('ENOSPC');
      }
      fs.closeSync(fd);
      const before = [dirDigest(mnt), fs.readFileSync(backingPath).toString('base64')];
      const err = await openPool({ backingPath, metaDir, ...quiet }).then(() => undefined, (x: unknown) => x);
      expect(err).toMatchObject({ code: 'UC_NO_SPACE' });
      expect(exitCodeOf(err)).toBe(EXIT_NO_SPACE);
      expect([dirDigest(mnt), fs.readFileSync(backingPath).toString('base64')]).toEqual(before);
      fs.rmSync(filler);
      const again = await openPool({ backingPath, metaDir, ...quiet });
      const out = Buffer.alloc(BLOCK_BYTES);
      await again.read(63, 1, out);
      expect(out.equals(Buffer.alloc(BLOCK_BYTES, 0x61))).toBe(true);
      await again.close();
    } finally {
      execFileSync('umount', [mnt]);
    }
  });
});

describe('LevelDB open failures are told apart', () => {
  const level = (code: string | undefined, message: string): unknown => ({
    code: 'LEVEL_DATABASE_NOT_OPEN', message: 'Database failed to open', cause: { code, message },
  });
  const cases: Array<[string, unknown, string]> = [
    ['lock held', level('LEVEL_LOCKED', 'IO error: lock /m/LOCK: already held by process'), 'UC_POOL_LOCKED'],
    ['full disk', level('LEVEL_IO_ERROR', 'IO error: /m/000005.ldb: No space left on device'), 'UC_NO_SPACE'],
    ['no permission', level('LEVEL_IO_ERROR', 'IO error: /m/LOCK: Permission denied'), 'UC_PERMISSION_DENIED'],
    ['corruption', level('LEVEL_CORRUPTION', 'Corruption: no meta-nextfile entry in descriptor'), 'UC_META_CORRUPT'],
    ['a listed file gone', level('LEVEL_IO_ERROR', 'IO error: /m/MANIFEST-000002: No such file or directory'), 'UC_META_CORRUPT'],
    ['not a database', level(undefined, 'Invalid argument: /m: does not exist (create_if_missing is false)'), 'UC_META_MISSING'],
    ['other I/O error', level('LEVEL_IO_ERROR', 'IO error: /m/000005.log: Input/output error'), 'UC_IO'],
  ];
  for (const [what, err, code] of cases) {
    it(`${what} -> ${code}, naming the directory the user gave`, () => {
      const e = openFailure(err, '/m', '/pool.img.meta');
      expect(e.code).toBe(code);
      expect(e.message).toContain('/pool.img.meta');
      expect(e.message).not.toMatch(/\/m\//);
    });
  }
  it('maps them to exit statuses: full disk 8, the rest of the metadata refusals 7', () => {
    expect(exitCodeOf(openFailure(cases[1][1], '/m', '/m'))).toBe(EXIT_NO_SPACE);
    for (const i of [0, 2, 3, 5]) expect(exitCodeOf(openFailure(cases[i][1], '/m', '/m'))).toBe(EXIT_BACKING_UNUSABLE);
  });
});

async function runCheck(argv: string[]): Promise<{ status: number; text: string }> {
  const io = memoryIo();
  const args = parseArgs(argv, checkCommand.options, checkCommand.maxPositionals ?? 0);
  const status = await checkCommand.run(args, io);
  return { status, text: io.stdout.join('') };
}

describe('check --repair', () => {
  for (const slot of [0, 1]) {
    it(`reports a damaged copy ${slot}, writes nothing without --repair, and rewrites only that copy with it`, async () => {
      const a = await newPool();
      const d = path.dirname(a);
      const fd = fs.openSync(a, 'r+');
      fs.writeSync(fd, Buffer.from([0x77]), 0, 1, slot * SLOT_BYTES + 9); // the version field
      fs.closeSync(fd);
      const damaged = fs.readFileSync(a);
      const before = dirDigest(d);
      const plain = await runCheck(['--backing', a]);
      expect(plain.status).toBe(CHECK_PROBLEMS);
      expect(plain.text).toMatch(new RegExp(`superblock copy ${slot} is damaged: checksum mismatch`));
      expect(dirDigest(d)).toBe(before);
      const fixed = await runCheck(['--backing', a, '--repair']);
      expect(fixed.text).toMatch(new RegExp(`repaired: rewrote superblock copy ${slot} .* from copy ${1 - slot}`));
      expect(fixed.status).toBe(0);
      const after = fs.readFileSync(a);
      const good = damaged.subarray((1 - slot) * SLOT_BYTES, (2 - slot) * SLOT_BYTES);
      expect(after.subarray(slot * SLOT_BYTES, (slot + 1) * SLOT_BYTES).equals(good)).toBe(true);
      // Nothing else in the pool changed.
      expect(after.subarray(4096).equals(damaged.subarray(4096))).toBe(true);
      expect(after.subarray((1 - slot) * SLOT_BYTES, (2 - slot) * SLOT_BYTES).equals(good)).toBe(true);
      const again = await runCheck(['--backing', a, '--repair']);
      expect(again.text).toMatch(/nothing rewritten/);
      const e = await openPool({ backingPath: a, ...quiet });
      await e.close();
    });
  }
});
