// One conformance suite for every codec, plus the raw fallback rule.
import { describe, expect, it } from 'vitest';
import { CODEC_LZ4, CODEC_RAW, CodecSet, encodeBlock, Lz4Codec, RawCodec, type Codec } from '../../../src/compress/index.js';
import { COMPRESSED_BYTES_MAX } from '../../../src/util/limits.js';

function textBlock(): Buffer {
  return Buffer.from('the quick brown fox jumps over the lazy dog. '.repeat(100).slice(0, 4096));
}

function randomBlock(seed: number): Buffer {
  const b = Buffer.alloc(4096);
  let x = seed;
  for (let i = 0; i < 4096; i++) {
    x = (x * 1103515245 + 12345) >>> 0;
    b[i] = x >>> 24;
  }
  return b;
}

const codecs: Codec[] = [new Lz4Codec(), new RawCodec()];
for (const codec of codecs) {
  describe(`codec ${codec.name}`, () => {
    it('round-trips what it compresses, at an offset', () => {
      for (const block of [textBlock(), randomBlock(1), Buffer.alloc(4096, 7)]) {
        // A codec that declines a block leaves it to raw storage (encodeBlock).
        const payload = codec.compress(block) ?? (codec.id === CODEC_RAW ? block : undefined);
        if (payload === undefined) continue;
        const out = Buffer.alloc(3 * 4096, 0xee);
        codec.decompress(Buffer.from(payload), out, 4096);
        expect(out.subarray(4096, 8192).equals(block)).toBe(true);
        expect(out[4095]).toBe(0xee);
        expect(out[8192]).toBe(0xee);
      }
    });
    it('rejects a payload of the wrong size', () => {
      expect(() => codec.decompress(Buffer.alloc(0), Buffer.alloc(4096), 0)).toThrow();
    });
  });
}

describe('encodeBlock', () => {
  it('stores compressible blocks with lz4 and incompressible ones raw', () => {
    const lz4 = new Lz4Codec();
    const t = encodeBlock(lz4, textBlock());
    expect(t.codecId).toBe(CODEC_LZ4);
    expect(t.payload.length).toBeLessThanOrEqual(COMPRESSED_BYTES_MAX);
    const r = encodeBlock(lz4, randomBlock(9));
    expect(r.codecId).toBe(CODEC_RAW);
    expect(r.payload.length).toBe(4096);
  });
  it('falls back to raw when lz4 saves less than the threshold', () => {
    const b = randomBlock(3);
    textBlock().copy(b, 0, 0, 400); // ~10% compressible: lz4 output > 3584 bytes
    const out = encodeBlock(new Lz4Codec(), b);
    expect(out.codecId).toBe(CODEC_RAW);
  });
  it('CodecSet decodes by id and refuses unknown ids', () => {
    const set = new CodecSet();
    const payload = new Lz4Codec().compress(textBlock())!;
    const out = Buffer.alloc(4096);
    set.decode(CODEC_LZ4, Buffer.from(payload), out, 0);
    expect(out.equals(textBlock())).toBe(true);
    expect(() => set.decode(77, payload, out, 0)).toThrow(/codec id 77/);
  });
});
