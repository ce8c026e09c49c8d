// Compactor: cleans sealed segments whose live bytes fell under a threshold.
// One step = one segment: read it (one pread), walk its fragment headers, move
// each fragment its extent still points at into the open segment (the core's
// moveExtent rewrites that E record), then commit durably; the emptied segment
// is freed by that commit and punched/reused only after it is synced (rule 3).
// The background compactor's step (stepInPieces) moves the fragments in pieces,
// each in its own turn of the mutex, and does not wait for its commit. A crash
// before the commit leaves the E records pointing at the old, untouched copy.
// step() runs under the engine mutex; stepInPieces takes it per piece.
import { FRAGMENT_HEADER_BYTES, fragmentBytes, readFragmentHeader } from '../pool/fragment.js';
import type { EngineCore } from './core.js';

/** Fragments a background step moves per turn of the engine mutex (a piece's pause
 * is ~this many small JavaScript moves, not a whole segment's). */
const COMPACT_FRAGMENTS_PER_PIECE = 16;

export interface CompactOptions {
  /** Clean segments whose live bytes are under this fraction of a segment. */
  liveFraction: number;
  /** Segments to clean in this call (bounds the pause seen by foreground I/O). */
  maxSegments: number;
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
      if (victims.length > 0) await this.core.commit(true);
    } finally {
      this.running = false;
    }
    return cleaned;
  }

  /**
   * The background compactor's step: one segment, cleaned in pieces of
   * COMPACT_FRAGMENTS_PER_PIECE fragments, each piece its own turn of `run`
   * (the engine mutex), then its durable commit started in a last turn and not
   * waited for. Between pieces writes go on (the addon's included): a fragment
   * is moved only if its extent, looked up by the id in its header (ids are
   * never reused), still points at this copy. Returns the segments freed.
   */
  async stepInPieces(liveFraction: number, run: <T>(fn: () => Promise<T>) => Promise<T>, closed: () => boolean): Promise<number> {
    const seg = this.core.segments.candidates(liveFraction, 1)[0];
    if (seg === undefined) return 0;
    const read = await run(async () => (closed() || this.core.segments.freeCount < 2 ? undefined : await this.read(seg)));
    if (read === undefined) return 0;
    let off = 0;
    let freed = false;
    this.running = true;
    try {
      while (off >= 0 && !closed()) {
        const at = off;
        off = await run(async () => this.movePiece(seg, read, at, COMPACT_FRAGMENTS_PER_PIECE));
        freed = this.core.segments.liveOf(seg) === 0;
        if (freed) break;
        // A turn of the event loop between pieces: the queues' completions (and the
        // writes waiting for the gate) run while it is open, not only between microtasks.
        await new Promise((resolve) => setImmediate(resolve));
      }
    } finally {
      this.running = false;
    }
    if (freed) this.core.count('segmentsCleaned');
    if (!closed()) await this.core.commitAfterInFlight(true, (fn) => (closed() ? Promise.resolve(true) : run(fn)), false);
    return freed ? 1 : 0;
  }

  private async clean(seg: number): Promise<boolean> {
    const read = await this.read(seg);
    if (read === undefined) return false;
    let off = 0;
    while (off >= 0) off = this.movePiece(seg, read, off, Number.MAX_SAFE_INTEGER);
    const freed = this.core.segments.liveOf(seg) === 0;
    if (freed) this.core.count('segmentsCleaned');
    return freed;
  }

  /** The segment's fragments as written (undefined: it changed during the read). */
  private async read(seg: number): Promise<{ buf: Buffer; fill: number } | undefined> {
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
    if (segs.fillOf(seg) !== fill || segs.liveOf(seg) === 0) return undefined;
    return { buf, fill };
  }

  /** Moves up to `max` fragments from `off` on whose extents still point at them;
   * returns where the next piece starts, or -1 when the segment is done. */
  private movePiece(seg: number, read: { buf: Buffer; fill: number }, off: number, max: number): number {
    const core = this.core;
    const segs = core.segments;
    const { buf, fill } = read;
    for (let moved = 0; moved < max; moved++) {
      if (off >= fill || segs.liveOf(seg) === 0) return -1;
      const h = readFragmentHeader(buf, off);
      if (h === undefined) return -1; // not ours: leave the segment alone (check reports it)
      const e = core.getExtent(h.extentId);
      if (e !== undefined && e.segment === seg && e.offset === off && e.storedBytes === h.storedBytes) {
        const payload = buf.subarray(off + FRAGMENT_HEADER_BYTES, off + FRAGMENT_HEADER_BYTES + h.storedBytes);
        core.moveExtent(e, payload);
      }
      off += fragmentBytes(h.storedBytes);
    }
    return off;
  }
}
