// Superblock copies (issue 7, items 5 and 6): either valid copy opens the pool, the
// CRC is checked before anything else, out-of-range fields make a copy damaged
// (never an exception of the wrong kind), and the keeper records the durable
// commit sequence one copy at a time.
import zlib from 'node:zlib';
import { describe, expect, it } from 'vitest';
import {
  encodeSlot, FORMAT_VERSION, newUuid, readCopies, readSuperblock, readSuperblockCopies, SLOT_BYTES,
  writeSuperblock, type Superblock,
} from '../../../src/pool/index.js';
import { decodeSlot, newerGeneration } from '../../../src/pool/format.js';
import { SuperblockKeeper } from '../../../src/pool/superblock-keeper.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { UcError } from '../../../src/util/errors.js';

function sb(): Superblock {
  return {
    version: FORMAT_VERSION, generation: 0, uuid: newUuid(), blockBytes: 4096, segmentBytes: 65536,
    logicalBytes: 1 << 20, dataOffset: 4096, segmentCount: 8, layout: 0, durableSeq: 0,
  };
}

async function formatted(): Promise<{ disk: SimDisk; written: Superblock }> {
  const disk = new SimDisk(4096 + 8 * 65536);
  const written = await writeSuperblock(disk, sb());
  return { disk, written };
}

/** Rewrites one field of a copy and fixes its CRC: a copy that is valid but out of range. */
async function patch(disk: SimDisk, slot: number, at: number, bytes: Buffer): Promise<void> {
  const b = Buffer.alloc(SLOT_BYTES);
  await disk.pread(b, 0, SLOT_BYTES, slot * SLOT_BYTES);
  bytes.copy(b, at);
  b.writeUInt32BE(zlib.crc32(b.subarray(0, SLOT_BYTES - 4)), SLOT_BYTES - 4);
  await disk.pwrite(b, 0, SLOT_BYTES, slot * SLOT_BYTES);
}

async function flipByte(disk: SimDisk, at: number): Promise<void> {
  const b = Buffer.alloc(1);
  await disk.pread(b, 0, 1, at);
  b[0] ^= 0x01;
  await disk.pwrite(b, 0, 1, at);
}

describe('superblock copies', () => {
  for (const slot of [0, 1]) {
    for (const [what, at] of [['version', 11], ['magic', 3], ['uuid', 20], ['logical size', 47], ['crc', 2046]] as const) {
      it(`opens from the other copy when copy ${slot} has a flipped ${what} byte`, async () => {
        const { disk, written } = await formatted();
        await flipByte(disk, slot * SLOT_BYTES + at);
        const got = await readSuperblockCopies(disk);
        expect(got.slot).toBe(1 - slot);
        expect(got.sb.uuid.equals(written.uuid)).toBe(true);
        expect(got.sb.logicalBytes).toBe(written.logicalBytes);
        const copies = await readCopies(disk);
        expect(copies.slots[slot].kind).toBe(what === 'magic' ? 'foreign' : 'bad');
      });
    }
  }

  it('refuses only when both copies are damaged, naming each', async () => {
    const { disk } = await formatted();
    await flipByte(disk, 11);
    await flipByte(disk, SLOT_BYTES + 50);
    await expect(readSuperblock(disk)).rejects.toMatchObject({
      code: 'UC_POOL_CORRUPT', message: expect.stringMatching(/copy 0: checksum mismatch; copy 1: checksum mismatch/),
    });
  });

  it('a valid copy of a newer version refuses with UC_POOL_VERSION', async () => {
    const { disk } = await formatted();
    await patch(disk, 1, 8, Buffer.from([0, 0, 0, FORMAT_VERSION + 1]));
    await expect(readSuperblock(disk)).rejects.toMatchObject({ code: 'UC_POOL_VERSION' });
  });

  const ranges: Array<[string, number, Buffer]> = [
    ['logical size 0', 40, Buffer.alloc(8)],
    ['logical size not a multiple of 4096', 46, Buffer.from([0x10, 0x01])],
    ['logical size beyond 2^53', 40, Buffer.from('0100000000000000', 'hex')],
    ['segment size 0', 36, Buffer.alloc(4)],
    ['segment size not a power of two', 36, Buffer.from('00030000', 'hex')],
    ['segment size 2 GiB', 36, Buffer.from('80000000', 'hex')],
    ['segment count 1', 56, Buffer.from('00000001', 'hex')],
    ['1 GiB segments x 2^32-1 (pool end beyond 2^53)', 36, Buffer.from('40000000' + '0000000000100000' + '0000000000001000' + 'ffffffff', 'hex')],
    ['block size 512', 32, Buffer.from('00000200', 'hex')],
    ['data offset 0', 48, Buffer.alloc(8)],
    ['layout 7', 60, Buffer.from([7])],
    ['version 0', 8, Buffer.alloc(4)],
    ['durable sequence beyond 2^53', 64, Buffer.from('ff00000000000000', 'hex')],
  ];
  for (const [what, at, bytes] of ranges) {
    it(`treats a copy with ${what} as damaged, never as a crash`, async () => {
      const { disk, written } = await formatted();
      await patch(disk, 0, at, bytes);
      const slot = Buffer.alloc(SLOT_BYTES);
      await disk.pread(slot, 0, SLOT_BYTES, 0);
      expect(decodeSlot(slot).kind).toBe('bad');
      expect((await readSuperblock(disk)).uuid.equals(written.uuid)).toBe(true);
      await patch(disk, 1, at, bytes);
      const err = await readSuperblock(disk).then(() => undefined, (e: unknown) => e);
      expect(err).toBeInstanceOf(UcError);
      expect((err as UcError).code).toBe('UC_POOL_CORRUPT');
    });
  }

  it('orders generations across the u32 wrap', () => {
    expect(newerGeneration(1, 0)).toBe(true);
    expect(newerGeneration(0, 0xffff_ffff)).toBe(true);
    expect(newerGeneration(0xffff_ffff, 0)).toBe(false);
    expect(newerGeneration(5, 5)).toBe(false);
  });
});

