// The dispatch logic (sector -> LBA, op flags, commit values) against a
// recording target and a recording commit sink; the real queue is covered by
// the guest test.
import { describe, expect, it } from 'vitest';
import { QueueDispatcher } from '../../../src/device/queue-dispatch.js';
import type { BlockTarget } from '../../../src/device/target.js';
import { UBLK_IO_F, UBLK_IO_OP, type QueueBatch } from '../../../src/native/index.js';
import { UcError } from '../../../src/util/errors.js';

class RecordingTarget implements BlockTarget {
  calls: string[] = [];
  failNext: unknown;
  async read(lba: number, blocks: number, buf: Buffer): Promise<void> {
    this.#maybeFail();
    this.calls.push(`read ${lba} ${blocks} ${buf.length}`);
    buf.fill(0xab);
  }
  async write(lba: number, blocks: number, buf: Buffer, fua: boolean): Promise<void> {
    this.#maybeFail();
    this.calls.push(`write ${lba} ${blocks} ${buf.length} fua=${fua}`);
  }
  async flush(): Promise<void> {
    this.calls.push('flush');
  }
  async discard(lba: number, blocks: number): Promise<void> {
    this.calls.push(`discard ${lba} ${blocks}`);
  }
  async writeZeroes(lba: number, blocks: number, noUnmap: boolean): Promise<void> {
    this.calls.push(`zeroes ${lba} ${blocks} noUnmap=${noUnmap}`);
  }
  async close(): Promise<void> {}
  #maybeFail(): void {
    if (this.failNext !== undefined) {
      const err = this.failNext;
      this.failNext = undefined;
      throw err;
    }
  }
}

function makeBatch(entries: Array<[tag: number, op: number, flags: number, start: number, nr: number]>): QueueBatch {
  const n = entries.length;
  const b: QueueBatch = {
    count: n,
    tags: new Uint16Array(n),
    ops: new Uint8Array(n),
    opFlags: new Uint32Array(n),
    startSectors: new Float64Array(n),
    nrSectors: new Uint32Array(n),
  };
  entries.forEach(([tag, op, flags, start, nr], i) => {
    b.tags[i] = tag;
    b.ops[i] = op;
    b.opFlags[i] = op | flags;
    b.startSectors[i] = start;
    b.nrSectors[i] = nr;
  });
  return b;
}

function setup(sizeBlocks = 1024) {
  const target = new RecordingTarget();
  const commits: Array<[number, number]> = [];
  const errors: unknown[] = [];
  const buffers = Array.from({ length: 8 }, () => Buffer.alloc(64 * 1024));
  const d = new QueueDispatcher(target, sizeBlocks, (err) => errors.push(err));
  d.attach({ buffers, commit: (tag: number, result: number) => void commits.push([tag, result]) });
  return { target, commits, errors, buffers, d };
}

describe('QueueDispatcher', () => {
  it('converts sectors to LBAs and commits bytes or 0', async () => {
    const { target, commits, buffers, d } = setup();
    d.onBatch(
      makeBatch([
        [0, UBLK_IO_OP.READ, 0, 16, 16],
        [1, UBLK_IO_OP.WRITE, UBLK_IO_F.FUA, 8, 8],
        [2, UBLK_IO_OP.WRITE, 0, 0, 8],
        [3, UBLK_IO_OP.FLUSH, 0, 2 ** 64, 0], // start_sector UINT64_MAX: no range check
        [4, UBLK_IO_OP.DISCARD, 0, 80, 800],
        [5, UBLK_IO_OP.WRITE_ZEROES, UBLK_IO_F.NOUNMAP, 8, 8],
        [6, UBLK_IO_OP.WRITE_ZEROES, 0, 16, 8],
      ]),
    );
    expect(d.inflight).toBe(7);
    await d.idle();
    expect(target.calls).toEqual([
      'read 2 2 8192',
      'write 1 1 4096 fua=true',
      'write 0 1 4096 fua=false',
      'flush',
      'discard 10 100',
      'zeroes 1 1 noUnmap=true',
      'zeroes 2 1 noUnmap=false',
    ]);
    expect(commits.sort((a, b) => a[0] - b[0])).toEqual([[0, 8192], [1, 4096], [2, 4096], [3, 0], [4, 0], [5, 0], [6, 0]]);
    expect(buffers[0][0]).toBe(0xab);
    expect(buffers[0][8192]).toBe(0); // only the request's bytes were handed to the target
    expect(d.stats).toMatchObject({ reads: 1, writes: 2, flushes: 1, discards: 1, writeZeroes: 2, errors: 0 });
  });

  it('commits -errno for target failures, misaligned or out-of-range requests and unknown ops', async () => {
    const { target, commits, errors, d } = setup(16);
    target.failNext = new UcError('UC_NO_SPACE', 'full');
    d.onBatch(makeBatch([[0, UBLK_IO_OP.WRITE, 0, 0, 8]]));
    await d.idle();
    target.failNext = Object.assign(new Error('eio'), { errno: 5 });
    d.onBatch(
      makeBatch([
        [1, UBLK_IO_OP.READ, 0, 0, 8],
        [2, UBLK_IO_OP.READ, 0, 4, 8], // not 4 KiB aligned
        [3, UBLK_IO_OP.READ, 0, 15 * 8, 16], // past the end
        [4, 10, 0, 0, 8], // ZONE_OPEN: not supported
      ]),
    );
    await d.idle();
    expect(commits.sort((a, b) => a[0] - b[0])).toEqual([[0, -28], [1, -5], [2, -22], [3, -22], [4, -95]]);
    expect(errors).toHaveLength(2);
  });

  it('hands each request a view of its own length over the tag buffer and commits each request once', async () => {
    const { target, commits, buffers, d } = setup();
    const views: Buffer[] = [];
    const read = target.read.bind(target);
    target.read = (lba, blocks, buf) => {
      views.push(buf);
      return read(lba, blocks, buf);
    };
    // Sectors per request on tag 5; 4: misaligned, refused with -EINVAL, and
    // the next request must not commit that refusal again.
    for (const [i, nr] of [8, 8, 16, 8, 4, 8].entries()) {
      d.onBatch(makeBatch([[5, UBLK_IO_OP.READ, 0, i * 16, nr]]));
      await d.idle();
    }
    expect(commits).toEqual([[5, 4096], [5, 4096], [5, 8192], [5, 4096], [5, -22], [5, 4096]]);
    expect(views.map((v) => v.length)).toEqual([4096, 4096, 8192, 4096, 4096]);
    for (const v of views) expect([v.buffer, v.byteOffset]).toEqual([buffers[5].buffer, buffers[5].byteOffset]);
    expect(target.calls).toHaveLength(5);
  });
});
