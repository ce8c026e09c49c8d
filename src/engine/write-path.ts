// The write path for a batch of blocks, in three phases so that a multi-block
// write costs one await for I/O, not one per block:
//  1. (sync)  same-fill check and fingerprint of every block; dedup candidates
//             whose stored bytes are only in the pool are listed for verification;
//  2. (async) all those candidates are read at once;
//  3. (sync)  blocks are applied in order: fill marker, shared extent (after a
//             byte compare in verify mode), or a new fragment in the open segment.
// The caller holds the engine mutex and has reserved space for `blocks` fragments.
import { BatchEncoder, matchStored, scanBlocks, scannedFingerprint } from '../compress/index.js';
import { xxh128 } from '../dedup/index.js';
import { fillValue, type Extent, type MapValue } from '../meta/records.js';
import { FRAGMENT_HEADER_BYTES, readFragmentHeader } from '../pool/fragment.js';
import { BLOCK_BYTES } from '../util/units.js';
import type { EngineCore } from './core.js';

interface Prefetched {
  segment: number;
  offset: number;
  bytes: Buffer;
}

export async function writeBlocks(core: EngineCore, lba: number, blocks: number, buf: Buffer): Promise<void> {
  const fps: Array<Buffer | undefined> = new Array(blocks);
  // Dedup index answers from phase 1 (store lookups); phase 3 consults the overlay
  // first, since earlier blocks of this batch may have changed the entry.
  const indexed = new Float64Array(blocks).fill(-1);
  const fpKeys: string[] = new Array(blocks);
  const prefetch = new Map<number, Prefetched>();
  const reads: Array<Promise<void>> = [];
  // Same-fill + XXH128 of the batch in one native call; the blocks that will
  // be stored (not filled, not indexed, first of their content here) are
  // compressed in a second one. Mispredictions are compressed alone in phase 3.
  const scan = scanBlocks(buf, blocks);
  const fills = scan.fills;
  const encoder = new BatchEncoder(core.codec.id, buf, blocks);
  const firstOf = new Set<string>();
  const custom = core.opts.fingerprint !== xxh128;
  for (let i = 0; i < blocks; i++) {
    const off = i * BLOCK_BYTES;
    if (fills[i] === 1) continue;
    const fp = custom ? core.opts.fingerprint(buf.subarray(off, off + BLOCK_BYTES)) : scannedFingerprint(scan, i);
    fps[i] = fp;
    if (core.opts.dedup === 'off') {
      encoder.want(i);
      continue;
    }
    fpKeys[i] = fp.toString('latin1');
    const id = core.getDedup(fp, fpKeys[i]);
    if (id === undefined) {
      if (!firstOf.has(fpKeys[i])) encoder.want(i);
      firstOf.add(fpKeys[i]);
      continue;
    }
    indexed[i] = id;
    if (core.opts.dedup !== 'verify' || prefetch.has(id)) continue;
    const e = core.getExtent(id);
    if (e === undefined || core.unwritten(e.segment) !== undefined) continue;
    const p: Prefetched = { segment: e.segment, offset: e.offset, bytes: Buffer.allocUnsafe(FRAGMENT_HEADER_BYTES + e.storedBytes) };
    prefetch.set(id, p);
    reads.push(core.pool.pread(p.bytes, 0, p.bytes.length, core.segmentPosition(e.segment) + e.offset));
  }
  encoder.compressWanted();
  if (reads.length > 0) {
    const g = core.guard.enter();
    try {
      await Promise.all(reads);
    } finally {
      core.guard.leave(g);
    }
  }
  for (let i = 0; i < blocks; i++) {
    const off = i * BLOCK_BYTES;
    const block = buf.subarray(off, off + BLOCK_BYTES);
    // Before any reference is added: a lookup that finds damage must change nothing.
    const old = core.getMap(lba + i);
    let value: MapValue | null;
    if (fills[i] === 1) {
      core.count('sameFillBlocks');
      value = block.readBigUInt64BE(0) === 0n ? null : fillValue(block, 0);
    } else {
      const fp = fps[i]!;
      const pending = core.opts.dedup === 'off' ? undefined : core.pendingDedup(fp, fpKeys[i]);
      const id = pending === undefined ? (indexed[i] >= 0 ? indexed[i] : undefined) : (pending ?? undefined);
      const dup = id === undefined || core.opts.dedup === 'off' ? undefined : findDuplicate(core, id, block, prefetch);
      if (dup !== undefined) {
        core.count('dedupHits');
        value = core.addReference(dup);
      } else {
        const stored = encoder.encode(i);
        core.count(stored.codecId === 0 ? 'rawBlocks' : 'compressedBlocks');
        const index = core.opts.dedup !== 'off' && id === undefined;
        const e = core.addExtent(stored.codecId, stored.payload, fp, index ? fpKeys[i] : undefined);
        value = { kind: 'extent', id: e.id };
      }
    }
    core.setMap(lba + i, value, old);
  }
  core.count('blocksWritten', blocks);
}

/** The extent a block may share, or undefined (no candidate, or bytes differ). */
function findDuplicate(
  core: EngineCore,
  id: number,
  block: Buffer,
  prefetch: Map<number, Prefetched>,
): Extent | undefined {
  const e = core.getExtent(id);
  if (e === undefined) return undefined;
  if (core.opts.dedup === 'on') return e;
  let fragment: Buffer | undefined;
  const mem = core.unwritten(e.segment);
  if (mem !== undefined) {
    fragment = mem.subarray(e.offset, e.offset + FRAGMENT_HEADER_BYTES + e.storedBytes);
  } else {
    const p = prefetch.get(id);
    if (p !== undefined && p.segment === e.segment && p.offset === e.offset) fragment = p.bytes;
  }
  if (fragment === undefined) return undefined;
  const h = readFragmentHeader(fragment, 0);
  if (h === undefined || h.extentId !== id || h.storedBytes !== e.storedBytes) return undefined;
  const match = matchStored(e.codecId, fragment.subarray(FRAGMENT_HEADER_BYTES), block, 0);
  if (match === 'undecodable') return undefined;
  if (match === 'differs') {
    core.count('fingerprintCollisions');
    return undefined;
  }
  return e;
}