/** Keepers in these tests never fail; a failure must fail the test. */
function failOnKeeperError(err: unknown): void {
  throw new Error(`unexpected superblock keeper failure: ${String(err)}`);
}

describe('SuperblockKeeper', () => {
  it('records durable sequences in the background, one copy at a time, coalescing', async () => {
    const { disk } = await formatted();
    const first = await readSuperblockCopies(disk);
    const k = new SuperblockKeeper(disk, first.sb, first.slot, failOnKeeperError);
    k.noteDurable(3);
    k.noteDurable(5); // coalesces with 3 or follows it
    await k.close();
    const after = await readCopies(disk);
    const seqs = after.slots.map((s) => (s.kind === 'ok' ? s.sb.durableSeq : -1));
    expect(Math.max(...seqs)).toBe(5);
    expect((await readSuperblock(disk)).durableSeq).toBe(5);
    // The two copies alternate: the newest is never the one written before it.
    const k2 = new SuperblockKeeper(disk, (await readSuperblockCopies(disk)).sb, (await readSuperblockCopies(disk)).slot, failOnKeeperError);
    const before = (await readSuperblockCopies(disk)).slot;
    k2.noteDurable(9);
    await k2.close();
    const now = await readSuperblockCopies(disk);
    expect(now.slot).toBe(1 - before);
    expect(now.sb.durableSeq).toBe(9);
  });

  it('a crash tearing the copy being written leaves the other valid, with the older sequence', async () => {
    for (let trial = 0; trial < 20; trial++) {
      const { disk } = await formatted();
      const first = await readSuperblockCopies(disk);
      const k = new SuperblockKeeper(disk, first.sb, first.slot, failOnKeeperError);
      k.noteDurable(4);
      await k.close();
      const reopened = await readSuperblockCopies(disk);
      const k2 = new SuperblockKeeper(disk, reopened.sb, reopened.slot, failOnKeeperError);
      k2.noteDurable(8);
      for (let t = 0; t < trial; t++) await Promise.resolve(); // crash at a random microtask
      let sector = 0;
      const crashed = disk.crash(() => 'tear', () => sector++ % 2 === 0);
      const got = await readSuperblock(crashed);
      expect([4, 8]).toContain(got.durableSeq);
    }
  });

  it('rewrite changes geometry in both copies and keeps the sequence', async () => {
    const { disk } = await formatted();
    const first = await readSuperblockCopies(disk);
    const k = new SuperblockKeeper(disk, first.sb, first.slot, failOnKeeperError);
    k.noteDurable(2);
    const next = await k.rewrite({ logicalBytes: 2 << 20 });
    expect(next).toMatchObject({ logicalBytes: 2 << 20, durableSeq: 2 });
    const copies = await readCopies(disk);
    for (const s of copies.slots) expect(s.kind === 'ok' && s.sb.logicalBytes).toBe(2 << 20);
  });

  it('reports a failed background record instead of swallowing it', async () => {
    const { disk } = await formatted();
    const first = await readSuperblockCopies(disk);
    const failures: unknown[] = [];
    const k = new SuperblockKeeper(disk, first.sb, first.slot, (err) => failures.push(err));
    disk.failSyncs = new Error('EIO');
    k.noteDurable(3);
    await new Promise((r) => setTimeout(r, 100));
    expect(failures).toHaveLength(1);
    disk.failSyncs = undefined;
    await k.close(); // close retries the record
    expect((await readSuperblock(disk)).durableSeq).toBe(3);
  });

  it('close never overlaps a background record, and nothing is written once it resolved', async () => {
    const { disk } = await formatted();
    const first = await readSuperblockCopies(disk);
    // Every superblock write is a pwrite then an fdatasync: count the ones in progress.
    let active = 0;
    let activeMax = 0;
    let writes = 0;
    const watched = Object.create(disk) as SimDisk;
    watched.pwrite = async (...a: Parameters<SimDisk['pwrite']>) => {
      active += 1;
      writes += 1;
      activeMax = Math.max(activeMax, active);
      return disk.pwrite(...a);
    };
    watched.fdatasync = async () => {
      await disk.fdatasync();
      active -= 1;
    };
    const k = new SuperblockKeeper(watched, first.sb, first.slot, failOnKeeperError);
    const closing = k.close();
    k.noteDurable(5); // a commit that became durable while close started
    await closing;
    const written = writes;
    k.noteDurable(9); // after close: recorded nowhere, the pool may be closed already
    await new Promise((r) => setTimeout(r, 120));
    expect(activeMax).toBe(1);
    expect(writes).toBe(written);
    await expect(k.rewrite({ logicalBytes: 2 << 20 })).rejects.toThrow(/closed/);
    // The copies still alternate: the newest is the one written last, the other is intact.
    const now = await readCopies(disk);
    expect(now.slots.every((s) => s.kind === 'ok')).toBe(true);
    expect((await readSuperblock(disk)).durableSeq).toBe(5);
  });

  it('encodes the durable sequence at offset 64', () => {
    const b = encodeSlot({ ...sb(), durableSeq: 0x1234_5678_9a });
    expect(b.readBigUInt64BE(64)).toBe(0x1234_5678_9an);
  });
});
