// Compactor: cleans sealed segments whose live bytes fell under a threshold.
// One step = one segment: read it (one pread), walk its fragment headers, copy
// each fragment its extent still points at into the open segment, rewrite that
// E record, then commit durably; the emptied segment is freed by that commit and
// punched/reused only after it (rule 3). A crash before the commit leaves the E
// records pointing at the old, untouched copy. The caller holds the engine mutex.
import { FRAGMENT_HEADER_BYTES, fragmentBytes, readFragmentHeader } from '../pool/fragment.js';
import type { EngineCore } from './core.js';

export interface CompactOptions {
  /** Clean segments whose live bytes are under this fraction of a segment. */
  liveFraction: number;
  /** Segments to clean in this call (bounds the pause seen by foreground I/O). */
  maxSegments: number;
}

/** Cleans up to maxSegments segments; returns how many were freed. */
export async function compactStep(core: EngineCore, o: CompactOptions): Promise<number> {
  const victims = core.segs.candidates(o.liveFraction, o.maxSegments);
  let cleaned = 0;
  core.compacting = true;
  try {
    for (const seg of victims) {
      // Copying < 1 segment of live data needs the open segment's rest plus one more.
      if (core.segs.freeCount < 2) break;
      if (await cleanSegment(core, seg)) cleaned += 1;
    }
    if (victims.length > 0) await core.commit(true);
  } finally {
    core.compacting = false;
  }
  return cleaned;
}

async function cleanSegment(core: EngineCore, seg: number): Promise<boolean> {
  const fill = core.segs.fillBytes[seg];
  let buf = core.writer.lookup(seg);
  if (buf === undefined) {
    buf = Buffer.allocUnsafe(fill);
    await core.pool.pread(buf, 0, fill, core.segmentPosition(seg));
  }
  // The segment may have changed during the read (we hold the mutex, so only a
  // concurrent read ran): re-check it is still a candidate.
  if (core.segs.fillBytes[seg] !== fill || core.segs.liveBytes[seg] === 0) return false;
  let off = 0;
  while (off < fill && core.segs.liveBytes[seg] > 0) {
    const h = readFragmentHeader(buf, off);
    if (h === undefined) break; // not ours: leave the segment alone (check reports it)
    const bytes = fragmentBytes(h.storedBytes);
    const e = core.view.getExtent(h.extentId);
    if (e !== undefined && e.segment === seg && e.offset === off) {
      const payload = buf.subarray(off + FRAGMENT_HEADER_BYTES, off + FRAGMENT_HEADER_BYTES + h.storedBytes);
      const at = core.writer.append(e.codecId, payload, e.id);
      core.segs.addLive(at.segment, at.bytes);
      e.segment = at.segment;
      e.offset = at.offset;
      core.view.putExtent(e);
      core.counters.bytesMoved += bytes;
      core.subLive(seg, bytes);
    }
    off += bytes;
  }
  const freed = core.segs.liveBytes[seg] === 0;
  if (freed) core.counters.segmentsCleaned += 1;
  return freed;
}
