// Compactor: cleans sealed segments whose live bytes fell under a threshold.
// One step = one segment: read it (one pread), walk its fragment headers, move
// each fragment its extent still points at into the open segment (the core's
// moveExtent rewrites that E record), then commit durably (a background step
// does not wait for it under the mutex); the emptied segment is freed by that
// commit and punched/reused only after it is synced (rule 3). A crash
// before the commit leaves the E records pointing at the old, untouched copy.
// Every call runs under the engine mutex.
import { FRAGMENT_HEADER_BYTES, fragmentBytes, readFragmentHeader } from '../pool/fragment.js';
import type { EngineCore } from './core.js';

export interface CompactOptions {
  /** Clean segments whose live bytes are under this fraction of a segment. */
  liveFraction: number;
  /** Segments to clean in this call (bounds the pause seen by foreground I/O). */
  maxSegments: number;
  /** The step's durable commit runs on after the step returns (a background step:
   * the mutex is not held through its pool write, fdatasync and LevelDB batch). */
  commitInBackground?: boolean;
}

export class Compactor {
  /** A step is running now (for stats). */
  running = false;

  constructor(private readonly core: EngineCore) {}

  /** Cleans up to maxSegments segments; returns how many were freed. */
  async step(o: CompactOptions): Promise<number> {
    const segs = this.core.segments;
    const victims = segs.candidates(o.liveFraction, o.maxSegments);
    let cleaned = 0;
    this.running = true;
    try {
      for (const seg of victims) {
        // Copying < 1 segment of live data needs the open segment's rest plus one more.
        if (segs.freeCount < 2) break;
        if (await this.clean(seg)) cleaned += 1;
      }
      if (victims.length > 0) await this.core.commit(true, false, o.commitInBackground !== true);
    } finally {
      this.running = false;
    }
    return cleaned;
  }

  private async clean(seg: number): Promise<boolean> {
    const core = this.core;
    const segs = core.segments;
    const fill = segs.fillOf(seg);
    let buf = core.unwritten(seg);
    if (buf === undefined) {
      buf = Buffer.allocUnsafe(fill);
      await core.pool.pread(buf, 0, fill, core.segmentPosition(seg));
    }
    // The segment may have changed during the read (we hold the mutex, so only a
    // concurrent read ran): re-check it is still a candidate.
    if (segs.fillOf(seg) !== fill || segs.liveOf(seg) === 0) return false;
    let off = 0;
    while (off < fill && segs.liveOf(seg) > 0) {
      const h = readFragmentHeader(buf, off);
      if (h === undefined) break; // not ours: leave the segment alone (check reports it)
      const e = core.getExtent(h.extentId);
      if (e !== undefined && e.segment === seg && e.offset === off && e.storedBytes === h.storedBytes) {
        const payload = buf.subarray(off + FRAGMENT_HEADER_BYTES, off + FRAGMENT_HEADER_BYTES + h.storedBytes);
        core.moveExtent(e, payload);
      }
      off += fragmentBytes(h.storedBytes);
    }
    const freed = segs.liveOf(seg) === 0;
    if (freed) core.count('segmentsCleaned');
    return freed;
  }
}
