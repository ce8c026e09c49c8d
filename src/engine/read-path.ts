// The read path: resolve every block synchronously (map, extent), serve
// zeros, fills and fragments still in RAM at once, and fetch the rest with one
// pread per run of adjacent fragments, all awaited together. Runs without the
// engine mutex; the read guard keeps resolved locations valid until the reads end.
// Every decoded block is verified against its extent's stored fingerprint before
// it reaches the caller (docs/format.md, "Read verification"): a bad header, a
// payload that does not decode, or a fingerprint mismatch fails the request with
// UC_POOL_CORRUPT (EIO), counts readVerifyFailures and emits one engine event.
import assert from 'node:assert';
import { expandFill } from '../dedup/index.js';
import { FRAGMENT_HEADER_BYTES, fragmentBytes, readFragmentHeader } from '../pool/fragment.js';
import { UcError } from '../util/errors.js';
import { BLOCK_BYTES } from '../util/units.js';
import type { Extent } from '../meta/records.js';
import type { EngineCore } from './core.js';

/** A run of adjacent fragments in one segment, read with one pread. */
interface Run {
  segment: number;
  start: number;
  end: number;
  parts: Array<{ outOffset: number; fragOffset: number; extent: Extent }>;
}

const RUN_BYTES_MAX = 1024 * 1024;
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

export async function readBlocks(core: EngineCore, lba: number, blocks: number, out: Buffer): Promise<void> {
  // The metadata store is closed for a moment while it reopens after a failed batch.
  if (core.metaReopening !== undefined) await core.metaReopening;
  const token = core.guard.enter();
  try {
    const runs: Run[] = [];
    let last: Run | undefined;
    for (let i = 0; i < blocks; i++) {
      const outOffset = i * BLOCK_BYTES;
      const v = core.getMap(lba + i) ?? (core.mapScanComplete ? undefined : await core.confirmUnmapped(lba + i));
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
      if (mem !== undefined) {
        verifiedDecode(core, mem, e.offset, e, out, outOffset, lba + i);
        continue;
      }
      const size = fragmentBytes(e.storedBytes);
      const part = { outOffset, fragOffset: e.offset, extent: e };
      if (last !== undefined && last.segment === e.segment && last.end === e.offset && last.end - last.start + size <= RUN_BYTES_MAX) {
        last.end += size;
        last.parts.push(part);
      } else {
        last = { segment: e.segment, start: e.offset, end: e.offset + size, parts: [part] };
        runs.push(last);
      }
    }
    if (runs.length === 0) return;
    let totalBytes = 0;
    const runAt = runs.map((r) => {
      const at = totalBytes;
      totalBytes += r.end - r.start;
      return at;
    });
    const slab = takeSlab(totalBytes);
    const bufs = runs.map((r, k) => slab.subarray(runAt[k], runAt[k] + (r.end - r.start)));
    try {
      // allSettled: the slab goes back to the pool only once no pread writes into it.
      const done = await Promise.allSettled(
        runs.map((r, k) => core.pool.pread(bufs[k], 0, r.end - r.start, core.segmentPosition(r.segment) + r.start)),
      );
      for (const d of done) if (d.status === 'rejected') throw d.reason;
      runs.forEach((r, k) => {
        for (const p of r.parts) {
          verifiedDecode(core, bufs[k], p.fragOffset - r.start, p.extent, out, p.outOffset, lba + p.outOffset / BLOCK_BYTES);
        }
      });
    } finally {
      giveSlab(slab);
    }
  } finally {
    core.guard.leave(token);
    core.count('blocksRead', blocks);
  }
}

/** Decodes one fragment into out and proves it is the extent's block; throws
 * UC_POOL_CORRUPT (after zeroing the block in out) when it is not. */
function verifiedDecode(core: EngineCore, buf: Buffer, at: number, e: Extent, out: Buffer, outOffset: number, lba: number): void {
  const reason = decodeChecked(core, buf, at, e, out, outOffset);
  if (reason === undefined) return;
  out.fill(0, outOffset, outOffset + BLOCK_BYTES);
  core.count('readVerifyFailures');
  core.emit({ kind: 'read-verify-failed', lba, extentId: e.id, segment: e.segment, offset: e.offset, reason });
  throw new UcError('UC_POOL_CORRUPT', `lba ${lba}: extent ${e.id} (segment ${e.segment} offset ${e.offset}) ${reason}`);
}

/** Why the fragment at buf[at] is not extent e's block, or undefined when it is. */
function decodeChecked(core: EngineCore, buf: Buffer, at: number, e: Extent, out: Buffer, outOffset: number): string | undefined {
  const h = readFragmentHeader(buf, at);
  if (h === undefined) return 'has no valid fragment header';
  if (h.extentId !== e.id) return `holds extent ${h.extentId}'s fragment`;
  if (h.storedBytes !== e.storedBytes || h.codecId !== e.codecId) return 'has a header that disagrees with its record';
  const payload = buf.subarray(at + FRAGMENT_HEADER_BYTES, at + FRAGMENT_HEADER_BYTES + h.storedBytes);
  try {
    core.codecs.decode(h.codecId, payload, out, outOffset);
  } catch (err) {
    return `does not decode (${err instanceof Error ? err.message : String(err)})`;
  }
  const block = out.subarray(outOffset, outOffset + BLOCK_BYTES);
  if (!core.opts.fingerprint(block).equals(e.fingerprint)) return 'does not match its fingerprint';
  return undefined;
}
