// The write path for a batch of blocks, in three phases so that a multi-block
// write costs one await for I/O, not one per block:
//  1. (sync)  same-fill check and fingerprint of every block; dedup candidates
//             whose stored bytes are only in the pool are listed for verification;
//  2. (async) all those candidates are read at once;
//  3. (sync)  blocks are applied in order: fill marker, shared extent (after a
//             byte compare in verify mode), or a new fragment in the open segment.
// Phases 1-2 (prepareWrite) need no engine mutex, so a writer waiting for its
// verify reads does not hold the others up; phase 3 (applyWrite) runs under it,
// after the caller reserved space for `blocks` fragments.
import { BatchEncoder, CODEC_RAW, matchStored, scanBlocks, scannedFingerprint, type BatchScan } from '../compress/index.js';
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

/** What phase 1 learnt about a batch. */
interface Classified {
  fills: Uint8Array;
  /** The scan's XXH128 of each block (whatever fingerprint function dedup uses). */
  scan: BatchScan;
  fps: Array<Buffer | undefined>;
  /** Dedup index answers from phase 1 (store lookups), -1 for none; phase 3 consults
   * the overlay first, since earlier blocks of this batch may have changed the entry. */
  indexed: Float64Array;
  /** Verify reads of dedup candidates (NO_PREFETCH / NO_READS until the first one). */
  prefetch: Map<number, Prefetched>;
  reads: Array<Promise<void>>;
  /** Blocks whose dedup candidate is being read from the pool (undefined: none). */
  waits: Uint8Array | undefined;
  encoder: BatchEncoder;
  /** core.metaEpoch at classification: when a batch has been applied to the store
   * since, an overlay entry `indexed` relied on may have left the overlay. */
  metaEpoch: number;
}

// Shared while a batch has no verify read: most batches have none.
const NO_PREFETCH: Map<number, Prefetched> = new Map();
const NO_READS: Array<Promise<void>> = [];

/** A batch after phases 1-2, ready for applyWrite. */
export type PreparedWrite = Classified;

/** All three phases; the caller holds the engine mutex (the shared staging buffer is used). */
export async function writeBlocks(core: EngineCore, lba: number, blocks: number, buf: Buffer): Promise<void> {
  applyWrite(core, lba, blocks, buf, await prepareWrite(core, buf, blocks, core.encodeStaging(blocks)));
}

/**
 * Phases 1-2, with or without the engine mutex: classification reads lookups
 * only, and the verify reads run under the read guard. Nothing learnt here is
 * taken on trust by applyWrite, which may run after other writes, a commit or
 * a compaction step: it consults the overlay again, a candidate's bytes count
 * only while its extent still lies where they were read and a byte compare
 * agrees, and a block not compressed here is compressed then. `staging` holds
 * the compressed payloads until applyWrite returns.
 */
export async function prepareWrite(core: EngineCore, buf: Buffer, blocks: number, staging: Buffer): Promise<PreparedWrite> {
  const c = classifyWrite(core, buf, blocks, staging);
  await verifyReads(core, c);
  return c;
}

/** Phase 2: the dedup candidates' reads, under the read guard. */
export async function verifyReads(core: EngineCore, c: PreparedWrite): Promise<void> {
  if (c.reads.length === 0) return;
  const g = core.guard.enter();
  try {
    await Promise.all(c.reads);
  } finally {
    core.guard.leave(g);
  }
}

/** XXH128 of block i of a prepared write, when the scan computed it (not for a
 * same-filled block): a one-block write journal record's payload checksum. */
export function scannedHash(c: PreparedWrite, i: number): Buffer | undefined {
  return c.fills[i] === 0 ? scannedFingerprint(c.scan, i) : undefined;
}

/** Phase 3; the caller holds the engine mutex and has reserved the space. Block i
 * goes to `lba + i`, or to `lba[i]` (coalesced one-block writes, in arrival order). */
export function applyWrite(core: EngineCore, lba: number, blocks: number, buf: Buffer, c: PreparedWrite): void {
  const lbas = new Array<number>(blocks);
  const indices = new Array<number>(blocks);
  for (let i = 0; i < blocks; i++) {
    lbas[i] = lba + i;
    indices[i] = i;
  }
  applyBlocks(core, lbas, indices, buf, c);
}

/** Phase 3 for blocks `indices` of a batch (coalesced one-block writes, or one larger write),
 * block i to `lbas[i]`, in that order: runs of new unique blocks in the addon where it can
 * (native-apply.ts), the rest here. */
export function applyBlocks(core: EngineCore, lbas: readonly number[], indices: readonly number[], buf: Buffer, c: PreparedWrite): void {
  for (let k = 0; k < indices.length;) {
    const i = indices[k];
    // What the addon cannot apply is not sent there: a same-fill block, a dedup
    // candidate, lookups answered before a commit applied.
    const native = c.fills[i] === 0 && c.indexed[i] < 0 && c.metaEpoch === core.metaEpoch;
    const done = native ? (core.nativeApply?.apply(lbas, indices, k, buf, c) ?? 0) : 0;
    if (done > 0) {
      k += done;
      continue;
    }
    applyAt(core, c, i, lbas[i], buf);
    k += 1;
  }
  core.count('blocksWritten', indices.length);
}

