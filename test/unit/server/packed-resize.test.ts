// Online grow of a packed pool (server/targets/packed-resize.ts) on a real
// engine over a simulated disk: the refusals leave the pool as it was, and a
// grow commits the bigger pool (a reopen sees it) before the device is told,
// then rewrites the daemon's run record. The device side is the three members
// the grow uses; the kernel side (UPDATE_SIZE) is tested in the guest
// (kernel-matrix-guest, packed-device-guest stage resize).
import { describe, expect, it } from 'vitest';
import { formatEngine, openEngine, type BlockEngine } from '../../../src/engine/index.js';
import { silentLogger } from '../../../src/server/logger.js';
import { readRunRecord, writeRunRecord } from '../../../src/server/run-file.js';
import { growPackedOnline, type GrowableDevice, type GrowParts } from '../../../src/server/targets/packed-resize.js';
import { MemMetaStore } from '../../../src/testing/mem-store.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { rejection, tempRunDir } from './support.js';

const MiB = 1 << 20;
const OPTS = { flushDelayMs: 0, backgroundCompaction: false };

tempRunDir('uc-resize-');

interface Rig {
  parts: GrowParts;
  /** Per device.grow() call: the size asked for, and the pool a crash at that moment leaves. */
  grown: Array<{ sizeBytes: number; disk: SimDisk; meta: MemMetaStore }>;
}

async function rig(canGrowLive: boolean): Promise<Rig> {
  const disk = new SimDisk(4096 + 8 * 65536);
  const meta = new MemMetaStore();
  const engine: BlockEngine = await formatEngine(disk, meta, { logicalBytes: 2 * MiB, segmentBytes: 65536, ...OPTS });
  const grown: Rig['grown'] = [];
  const device: GrowableDevice = {
    devId: 3,
    path: '/dev/ublkb3',
    canGrowLive,
    // Every unsynced write and metadata batch is lost in this crash.
    grow: async (sizeBytes: number) => {
      grown.push({ sizeBytes, disk: disk.crash(() => 'drop', () => false), meta: meta.crash(0) });
    },
  };
  return { parts: { engine, device, poolPath: '/p.img', log: silentLogger() }, grown };
}

describe('online grow of a packed pool', () => {
  it('without UPDATE_SIZE: refused with the offline path, the pool unchanged', async () => {
    const r = await rig(false);
    const err = await rejection(growPackedOnline(r.parts, 4 * MiB));
    expect(err.code).toBe('UC_KERNEL_UNSUPPORTED');
    expect(err.message).toContain('UBLK_F_UPDATE_SIZE, Linux 6.16 or later');
    expect(err.message).toContain(`ublk-compress del -n 3, then ublk-compress add --backing /p.img --size ${4 * MiB}`);
    expect(r.parts.engine.logicalBytes).toBe(2 * MiB);
    expect(r.grown).toEqual([]);
    await r.parts.engine.close();
  });

  it('refuses a smaller size and a size that is not whole 4 KiB blocks; the same size is a no-op', async () => {
    const r = await rig(true);
    const shrink = await rejection(growPackedOnline(r.parts, MiB));
    expect(shrink.code).toBe('UC_INVALID_ARGUMENT');
    expect(shrink.message).toMatch(/is smaller than \/dev\/ublkb3 \(2\.00 MiB\); a pool never shrinks/);
    expect((await rejection(growPackedOnline(r.parts, 4 * MiB + 512))).code).toBe('UC_INVALID_ARGUMENT');
    expect(await growPackedOnline(r.parts, 2 * MiB)).toEqual({ fromBytes: 2 * MiB, toBytes: 2 * MiB });
    expect(r.grown).toEqual([]);
    await r.parts.engine.close();
  });

  it('grows the pool durably first, then the device, then the run record', async () => {
    const r = await rig(true);
    writeRunRecord({
      devId: 3, pid: process.pid, backing: '/p.img', sizeBytes: 2 * MiB, layout: 'packed', queues: 1, depth: 16,
      logPath: '/l', startedAt: 'now', version: '0',
    });
    expect(await growPackedOnline(r.parts, 4 * MiB)).toEqual({ fromBytes: 2 * MiB, toBytes: 4 * MiB });
    expect(r.grown.map((g) => g.sizeBytes)).toEqual([4 * MiB]);
    expect(readRunRecord(3)?.sizeBytes).toBe(4 * MiB);
    expect(r.parts.engine.stats().logicalBytes).toBe(4 * MiB); // what stats and /metrics render (logical_bytes)
    // Durable before the device was told: a crash at that moment reopens at the new size.
    const reopened = await openEngine(r.grown[0].disk, r.grown[0].meta, OPTS);
    expect(reopened.logicalBytes).toBe(4 * MiB);
    await reopened.close();
    await r.parts.engine.close();
  });
});
