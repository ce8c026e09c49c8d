// Online grow of a 1:1 device (server/targets/direct-resize.ts) over a real
// backing file and the real JS target: the refusals change nothing, a grow
// extends the file (with --preallocate, writes zeros over the added range
// only, never over a hole the device may be writing) before the target, the
// direct mapping or the kernel see the new size, then rewrites the run record.
// The device side is the members the grow uses; the kernel side (UPDATE_SIZE)
// and the direct-mapped path over a real disk are tested in the guest
// (kernel-matrix-guest: test/e2e/direct-grow-guest.sh).
import { statSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { DirectTarget } from '../../../src/direct/direct-target.js';
import { unwrittenRanges } from '../../../src/direct/preallocate.js';
import { openBackingFile, type BackingFile } from '../../../src/io/index.js';
import { fiemap } from '../../../src/native/index.js';
import { silentLogger } from '../../../src/server/logger.js';
import { readRunRecord, writeRunRecord } from '../../../src/server/run-file.js';
import { EIO, ENOSPC } from '../../../src/util/errno.js';
import { growDirectOnline, type DirectGrowParts, type GrowableFile } from '../../../src/server/targets/direct-resize.js';
import { rejection, tempRunDir } from './support.js';

const MiB = 1 << 20;

/** Holds the backing file too. */
const runDir = tempRunDir('uc-dgrow-');

interface Rig {
  parts: DirectGrowParts;
  file: BackingFile;
  target: DirectTarget;
  /** What happened, in order, with the backing file's size at that moment. */
  steps: string[];
}

/** A 2 MiB device over a 2 MiB file whose first MiB is data and second a hole. */
async function rig(opts: { canGrowLive?: boolean; preallocate?: boolean; file?: GrowableFile } = {}): Promise<Rig> {
  const path = join(runDir(), 'b.img');
  writeFileSync(path, Buffer.alloc(MiB, 7));
  const file = await openBackingFile(path, { transport: 'node' });
  await file.grow(2 * MiB);
  const target = new DirectTarget(file, 2 * MiB);
  const steps: string[] = [];
  const fileBytes = (): number => statSync(path).size;
  const device = {
    devId: 4,
    path: '/dev/ublkb4',
    canGrowLive: opts.canGrowLive ?? true,
    sizeBytes: 2 * MiB,
    grow: async (sizeBytes: number) => {
      steps.push(`kernel ${sizeBytes} (file ${fileBytes()})`);
      device.sizeBytes = sizeBytes;
    },
  };
  const parts: DirectGrowParts = {
    device,
    file: opts.file ?? file,
    preallocate: opts.preallocate ?? false,
    remapRange: (off, len) => steps.push(`map ${off}+${len} (file ${fileBytes()})`),
    accept: (sizeBytes) => {
      steps.push(`accept ${sizeBytes} (file ${fileBytes()})`);
      target.growTo(sizeBytes);
    },
    log: silentLogger(),
  };
  return { parts, file, target, steps };
}

/** The file's members the grow uses, as a plain object (to replace one). */
function pick(f: BackingFile): GrowableFile {
  return { path: f.path, fd: f.fd, isBlockDevice: f.isBlockDevice, sizeBytes: f.sizeBytes, grow: (n) => f.grow(n), fdatasync: () => f.fdatasync() };
}

async function close(r: Rig): Promise<void> {
  await r.target.close();
}

describe('online grow of a 1:1 device', () => {
  it('refuses a smaller size and a size that is not whole 4 KiB blocks; the same size is a no-op', async () => {
    const r = await rig();
    const shrink = await rejection(growDirectOnline(r.parts, MiB));
    expect(shrink.code).toBe('UC_INVALID_ARGUMENT');
    expect(shrink.message).toMatch(/is smaller than \/dev\/ublkb4 \(2\.00 MiB\); a device never shrinks/);
    expect((await rejection(growDirectOnline(r.parts, 4 * MiB + 512))).code).toBe('UC_INVALID_ARGUMENT');
    expect(await growDirectOnline(r.parts, 2 * MiB)).toEqual({ fromBytes: 2 * MiB, toBytes: 2 * MiB });
    expect(r.steps).toEqual([]);
    expect(r.file.sizeBytes).toBe(2 * MiB);
    await close(r);
  });

  it('without UPDATE_SIZE: refused with the offline path, the file unchanged', async () => {
    const r = await rig({ canGrowLive: false });
    const err = await rejection(growDirectOnline(r.parts, 4 * MiB));
    expect(err.code).toBe('UC_KERNEL_UNSUPPORTED');
    expect(err.message).toContain('UBLK_F_UPDATE_SIZE, Linux 6.16 or later');
    expect(err.message).toContain(`ublk-compress del -n 4, then ublk-compress add --layout direct --backing ${r.file.path} --size ${4 * MiB}`);
    expect(statSync(r.file.path).size).toBe(2 * MiB);
    expect(r.steps).toEqual([]);
    await close(r);
  });

  it('a block device backing: refused beyond the device, grown up to it', async () => {
    const disk: GrowableFile = {
      path: '/dev/vdz', fd: -1, isBlockDevice: true, sizeBytes: 8 * MiB,
      grow: () => Promise.reject(new Error('a block device never grows')),
      fdatasync: () => Promise.reject(new Error('nothing to sync')),
    };
    const r = await rig({ file: disk });
    const err = await rejection(growDirectOnline(r.parts, 16 * MiB));
    expect(err.code).toBe('UC_INVALID_ARGUMENT');
    expect(err.message).toBe('--size 16.00 MiB is larger than the block device /dev/vdz (8.00 MiB)');
    expect(r.steps).toEqual([]);
    expect(await growDirectOnline(r.parts, 8 * MiB)).toEqual({ fromBytes: 2 * MiB, toBytes: 8 * MiB });
    expect(r.steps.map((s) => s.split(' ').slice(0, 2).join(' '))).toEqual([`map ${2 * MiB}+${6 * MiB}`, `accept ${8 * MiB}`, `kernel ${8 * MiB}`]);
    await close(r);
  });

  it('a backing that cannot be made durable: the grow fails before the kernel hears of it', async () => {
    const r = await rig();
    const failing = (code: string, errno: number): DirectGrowParts => {
      const err = Object.assign(new Error(`${code}: fdatasync`), { code, errno: -errno });
      return { ...r.parts, file: { ...pick(r.file), fdatasync: () => Promise.reject(err) } };
    };
    const eio = await rejection(growDirectOnline(failing('EIO', EIO), 4 * MiB));
    expect([eio.code, eio.errno]).toEqual(['UC_IO', EIO]);
    expect(eio.message).toMatch(/^cannot grow .*b\.img to 4\.00 MiB: Error: EIO/);
    const full = await rejection(growDirectOnline(failing('ENOSPC', ENOSPC), 4 * MiB));
    expect([full.code, full.errno]).toEqual(['UC_NO_SPACE', ENOSPC]);
    expect(full.message).toMatch(/to 4\.00 MiB: its filesystem is full$/);
    expect(r.steps).toEqual([]);
    expect((await rejection(r.target.read(512, 1, Buffer.alloc(4096)))).message).toMatch(/past the end/);
    await close(r);
  });

  it('grows the file first, then the map, the target and the kernel; then the run record', async () => {
    const r = await rig();
    writeRunRecord({
      devId: 4, pid: process.pid, backing: r.file.path, sizeBytes: 2 * MiB, layout: 'direct', queues: 1, depth: 16,
      logPath: '/l', startedAt: 'now', version: '0',
    });
    const past = Buffer.alloc(4096);
    expect((await rejection(r.target.read(1024, 1, past))).message).toMatch(/past the end/);
    expect(await growDirectOnline(r.parts, 6 * MiB)).toEqual({ fromBytes: 2 * MiB, toBytes: 6 * MiB });
    expect(r.steps).toEqual([
      `map ${2 * MiB}+${4 * MiB} (file ${6 * MiB})`,
      `accept ${6 * MiB} (file ${6 * MiB})`,
      `kernel ${6 * MiB} (file ${6 * MiB})`,
    ]);
    expect(readRunRecord(4)?.sizeBytes).toBe(6 * MiB);
    await r.target.read(1024, 1, past); // the target serves the added range
    expect(past.equals(Buffer.alloc(4096))).toBe(true);
    // Sparse, as `add` creates it: the added range is a hole.
    expect(unwrittenRanges(fiemap(r.file.fd, { sync: true }), 6 * MiB, 2 * MiB)).toEqual([{ offsetBytes: 2 * MiB, lengthBytes: 4 * MiB }]);
    await close(r);
  });

  it('--preallocate writes zeros over the added range only, never over a hole below the old size', async () => {
    const r = await rig({ preallocate: true });
    await growDirectOnline(r.parts, 6 * MiB);
    const holes = unwrittenRanges(fiemap(r.file.fd, { sync: true }), 6 * MiB);
    expect(holes).toEqual([{ offsetBytes: MiB, lengthBytes: MiB }]); // the device's own hole stays
    const added = Buffer.alloc(4 * MiB, 1);
    await r.file.pread(added, 0, added.length, 2 * MiB);
    expect(added.equals(Buffer.alloc(4 * MiB))).toBe(true);
    await close(r);
  });
});
