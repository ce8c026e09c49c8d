// Simulated pool for crash tests (fault model, TigerBeetle/dm-dory style):
// writes are visible at once but kept apart until fdatasync makes them durable.
// crash() returns the disk a restarted process sees: each unsynced write is
// dropped, kept, or torn (each 512-byte sector of it kept or not), chosen by the
// caller's seeded random source. The crashed instance goes dead: later calls
// succeed without effect so an abandoned engine cannot alter the new image.
//
// Out-of-order mode (`reorder`, seeded): each pwrite completes after a random
// number of microtasks, so writes complete in a different order than issued (the
// PoolStore contract allows it). The write takes its bytes from the caller's
// buffer and becomes visible only when it completes, as a kernel write may read
// the buffer at any instant before completing; fdatasync covers only completed
// writes; a crash loses writes still in flight.
import assert from 'node:assert';
import { SECTOR_BYTES } from '../util/units.js';
import type { PoolStore } from '../pool/store.js';

interface PendingWrite {
  position: number;
  data: Buffer;
}

export type CrashFate = 'drop' | 'keep' | 'tear';

export interface SimDiskOptions {
  /** Out-of-order completion: a seeded random source in [0, 1). */
  reorder?: () => number;
  /** Most microtasks a write may wait before completing (default 16). */
  reorderTicksMax?: number;
}

export class SimDisk implements PoolStore {
  private current: Buffer;
  private durable: Buffer;
  private pending: PendingWrite[] = [];
  private dead = false;
  syncs = 0;
  /** Writes issued and not yet completed (out-of-order mode). */
  inflightWrites = 0;
  /** While set, pwrite rejects with it (tests inject ENOSPC and I/O errors). */
  failWrites: Error | undefined;
  /** While set, fdatasync rejects with it and syncs nothing. */
  failSyncs: Error | undefined;
  /** fdatasync calls that failSyncs made fail. */
  syncFailures = 0;

  constructor(sizeBytes: number, image?: Buffer, private readonly options: SimDiskOptions = {}) {
    this.durable = Buffer.alloc(sizeBytes);
    if (image) image.copy(this.durable, 0, 0, Math.min(sizeBytes, image.length));
    this.current = Buffer.from(this.durable);
  }

  get sizeBytes(): number {
    return this.current.length;
  }

  get pendingWrites(): number {
    return this.pending.length;
  }

  async pread(buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    await Promise.resolve();
    if (this.dead) {
      buf.fill(0, offset, offset + length);
      return;
    }
    const end = Math.min(position + length, this.current.length);
    const n = Math.max(0, end - position);
    this.current.copy(buf, offset, position, position + n);
    buf.fill(0, offset + n, offset + length);
  }

  async pwrite(buf: Buffer, offset: number, length: number, position: number): Promise<void> {
    await Promise.resolve();
    if (this.dead) return;
    assert(position + length <= this.current.length, 'write past the end of the simulated disk');
    if (this.failWrites !== undefined) throw this.failWrites;
    const r = this.options.reorder;
    if (r !== undefined) {
      const ticks = Math.floor(r() * ((this.options.reorderTicksMax ?? 16) + 1));
      this.inflightWrites += 1;
      for (let t = 0; t < ticks; t++) await Promise.resolve();
      this.inflightWrites -= 1;
      if (this.dead) return;
    }
    const data = Buffer.from(buf.subarray(offset, offset + length));
    data.copy(this.current, position);
    this.pending.push({ position, data });
  }

  async fdatasync(): Promise<void> {
    await Promise.resolve();
    if (this.dead) return;
    if (this.failSyncs !== undefined) {
      this.syncFailures += 1;
      throw this.failSyncs;
    }
    for (const w of this.pending) w.data.copy(this.durable, w.position);
    this.pending = [];
    this.syncs += 1;
  }

  async punchHole(position: number, length: number): Promise<void> {
    await this.pwrite(Buffer.alloc(length), 0, length, position);
  }

  async grow(sizeBytes: number): Promise<void> {
    if (this.dead || sizeBytes <= this.current.length) return;
    const grown = (b: Buffer): Buffer => {
      const n = Buffer.alloc(sizeBytes);
      b.copy(n);
      return n;
    };
    this.current = grown(this.current);
    this.durable = grown(this.durable);
  }

  async close(): Promise<void> {}

  /** The image after a crash now; `fate` decides each unsynced write's outcome and
   * `keepSector` each sector of a torn one. */
  crash(fate: () => CrashFate, keepSector: () => boolean): SimDisk {
    const image = Buffer.from(this.durable);
    for (const w of this.pending) {
      const f = fate();
      if (f === 'drop') continue;
      if (f === 'keep') {
        w.data.copy(image, w.position);
        continue;
      }
      let pos = w.position;
      const end = w.position + w.data.length;
      while (pos < end) {
        const sectorEnd = Math.min(end, (Math.floor(pos / SECTOR_BYTES) + 1) * SECTOR_BYTES);
        if (keepSector()) w.data.copy(image, pos, pos - w.position, sectorEnd - w.position);
        pos = sectorEnd;
      }
    }
    this.dead = true;
    return new SimDisk(image.length, image, this.options);
  }
}