function applyAt(core: EngineCore, c: PreparedWrite, i: number, lba: number, buf: Buffer): void {
  const block = buf.subarray(i * BLOCK_BYTES, (i + 1) * BLOCK_BYTES);
  // Before any reference is added: a lookup that finds damage must change nothing.
  const old = core.getMap(lba);
  core.setMap(lba, applyBlock(core, c, i, block), old);
}

/**
 * Phase 1. Same-fill + XXH128 of the batch in one native call; in a batch of
 * several blocks, the ones that will be stored (not filled, not indexed, first
 * of their content here) are compressed in a second one, whose payloads phase 3
 * copies into the open segment. A lone block and mispredictions are compressed
 * in phase 3, straight into the segment.
 */
export function classifyWrite(core: EngineCore, buf: Buffer, blocks: number, staging: Buffer): Classified {
  const scan = scanBlocks(buf, blocks);
  const c: Classified = {
    fills: scan.fills, scan, fps: new Array<Buffer | undefined>(blocks),
    indexed: new Float64Array(blocks).fill(-1), prefetch: NO_PREFETCH, reads: NO_READS, waits: undefined,
    encoder: new BatchEncoder(core.codec.id, buf, blocks, staging), metaEpoch: core.metaEpoch,
  };
  // A block written alone is compressed in phase 3, straight into the open segment.
  const batched = blocks > 1;
  const firstOf = batched ? new Set<string>() : undefined;
  const custom = core.opts.fingerprint !== xxh128;
  for (let i = 0; i < blocks; i++) {
    const off = i * BLOCK_BYTES;
    if (c.fills[i] === 1) continue;
    const fp = custom ? core.opts.fingerprint(buf.subarray(off, off + BLOCK_BYTES)) : scannedFingerprint(scan, i);
    c.fps[i] = fp;
    if (core.opts.dedup === 'off') {
      if (batched) c.encoder.want(i);
      continue;
    }
    const id = core.getDedup(fp);
    if (id === undefined) {
      if (firstOf === undefined) continue;
      const key = fp.toString('latin1');
      if (!firstOf.has(key)) {
        c.encoder.want(i);
        firstOf.add(key);
      }
      continue;
    }
    c.indexed[i] = id;
    if (core.opts.dedup !== 'verify') continue;
    if (!c.prefetch.has(id)) prefetchCandidate(core, c, id);
    if (c.prefetch.has(id)) (c.waits ??= new Uint8Array(blocks))[i] = 1;
  }
  c.encoder.compressWanted();
  return c;
}

/** Starts reading a dedup candidate that is only in the pool, for the verify compare. */
function prefetchCandidate(core: EngineCore, c: Classified, id: number): void {
  const e = core.getExtent(id);
  if (e === undefined || core.unwritten(e.segment) !== undefined) return;
  const p: Prefetched = { segment: e.segment, offset: e.offset, bytes: Buffer.allocUnsafe(FRAGMENT_HEADER_BYTES + e.storedBytes) };
  if (c.prefetch === NO_PREFETCH) {
    c.prefetch = new Map();
    c.reads = [];
  }
  c.prefetch.set(id, p);
  c.reads.push(core.pool.pread(p.bytes, 0, p.bytes.length, core.segmentPosition(e.segment) + e.offset));
}

/** Phase 3 for block i: its new map value (fill marker, a shared extent, or a new one). */
function applyBlock(core: EngineCore, c: Classified, i: number, block: Buffer): MapValue | null {
  if (c.fills[i] === 1) {
    core.count('sameFillBlocks');
    return block.readBigUInt64BE(0) === 0n ? null : fillValue(block, 0);
  }
  const fp = c.fps[i]!;
  const pending = core.opts.dedup === 'off' ? undefined : core.pendingDedup(fp);
  const id = pending === undefined ? indexedNow(core, c, i, fp) : (pending ?? undefined);
  const dup = id === undefined || core.opts.dedup === 'off' ? undefined : findDuplicate(core, id, block, c.prefetch);
  if (dup !== undefined) {
    core.count('dedupHits');
    return core.addReference(dup);
  }
  const index = core.opts.dedup !== 'off' && id === undefined;
  const e = core.addExtent(c.encoder, i, fp, index);
  core.count(e.codecId === CODEC_RAW ? 'rawBlocks' : 'compressedBlocks');
  return { kind: 'extent', id: e.id };
}

/** Block i's dedup index entry outside the overlay: phase 1's answer unless a batch
 * was applied since (a write or discard it held may have moved into the store). */
function indexedNow(core: EngineCore, c: Classified, i: number, fp: Buffer): number | undefined {
  if (core.opts.dedup === 'off') return undefined;
  if (c.metaEpoch !== core.metaEpoch) return core.getDedup(fp);
  return c.indexed[i] >= 0 ? c.indexed[i] : undefined;
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
