// PackedTables: the packed engine's clean-record tables, its segments in RAM
// and its native read count, as the addon's packed read path sees them
// (native/packed-tables.h). One per device, shared by its queues
// (UblkQueue.setPackedRead); the engine attaches to it (engine.shareNativeReads).

import { native, type NativePackedTablesHandle } from './addon.js';
import type { IoRing } from './io-ring.js';

/** Where the native path would read `lba` from (lookup, for tests and checks). */
export interface NativeLocation {
  extentId: number;
  segment: number;
  offset: number;
  storedBytes: number;
  codecId: number;
}

/** Structurally the engine's NativeReadTables (src/engine/native-reads.ts). */
export class PackedTables {
  /** For UblkQueue.setPackedRead only. */
  readonly handle: NativePackedTablesHandle = new (native().PackedTables)();

  attach(kind: 0 | 1, keys: Uint32Array, values: Uint32Array, state: Uint8Array): void {
    this.handle.attach(kind, keys, values, state);
  }

  attachMapped(bits: Uint8Array, blocks: number, complete: boolean): void {
    this.handle.attachMapped(bits, blocks, complete);
  }

  /** True when a native read of `lba` would return zeros (certainly unmapped). */
  unmapped(lba: number): boolean {
    return this.handle.unmapped(lba);
  }

  /** The segment's buffer while it is in RAM (native reads copy from it); undefined once it left. */
  setResident(segment: number, buf: Buffer | undefined): void {
    this.handle.setResident(segment, buf);
  }

  /** false: every READ goes to the JS path (lookups miss). */
  setEnabled(enabled: boolean): void {
    this.handle.setEnabled(enabled);
  }

  started(): number {
    return this.handle.started();
  }

  busyUpTo(barrier: number): boolean {
    return this.handle.busyUpTo(barrier);
  }

  /** Native reads in flight now. */
  inflight(): number {
    return this.handle.inflight();
  }

  /** The location a native read of `lba` would use, or undefined for a miss. */
  lookup(lba: number): NativeLocation | undefined {
    const r = this.handle.lookup(lba);
    if (r === null) return undefined;
    return { extentId: r[0], segment: r[1], offset: r[2], storedBytes: r[3], codecId: r[4] };
  }

  /**
   * Runs the native read path itself without ublk (host tests): a READ of
   * `blocks` at `lba` decoded into `out` (resolves to its byte count), or
   * 'js' where a device would hand the request to the JS path. `inlineReads`
   * as UblkQueue.setPackedRead's.
   */
  probeRead(
    ring: IoRing, geometry: { poolFd: number; dataOffset: number; segmentBytes: number }, lba: number, blocks: number, out: Buffer,
    inlineReads = false,
  ): Promise<number | 'js'> {
    const g = geometry;
    return native().packedReadProbe(this.handle, ring.handle, g.poolFd, g.dataOffset, g.segmentBytes, lba, blocks, out, inlineReads);
  }

  /** Frees the read path probeRead keeps for these tables (one per ring and pool,
   * reused by every probe, its tags' state included, as a device's is); false
   * while a probe is still in flight. */
  closeProbes(): boolean {
    return native().packedReadProbeClose(this.handle);
  }
}
