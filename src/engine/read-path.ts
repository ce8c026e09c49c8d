// The read path: resolve every block synchronously (map, extent), serve
// zeros, fills, fragments still in RAM and fragments in the read cache
// (read-cache.ts) at once, and fetch the rest, all awaited together: a chunk
// per cache miss (into the cache), or, when the cache cannot take it, one
// pread per run of adjacent fragments. Runs without the
// engine mutex; the read guard keeps resolved locations valid until the reads end.
// Every decoded block is verified against its extent's stored fingerprint before
// it reaches the caller (docs/format.md, "Read verification"): a bad header, a
// payload that does not decode, or a fingerprint mismatch fails the request with
// UC_POOL_CORRUPT (EIO), counts readVerifyFailures and emits one engine event.
import assert from 'node:assert';
import { BatchDecoder, type DecodeFailure } from '../compress/index.js';
import { expandFill, xxh128 } from '../dedup/index.js';
import { fragmentBytes, readFragmentHeader } from '../pool/fragment.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES } from '../util/units.js';
import type { Extent } from '../meta/records.js';
import type { EngineCore } from './core.js';
import type { ReadCache } from './read-cache.js';

/** A run of adjacent fragments in one segment, read with one pread. */
interface Run {
  segment: number;
  start: number;
  end: number;
  parts: Array<{ outOffset: number; fragOffset: number; extent: Extent }>;
}

const RUN_BYTES_MAX = 1024 * 1024;
/** Larger reads take cached chunks but fetch the rest uncached: a big sequential
 * read is seldom read again soon (the page cache above the device keeps it),
 * and chunk by chunk it would cost a pread per 16 KiB and evict what small reads use. */
const CACHE_FILL_BLOCKS_MAX = 16;
/** Slabs kept for reuse. One slab serves every run of a read call (each run
 * gets a slice): a Buffer per run cost a 1 MiB allocation per run, and a
 * deduplicated read has hundreds of short runs (75% of read time in a profile). */
const SLABS_POOLED = 8;
const slabs: Buffer[] = [];

function takeSlab(bytes: number): Buffer {
  assert(Number.isSafeInteger(bytes) && bytes > 0);
  const k = slabs.findIndex((b) => b.length >= bytes);
  if (k >= 0) return slabs.splice(k, 1)[0];
  return Buffer.allocUnsafe(Math.max(bytes, RUN_BYTES_MAX));
}

function giveSlab(b: Buffer): void {
  if (slabs.length < SLABS_POOLED) slabs.push(b);
}

/** What a read fetches from the pool: uncached runs, and chunks it fills into the cache. */
interface Plan {
  runs: Run[];
  fills: Array<{ slot: number; segment: number; segmentOffset: number; bytes: number; arenaOffset: number }>;
  /** Fragments in chunks this read fills: decoded once the fills completed. */
  filled: Array<{ arenaOffset: number; extent: Extent; outOffset: number }>;
  /** Cache slots this read pinned (one entry per take). */
  pinned: number[];
  claimed: Set<number>;
}

export async function readBlocks(core: EngineCore, lba: number, blocks: number, out: Buffer): Promise<void> {
  // The metadata store is closed for a moment while it reopens after a failed batch.
  if (core.metaReopening !== undefined) await core.metaReopening;
  const token = core.guard.enter();
  const plan: Plan = { runs: [], fills: [], filled: [], pinned: [], claimed: new Set() };
  try {
    // Fragments in RAM are decoded in one call before anything awaits: a
    // segment buffer may be recycled once its write completes.
    const decoder = new BatchDecoder<Extent>(blocks, core.opts.fingerprint === xxh128);
    for (let i = 0; i < blocks; i++) {
      const outOffset = i * BLOCK_BYTES;
      let v = core.getMap(lba + i);
      if (v === undefined && !core.mapScanComplete) {
        decodeAll(core, decoder, out, lba);
        v = await core.confirmUnmapped(lba + i);
      }
      if (v === undefined) {
        out.fill(0, outOffset, outOffset + BLOCK_BYTES);
        continue;
      }
      if (v.kind === 'fill') {
        expandFill(v.pattern, out, outOffset);
        continue;
      }
      const e = core.getExtent(v.id);
      if (e === undefined) throw new UcError('UC_POOL_CORRUPT', `lba ${lba + i} maps to missing extent ${v.id}`);
      const mem = core.unwritten(e.segment);
      if (mem !== undefined) decoder.add(mem, e.offset, e, outOffset);
      else if (!fromCache(core.readCache, plan, decoder, e, outOffset, blocks <= CACHE_FILL_BLOCKS_MAX)) addToRun(plan.runs, e, outOffset);
    }
    decodeAll(core, decoder, out, lba);
    if (plan.runs.length > 0 || plan.fills.length > 0) await fetchAndDecode(core, plan, decoder, out, lba);
  } catch (err) {
    // A chunk whose bytes did not verify (or did not arrive) is fetched again next time.
    for (const slot of plan.pinned) core.readCache.abandon(slot);
    throw err;
  } finally {
    for (const slot of plan.pinned) core.readCache.unpin(slot);
    core.guard.leave(token);
    core.count('blocksRead', blocks);
  }
}

/** Serves e's fragment from the read cache (queued for decoding now, or once this
 * read's fill of its chunk completed); false when the read must fetch it uncached. */
