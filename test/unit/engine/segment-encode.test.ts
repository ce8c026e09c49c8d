// A block's payload encoded straight into the open segment (SegmentWriter.appendEncoded,
// BatchEncoder.encodeInto) must give the same segments, byte for byte, and the same
// placements as the copying path (encode() then append()): compressed, raw and
// near-limit blocks, blocks compressed in the batch call or alone, and the tail of a
// segment too short for the largest fragment (where the encoder writes to a scratch).
import { describe, expect, it } from 'vitest';
import { BatchEncoder, CODEC_LZ4, CODEC_RAW } from '../../../src/compress/index.js';
import { SegmentWriter } from '../../../src/engine/segment-writer.js';
import { SegmentTable } from '../../../src/pool/segments.js';
import { SimDisk } from '../../../src/testing/sim-disk.js';
import { BLOCK_BYTES } from '../../../src/util/units.js';
import { makeBlock, randInt, rng } from '../../engine/helpers.js';

const SEGMENT_BYTES = 32 * 1024;
const SEGMENTS = 64;

function writer(): { w: SegmentWriter; segs: SegmentTable } {
  const segs = new SegmentTable(SEGMENTS, SEGMENT_BYTES);
  segs.finishLoad();
  return { w: new SegmentWriter(new SimDisk(SEGMENTS * SEGMENT_BYTES), segs, 0), segs };
}

describe('segment writer: payloads encoded in place', () => {
  for (const codecId of [CODEC_LZ4, CODEC_RAW]) {
    it(`places and writes what the copying path does (codec ${codecId})`, () => {
      const r = rng(7 + codecId);
      // Mixed: well compressible, barely compressible (near the 3584-byte limit), random.
      const blocks = Array.from({ length: 240 }, (_, i) => makeBlock(r, [90, 40, 12, 0][randInt(r, 4)], i + 1));
      const buf = Buffer.concat(blocks);
      const copying = new BatchEncoder(codecId, buf, blocks.length);
      const inPlace = new BatchEncoder(codecId, buf, blocks.length, undefined);
      for (let i = 0; i < blocks.length; i++) {
        if (i % 3 !== 0) continue; // the others are compressed alone
        copying.want(i);
        inPlace.want(i);
      }
      copying.compressWanted();
      inPlace.compressWanted();
      const a = writer();
      const b = writer();
      const codecs = new Set<number>();
      for (let i = 0; i < blocks.length; i++) {
        const stored = copying.encode(i);
        const pa = a.w.append(stored.codecId, stored.payload, 1000 + i);
        const pb = b.w.appendEncoded(inPlace, i, 1000 + i);
        expect(pb, `block ${i}`).toEqual(pa);
        expect(pb.storedBytes).toBe(stored.payload.length);
        codecs.add(pb.codecId);
      }
      expect(codecs).toEqual(codecId === CODEC_LZ4 ? new Set([CODEC_LZ4, CODEC_RAW]) : new Set([CODEC_RAW]));
      // Several segments sealed, some of them with a tail shorter than a raw fragment.
      expect(a.w.openSegment).toBeGreaterThan(8);
      expect(b.w.openSegment).toBe(a.w.openSegment);
      for (let s = 0; s <= a.w.openSegment!; s++) {
        const sa = a.w.lookup(s);
        const sb = b.w.lookup(s);
        expect(sb, `segment ${s}`).toBeDefined();
        expect(b.segs.fillOf(s)).toBe(a.segs.fillOf(s));
        expect(sb!.subarray(0, b.segs.fillOf(s)).equals(sa!.subarray(0, a.segs.fillOf(s))), `segment ${s}`).toBe(true);
      }
    });
  }

  it('encodes a block compressed alone straight into the destination', () => {
    const r = rng(3);
    const block = makeBlock(r, 80, 1);
    const enc = new BatchEncoder(CODEC_LZ4, block, 1);
    enc.compressWanted();
    const dst = Buffer.alloc(2 * BLOCK_BYTES, 0xa5);
    const n = enc.encodeInto(0, dst, 100);
    expect(enc.storedCodec(n)).toBe(CODEC_LZ4);
    expect(dst.subarray(100, 100 + n).equals(enc.encode(0).payload)).toBe(true);
    expect(dst[99]).toBe(0xa5);
    expect(dst[100 + n]).toBe(0xa5);
    const random = makeBlock(r, 0, 2);
    const raw = new BatchEncoder(CODEC_LZ4, random, 1);
    raw.compressWanted();
    expect(raw.encodeInto(0, dst, 16)).toBe(BLOCK_BYTES);
    expect(raw.storedCodec(BLOCK_BYTES)).toBe(CODEC_RAW);
    expect(dst.subarray(16, 16 + BLOCK_BYTES).equals(random)).toBe(true);
  });
});
