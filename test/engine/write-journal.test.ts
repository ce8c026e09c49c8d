// The write journal's file format and life cycle (src/engine/write-journal.ts):
// records come back in sequence order from both files, those a metadata state
// already includes are skipped, a damaged record ends its file's scan, and
// after a replay nothing of the old files can resurface, not even records past
// a damaged one.
import { describe, expect, it } from 'vitest';
import { JOURNAL_HEADER_BYTES, WriteJournal, type JournalFile } from '../../src/engine/write-journal.js';
import { xxh128 } from '../../src/dedup/index.js';
import { SimDisk } from '../../src/testing/sim-disk.js';
import { simJournalFile } from '../../src/testing/sim-journal.js';
import { BLOCK_BYTES } from '../../src/util/units.js';

const FILE_BYTES = 256 * 1024;

function files(): [SimDisk, SimDisk] {
  return [new SimDisk(FILE_BYTES), new SimDisk(FILE_BYTES)];
}

/** Journal files over the disks: the journal sees them, the test damages the disks. */
function over(f: [SimDisk, SimDisk]): [JournalFile, JournalFile] {
  return [simJournalFile(f[0]), simJournalFile(f[1])];
}

function block(n: number): Buffer {
  return Buffer.alloc(BLOCK_BYTES, n);
}

/** `length` bytes of a disk at `at`, as the journal's files show them now. */
async function bytesAt(d: SimDisk, at: number, length: number): Promise<Buffer> {
  const b = Buffer.alloc(length);
  await d.pread(b, 0, length, at);
  return b;
}

async function fresh(f: [SimDisk, SimDisk]): Promise<WriteJournal> {
  const { journal } = await WriteJournal.load(over(f), 0, FILE_BYTES);
  await journal.finishReplay();
  return journal;
}

describe('write journal', () => {
  it('returns the records above the committed sequence, in order, across a rotation', async () => {
    const f = files();
    const j = await fresh(f);
    await j.append('write', 10, 1, block(1));
    await j.append('unmap', 20, 300);
    j.rotate(); // a freeze at J = 2 moves appends to the other file
    await j.append('write', 11, 2, Buffer.concat([block(2), block(3)]));
    const { ops } = await WriteJournal.load(over(f), 1, FILE_BYTES);
    expect(ops.map((o) => [o.seq, o.kind, o.lba, o.blocks])).toEqual([
      [2, 'unmap', 20, 300],
      [3, 'write', 11, 2],
    ]);
    const w = ops[1];
    expect(w.kind === 'write' && w.data.equals(Buffer.concat([block(2), block(3)]))).toBe(true);
  });

  it("takes a one-block record's payload checksum from the caller: the block's XXH128, else the record is lost", async () => {
    const f = files();
    const j = await fresh(f);
    await j.append('write', 5, 1, block(5), xxh128(block(5)));
    await j.append('write', 6, 1, block(6), xxh128(block(6)));
    await j.append('write', 7, 1, block(7), xxh128(block(8))); // a wrong checksum: not replayed
    const { ops } = await WriteJournal.load(over(f), 0, FILE_BYTES);
    expect(ops.map((o) => o.seq)).toEqual([1, 2]);
    expect(ops.every((o) => o.kind === 'write' && o.data.equals(block(o.lba)))).toBe(true);
  });

  it('ends a file at a damaged record, and never lets the records after it resurface', async () => {
    const f = files();
    const j = await fresh(f);
    for (let i = 1; i <= 4; i++) await j.append('write', i, 1, block(i));
    // Damage record 2's payload (one byte): records 2..4 of this file are not replayed.
    const at = JOURNAL_HEADER_BYTES + BLOCK_BYTES + JOURNAL_HEADER_BYTES + 100;
    await f[0].pwrite(Buffer.from([0xee]), 0, 1, at);
    const loaded = await WriteJournal.load(over(f), 0, FILE_BYTES);
    expect(loaded.ops.map((o) => o.seq)).toEqual([1]);
    await loaded.journal.finishReplay();
    // The next life appends one short record; records 3 and 4 of the last life
    // still lay behind it unless finishReplay emptied the whole file.
    await loaded.journal.append('unmap', 0, 1);
    const again = await WriteJournal.load(over(f), 0, FILE_BYTES);
    expect(again.ops.map((o) => [o.seq, o.kind])).toEqual([[2, 'unmap']]);
  });

  it('restarts sequences above every record it saw, so none of them can pass for a newer one', async () => {
    const f = files();
    const j = await fresh(f);
    for (let i = 1; i <= 3; i++) await j.append('write', i, 1, block(i));
    const loaded = await WriteJournal.load(over(f), 3, FILE_BYTES); // the metadata already holds 1..3
    expect(loaded.ops).toEqual([]);
    await loaded.journal.finishReplay();
    expect(loaded.journal.lastSeq).toBe(3);
  });

  it('empties a file once a written batch covers it', async () => {
    const f = files();
    const j = await fresh(f);
    await j.append('write', 1, 1, block(1));
    j.rotate();
    j.covered(1);
    await j.ready();
    const { ops } = await WriteJournal.load(over(f), 0, FILE_BYTES);
    expect(ops).toEqual([]);
    expect(j.fits(FILE_BYTES - JOURNAL_HEADER_BYTES)).toBe(true);
  });
  it('writes the records of a coalesced batch in one write, each as append() would', async () => {
    const [a, b] = [files(), files()];
    const one = await fresh(a);
    let writes = 0;
    const counted = over(b);
    const pwrite = counted[0].pwrite;
    counted[0].pwrite = (...args) => {
      writes += 1;
      return pwrite(...args);
    };
    const { journal: many } = await WriteJournal.load(counted, 0, FILE_BYTES);
    await many.finishReplay();
    const data = Buffer.concat([block(1), block(2), block(3), block(4)]);
    const lbas = [40, 41, 42, 43];
    await one.append('unmap', 9, 2);
    await many.append('unmap', 9, 2);
    for (const i of [2, 0, 3]) await one.append('write', lbas[i], 1, data.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES));
    const writesBefore = writes;
    await many.appendBlocks(lbas, [2, 0, 3], data, (i) => (i === 0 ? xxh128(block(1)) : undefined));
    expect(writes - writesBefore, 'one write for three records').toBe(1);
    const bytes = JOURNAL_HEADER_BYTES + 3 * (JOURNAL_HEADER_BYTES + BLOCK_BYTES);
    expect((await bytesAt(b[0], 0, bytes)).equals(await bytesAt(a[0], 0, bytes)), 'the same bytes as three append() calls').toBe(true);
    const { ops } = await WriteJournal.load(over(b), 1, FILE_BYTES);
    expect(ops.map((o) => [o.seq, o.lba])).toEqual([[2, 42], [3, 40], [4, 43]]);
  });
});