function fromCache(
  cache: ReadCache, plan: Plan, decoder: BatchDecoder<Extent>, e: Extent, outOffset: number, mayFill: boolean,
): boolean {
  if (!cache.enabled) return false;
  const c = cache.take(e.segment, e.offset, plan.claimed, mayFill);
  if (c === undefined) return false;
  plan.pinned.push(c.slot);
  if (c.ready) {
    decoder.add(cache.arena, c.arenaOffset, e, outOffset);
    return true;
  }
  if (c.fill !== undefined) {
    plan.claimed.add(c.slot);
    plan.fills.push({ slot: c.slot, segment: e.segment, ...c.fill });
  }
  plan.filled.push({ arenaOffset: c.arenaOffset, extent: e, outOffset });
  return true;
}

/** Adds e's fragment to the last run when it directly follows it, else starts a run. */
function addToRun(runs: Run[], e: Extent, outOffset: number): void {
  const size = fragmentBytes(e.storedBytes);
  const part = { outOffset, fragOffset: e.offset, extent: e };
  const last = runs.at(-1);
  if (last !== undefined && last.segment === e.segment && last.end === e.offset && last.end - last.start + size <= RUN_BYTES_MAX) {
    last.end += size;
    last.parts.push(part);
  } else {
    runs.push({ segment: e.segment, start: e.offset, end: e.offset + size, parts: [part] });
  }
}

/** Reads the plan's runs (into one slab) and cache fills (into the arena), all
 * awaited together, then decodes and verifies what they hold. */
async function fetchAndDecode(core: EngineCore, plan: Plan, decoder: BatchDecoder<Extent>, out: Buffer, lba: number): Promise<void> {
  const { runs, fills } = plan;
  let totalBytes = 0;
  const runAt = runs.map((r) => {
    const at = totalBytes;
    totalBytes += r.end - r.start;
    return at;
  });
  const slab = totalBytes > 0 ? takeSlab(totalBytes) : undefined;
  try {
    const arena = fills.length > 0 ? core.readCache.arena : undefined;
    // allSettled: the slab goes back to the pool only once no pread writes into it.
    const done = await Promise.allSettled([
      ...runs.map((r, k) => core.pool.pread(slab!, runAt[k], r.end - r.start, core.segmentPosition(r.segment) + r.start)),
      ...fills.map((f) => core.pool.pread(arena!, f.arenaOffset, f.bytes, core.segmentPosition(f.segment) + f.segmentOffset)),
    ]);
    fills.forEach((f, k) => {
      if (done[runs.length + k].status === 'fulfilled') core.readCache.filled(f.slot);
    });
    for (const d of done) if (d.status === 'rejected') throw d.reason;
    runs.forEach((r, k) => {
      for (const p of r.parts) decoder.add(slab!, runAt[k] + p.fragOffset - r.start, p.extent, p.outOffset);
    });
    for (const f of plan.filled) decoder.add(arena!, f.arenaOffset, f.extent, f.outOffset);
    decodeAll(core, decoder, out, lba);
  } finally {
    if (slab !== undefined) giveSlab(slab);
  }
}

/** Decodes the queued fragments into out and proves each is its extent's
 * block; on the first that is not, counts it, reports it and throws
 * UC_POOL_CORRUPT (every failed block is zeroed in out). Empties the decoder. */
function decodeAll(core: EngineCore, decoder: BatchDecoder<Extent>, out: Buffer, lba: number): void {
  const failures = decoder.run(out);
  const verifyHere = core.opts.fingerprint !== xxh128; // an injected function: checked in JS
  try {
    if (failures === 0 && !verifyHere) return;
    for (let k = 0; k < decoder.size; k++) {
      const q = decoder.entry(k);
      let reason = failureReason(decoder.failure(k), q.source, q.fragOffset);
      const block = out.subarray(q.outOffset, q.outOffset + BLOCK_BYTES);
      if (reason === undefined && verifyHere && !core.opts.fingerprint(block).equals(q.extent.fingerprint)) {
        reason = failureReason('fingerprint', q.source, q.fragOffset);
      }
      if (reason === undefined) continue;
      block.fill(0);
      const e = q.extent;
      const at = lba + q.outOffset / BLOCK_BYTES;
      core.count('readVerifyFailures');
      core.emit({ kind: 'read-verify-failed', lba: at, extentId: e.id, segment: e.segment, offset: e.offset, reason });
      throw new UcError('UC_POOL_CORRUPT', `lba ${at}: extent ${e.id} (segment ${e.segment} offset ${e.offset}) ${reason}`);
    }
  } finally {
    decoder.reset();
  }
}

/** The words a failed fragment gets in the event and the error. */
function failureReason(failure: DecodeFailure | undefined, source: Buffer, fragOffset: number): string | undefined {
  switch (failure) {
    case undefined:
      return undefined;
    case 'bad-header':
      return 'has no valid fragment header';
    case 'wrong-extent':
      return `holds extent ${readFragmentHeader(source, fragOffset)?.extentId ?? '?'}'s fragment`;
    case 'header-mismatch':
      return 'has a header that disagrees with its record';
    case 'unknown-codec':
      return `does not decode (unknown codec id ${readFragmentHeader(source, fragOffset)?.codecId ?? '?'})`;
    case 'undecodable':
      return 'does not decode (payload truncated or damaged)';
    case 'fingerprint':
      return 'does not match its fingerprint';
  }
}
