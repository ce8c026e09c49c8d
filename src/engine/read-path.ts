// The read path: resolve every block synchronously (map, extent), serve
// zeros, fills, fragments still in RAM and fragments in the read cache
// (read-cache.ts) at once, and fetch the rest with one pread per run of
// adjacent fragments, all awaited together; a small read copies what it
// fetched into the cache. Runs without the
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
  /** `slot`: the read cache slot this read fills with the fragment (-1: none). */
  parts: Array<{ outOffset: number; fragOffset: number; extent: Extent; slot: number }>;
}

const RUN_BYTES_MAX = 1024 * 1024;
/** Larger reads take cached fragments but do not add theirs: a big sequential
 * read is seldom read again soon (the page cache above the device keeps it),
 * and it would evict what small reads use. */
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

/** What a read fetches from the pool, and the cache slots it pinned (one entry per take). */
interface Plan {
  runs: Run[];
  pinned: number[];
}

export async function readBlocks(core: EngineCore, lba: number, blocks: number, out: Buffer): Promise<void> {
  // The metadata store is closed for a moment while it reopens after a failed batch.
  if (core.metaReopening !== undefined) await core.metaReopening;
  const token = core.guard.enter();
  const plan: Plan = { runs: [], pinned: [] };
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
      else fromCache(core.readCache, plan, decoder, e, outOffset, blocks <= CACHE_FILL_BLOCKS_MAX);
    }
    decodeAll(core, decoder, out, lba);
    if (plan.runs.length > 0) await fetchAndDecode(core, plan.runs, decoder, out, lba);
  } catch (err) {
    // A fragment whose bytes did not verify (or did not arrive) is fetched again next time.
    for (const slot of plan.pinned) core.readCache.abandon(slot);
    throw err;
  } finally {
    for (const slot of plan.pinned) core.readCache.unpin(slot);
    core.guard.leave(token);
    core.count('blocksRead', blocks);
  }
}

/** Queues e's fragment for decoding from the read cache on a hit; otherwise
 * adds it to a run, with a cache slot to fill when the cache takes it. */
function fromCache(
  cache: ReadCache, plan: Plan, decoder: BatchDecoder<Extent>, e: Extent, outOffset: number, mayFill: boolean,
): void {
  const c = cache.enabled ? cache.take(e.segment, e.offset, mayFill) : undefined;
  if (c !== undefined) plan.pinned.push(c.slot);
  if (c?.ready === true) decoder.add(cache.arena, c.arenaOffset, e, outOffset);
  else addToRun(plan.runs, e, outOffset, c?.slot ?? -1);
}

/** Adds e's fragment to the last run when it directly follows it, else starts a run. */
function addToRun(runs: Run[], e: Extent, outOffset: number, slot: number): void {
  const size = fragmentBytes(e.storedBytes);
  const part = { outOffset, fragOffset: e.offset, extent: e, slot };
  const last = runs.at(-1);
  if (last !== undefined && last.segment === e.segment && last.end === e.offset && last.end - last.start + size <= RUN_BYTES_MAX) {
    last.end += size;
    last.parts.push(part);
  } else {
    runs.push({ segment: e.segment, start: e.offset, end: e.offset + size, parts: [part] });
  }
}

/** Reads the runs into one slab, all awaited together, copies the fragments
 * the cache takes into it, then decodes and verifies them. */
async function fetchAndDecode(core: EngineCore, runs: Run[], decoder: BatchDecoder<Extent>, out: Buffer, lba: number): Promise<void> {
  let totalBytes = 0;
  const runAt = runs.map((r) => {
    const at = totalBytes;
    totalBytes += r.end - r.start;
    return at;
  });
  const slab = takeSlab(totalBytes);
  try {
    // allSettled: the slab goes back to the pool only once no pread writes into it.
    const done = await Promise.allSettled(
      runs.map((r, k) => core.pool.pread(slab, runAt[k], r.end - r.start, core.segmentPosition(r.segment) + r.start)),
    );
    for (const d of done) if (d.status === 'rejected') throw d.reason;
    runs.forEach((r, k) => {
      for (const p of r.parts) {
        const at = runAt[k] + p.fragOffset - r.start;
        if (p.slot >= 0) core.readCache.fill(p.slot, slab.subarray(at, at + fragmentBytes(p.extent.storedBytes)));
        decoder.add(slab, at, p.extent, p.outOffset);
      }
    });
    decodeAll(core, decoder, out, lba);
  } finally {
    giveSlab(slab);
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
