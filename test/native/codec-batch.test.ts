// The addon's batch codec (liblz4 + libxxhash) against the independent
// implementation (lz4-napi + xxhash-addon) that `check` uses: every codec
// branch both ways (compressed, raw over 3584 bytes, same-fill, edge sizes),
// fingerprints byte for byte, and damaged fragments that must give a status,
// never wrong bytes and never a write outside the caller's block.
import { randomBytes } from 'node:crypto';
import { describe, expect, it } from 'vitest';
import {
  BatchDecoder, BatchEncoder, CODEC_LZ4, CODEC_RAW, encodeBlock, hashInto, Lz4Codec, matchStored, scanBlocks,
  scannedFingerprint, stagingBytes, type StoredExtent,
} from '../../src/compress/index.js';
import { isSameFill, xxh128 } from '../../src/dedup/index.js';
import { nativeCodec } from '../../src/native/codec.js';
import { FRAGMENT_HEADER_BYTES, fragmentBytes, writeFragmentHeader } from '../../src/pool/fragment.js';
import { COMPRESSED_BYTES_MAX } from '../../src/util/limits.js';

const B = 4096;
const lz4napi = new Lz4Codec();

/** Seeded bytes (xorshift), so failures reproduce. */
function noise(seed: number, n: number): Buffer {
  const b = Buffer.alloc(n);
  let x = seed | 1;
  for (let i = 0; i < n; i++) {
    x ^= x << 13;
    x ^= x >>> 17;
    x ^= x << 5;
    b[i] = x & 0xff;
  }
  return b;
}

/** `noisy` random bytes, then a repeating text: sweeps the compressed size. */
function partly(noisy: number, seed: number): Buffer {
  const b = Buffer.from('ublk-compress stores 4 KiB blocks. '.repeat(120).slice(0, B));
  noise(seed, noisy).copy(b, 0);
  return b;
}

function pattern(bytes: number[]): Buffer {
  const p = Buffer.from(bytes);
  return Buffer.alloc(B, p);
}

/** Crafted blocks: every branch and the edges around them. */
function craftedBlocks(): Buffer[] {
  const blocks = [
    Buffer.alloc(B), pattern([1, 2, 3, 4, 5, 6, 7, 8]), pattern([0xff]), pattern([0, 0, 0, 0, 0, 0, 0, 1]),
    noise(1, B), noise(2, B), Buffer.from('abcdefgh'.repeat(512)),
  ];
  const almostFill = pattern([9, 9, 9, 9, 9, 9, 9, 9]);
  almostFill[B - 1] = 8; // differs only in its last byte: not same-filled
  blocks.push(almostFill);
  const period16 = pattern([1, 2, 3, 4, 5, 6, 7, 8, 1, 2, 3, 4, 5, 6, 7, 9]); // period 16, not 8
  blocks.push(period16);
  for (let noisy = 0; noisy <= B; noisy += 97) blocks.push(partly(noisy, noisy + 3));
  return blocks;
}

function concat(blocks: Buffer[]): Buffer {
  return Buffer.concat(blocks);
}

/** A fragment (header + payload, padded) as the engine stores it. */
function fragment(codecId: number, payload: Buffer, extentId: number): Buffer {
  const f = Buffer.alloc(fragmentBytes(payload.length));
  writeFragmentHeader(f, 0, codecId, payload.length, extentId);
  payload.copy(f, FRAGMENT_HEADER_BYTES);
  return f;
}

function extentOf(id: number, codecId: number, payload: Buffer, block: Buffer): StoredExtent {
  return { id, codecId, storedBytes: payload.length, fingerprint: xxh128(block) };
}

describe('native batch codec: scan', () => {
  it('links the reference libraries', () => {
    const info = nativeCodec().codecInfo();
    expect(info.lz4).toMatch(/^1\.\d+\.\d+$/);
    expect(info.xxhash).toMatch(/^0\.8\.\d+$/);
  });

  it('finds same-filled blocks exactly as isSameFill, and fingerprints as xxhash-addon', () => {
    const blocks = [...craftedBlocks(), ...Array.from({ length: 200 }, () => randomBytes(B))];
    const buf = concat(blocks);
    const scan = scanBlocks(buf, blocks.length);
    let fills = 0;
    blocks.forEach((block, i) => {
      const want = isSameFill(buf, i * B);
      expect(scan.fills[i] === 1, `block ${i}`).toBe(want);
      if (want) fills += 1;
      else expect(scannedFingerprint(scan, i).equals(xxh128(block)), `fingerprint of block ${i}`).toBe(true);
    });
    expect(fills).toBe(5); // zeros, three 8-byte patterns, 'abcdefgh'
  });

  it('hashes any range as xxhash-addon does (the write journal checksums)', () => {
    const src = noise(11, 3 * B + 77);
    for (const [from, length] of [[0, 0], [0, 48], [5, 16], [0, 240], [3, B], [0, 2 * B], [77, 3 * B]]) {
      const dst = Buffer.alloc(40, 0xa5);
      hashInto(src, from, length, dst, 12);
      expect(dst.subarray(12, 28).equals(xxh128(src.subarray(from, from + length))), `${from}+${length}`).toBe(true);
      expect(dst[11]).toBe(0xa5);
      expect(dst[28]).toBe(0xa5);
    }
    const h = Buffer.from(src.subarray(0, 64));
    hashInto(h, 0, 48, h, 48); // in place, as the journal header does
    expect(h.subarray(48).equals(xxh128(src.subarray(0, 48)))).toBe(true);
    expect(() => hashInto(src, 10, src.length, Buffer.alloc(16), 0)).toThrow(RangeError);
    expect(() => hashInto(src, 0, 16, Buffer.alloc(16), 1)).toThrow(RangeError);
  });

  it('refuses arrays shorter than the count', () => {
    const c = nativeCodec();
    expect(() => c.codecScan(Buffer.alloc(B), 2, new Uint8Array(2), Buffer.alloc(32))).toThrow(RangeError);
    expect(() => c.codecScan(Buffer.alloc(2 * B), 2, new Uint8Array(1), Buffer.alloc(32))).toThrow(RangeError);
    expect(() => c.codecScan(Buffer.alloc(2 * B), 2, new Uint8Array(2), Buffer.alloc(31))).toThrow(RangeError);
    expect(() => c.codecScan(Buffer.alloc(B), 1, new Uint16Array(1) as unknown as Uint8Array, Buffer.alloc(16))).toThrow(TypeError);
  });
});

describe('native batch codec: interop with lz4-napi', () => {
  const blocks = craftedBlocks();
  const buf = concat(blocks);

  it('writes what lz4-napi decodes, with the 3584-byte raw rule, on both sides of the limit', () => {
    const enc = new BatchEncoder(CODEC_LZ4, buf, blocks.length);
    for (let i = 0; i < blocks.length; i += 2) enc.want(i); // the odd ones are compressed alone
    enc.compressWanted();
    const seen = new Set<string>();
    blocks.forEach((block, i) => {
      const stored = enc.encode(i);
      if (stored.codecId === CODEC_RAW) {
        expect(stored.payload.equals(block)).toBe(true);
        // lz4-napi (lz4_flex) agrees that this block does not fit either, give or take its own encoder.
        const other = encodeBlock(lz4napi, block);
        if (other.codecId === CODEC_LZ4) expect(other.payload.length).toBeGreaterThan(COMPRESSED_BYTES_MAX - 64);
        seen.add('raw');
        return;
      }
      expect(stored.payload.length).toBeGreaterThan(0);
      expect(stored.payload.length).toBeLessThanOrEqual(COMPRESSED_BYTES_MAX);
      const out = Buffer.alloc(B);
      lz4napi.decompress(Buffer.from(stored.payload), out, 0);
      expect(out.equals(block), `block ${i}`).toBe(true);
      seen.add(stored.payload.length > 3000 ? 'near-limit' : 'compressed');
    });
    expect([...seen].sort()).toEqual(['compressed', 'near-limit', 'raw']);
  });

  it('compresses every block as its own chain: each decodes alone after a long history on the thread', () => {
    // The addon keeps one lz4 stream per thread and fast-resets it per block;
    // a block whose matches reached into an earlier one would not decode alone.
    for (let call = 0; call < 3; call++) {
      const blocks = Array.from({ length: 700 }, (_, i) => partly((i * 131 + call * 17) % B, i + call * 1000));
      const buf = concat(blocks);
      const enc = new BatchEncoder(CODEC_LZ4, buf, blocks.length);
      for (let i = 0; i < blocks.length; i++) enc.want(i);
      enc.compressWanted();
      blocks.forEach((block, i) => {
        const stored = enc.encode(i);
        const out = Buffer.alloc(B);
        if (stored.codecId === CODEC_RAW) out.set(stored.payload);
        else lz4napi.decompress(Buffer.from(stored.payload), out, 0);
        expect(out.equals(block), `call ${call} block ${i}`).toBe(true);
      });
    }
  });

  it('reads what lz4-napi wrote, raw and compressed, and verifies the fingerprint', () => {
    const frags: Buffer[] = [];
    const extents: StoredExtent[] = [];
    blocks.forEach((block, i) => {
      const stored = encodeBlock(lz4napi, block);
      frags.push(fragment(stored.codecId, stored.payload, 1000 + i));
      extents.push(extentOf(1000 + i, stored.codecId, stored.payload, block));
    });
    expect(new Set(extents.map((e) => e.codecId))).toEqual(new Set([CODEC_RAW, CODEC_LZ4]));
    const source = Buffer.concat(frags);
    const out = Buffer.alloc(blocks.length * B, 0xee);
    const dec = new BatchDecoder(blocks.length, true);
    let at = 0;
    frags.forEach((f, i) => {
      // Reverse order into out: entries are independent of each other.
      dec.add(source, at, extents[i], (blocks.length - 1 - i) * B);
      at += f.length;
    });
    expect(dec.run(out)).toBe(0);
    blocks.forEach((block, i) => {
      expect(dec.failure(i)).toBeUndefined();
      expect(out.subarray((blocks.length - 1 - i) * B, (blocks.length - i) * B).equals(block)).toBe(true);
    });
  });

  it('decodes from many source buffers in one call (a read over many segments still in RAM)', () => {
    const n = 300;
    const dec = new BatchDecoder(n, true);
    const out = Buffer.alloc(n * B);
    const want = Array.from({ length: n }, (_, i) => partly((i * 13) % B, i + 11));
    want.forEach((block, i) => {
      const stored = encodeBlock(lz4napi, block);
      dec.add(fragment(stored.codecId, stored.payload, i), 0, extentOf(i, stored.codecId, stored.payload, block), i * B);
    });
    expect(dec.run(out)).toBe(0);
    want.forEach((block, i) => expect(out.subarray(i * B, (i + 1) * B).equals(block)).toBe(true));
  });

  it('round-trips its own output and compares for dedup (same / differs / undecodable)', () => {
    const text = partly(512, 1);
    const enc = new BatchEncoder(CODEC_LZ4, text, 1);
    enc.want(0);
    enc.compressWanted();
    const stored = enc.encode(0);
    expect(stored.codecId).toBe(CODEC_LZ4);
    expect(matchStored(CODEC_LZ4, stored.payload, text, 0)).toBe('same');
    const other = Buffer.from(text);
    other[4000] ^= 1;
    expect(matchStored(CODEC_LZ4, stored.payload, other, 0)).toBe('differs');
    expect(matchStored(CODEC_LZ4, stored.payload.subarray(0, stored.payload.length - 3), text, 0)).toBe('undecodable');
    expect(matchStored(CODEC_RAW, text, Buffer.concat([other, text]), B)).toBe('same');
    expect(matchStored(CODEC_RAW, text.subarray(1), text, 0)).toBe('undecodable');
    expect(matchStored(7, stored.payload, text, 0)).toBe('undecodable');
    const napi = encodeBlock(lz4napi, text);
    expect(matchStored(napi.codecId, napi.payload, text, 0)).toBe('same');
  });

  it('gives the same stored forms from a reused staging buffer full of old bytes', () => {
    const fresh = new BatchEncoder(CODEC_LZ4, buf, blocks.length);
    const staging = Buffer.alloc(stagingBytes(blocks.length), 0xa5);
    const reused = new BatchEncoder(CODEC_LZ4, buf, blocks.length, staging);
    for (let i = 0; i < blocks.length; i += 3) {
      fresh.want(i);
      reused.want(i);
    }
    fresh.compressWanted();
    reused.compressWanted();
    blocks.forEach((_, i) => {
      const a = fresh.encode(i);
      const b = reused.encode(i);
      expect(b.codecId, `block ${i}`).toBe(a.codecId);
      expect(b.payload.equals(a.payload), `block ${i}`).toBe(true);
      if (b.codecId === CODEC_LZ4) expect(b.payload.buffer).toBe(staging.buffer); // no copy, no allocation
    });
    // Too small to hold the batch: the encoder takes a buffer of its own.
    const small = new BatchEncoder(CODEC_LZ4, buf, blocks.length, Buffer.alloc(COMPRESSED_BYTES_MAX));
    blocks.forEach((_, i) => small.want(i));
    small.compressWanted();
    blocks.forEach((_, i) => expect(small.encode(i).payload.equals(fresh.encode(i).payload)).toBe(true));
  });

  it('stores everything raw with the raw codec', () => {
    const enc = new BatchEncoder(CODEC_RAW, buf, blocks.length);
    enc.want(0);
    enc.compressWanted();
    expect(enc.encode(0)).toEqual({ codecId: CODEC_RAW, payload: blocks[0] });
    expect(enc.encode(5).payload.equals(blocks[5])).toBe(true);
  });
});

describe('native batch codec: damaged fragments', () => {
  const block = partly(1500, 7);
  const stored = encodeBlock(lz4napi, block);
  const good = fragment(stored.codecId, stored.payload, 42);
  const e = extentOf(42, stored.codecId, stored.payload, block);
  const GUARD = 64;

  /** Decodes one fragment between guard bytes; returns the failure (or undefined). */
  function decodeOne(frag: Buffer, ext: StoredExtent, verify = true): string | undefined {
    const out = Buffer.alloc(GUARD + B + GUARD, 0xa5);
    const dec = new BatchDecoder(1, verify);
    dec.add(frag, 0, ext, GUARD);
    const failures = dec.run(out);
    expect(out.subarray(0, GUARD).every((x) => x === 0xa5)).toBe(true);
    expect(out.subarray(GUARD + B).every((x) => x === 0xa5)).toBe(true);
    const failure = dec.failure(0);
    expect(failures).toBe(failure === undefined ? 0 : 1);
    const got = out.subarray(GUARD, GUARD + B);
    if (failure === undefined) expect(got.equals(block) || !verify).toBe(true);
    else expect(got.every((x) => x === 0)).toBe(true); // a failed block is zeroed
    return failure;
  }

  it('checks the header against the record', () => {
    expect(decodeOne(good, e)).toBeUndefined();
    const badMagic = Buffer.from(good);
    badMagic[0] ^= 0xff;
    expect(decodeOne(badMagic, e)).toBe('bad-header');
    expect(decodeOne(good.subarray(0, 10), e)).toBe('bad-header');
    expect(decodeOne(good, { ...e, id: 43 })).toBe('wrong-extent');
    expect(decodeOne(good, { ...e, storedBytes: e.storedBytes + 1 })).toBe('header-mismatch');
    expect(decodeOne(good, { ...e, codecId: CODEC_RAW })).toBe('header-mismatch');
    const unknown = fragment(9, stored.payload, 42);
    expect(decodeOne(unknown, { ...e, codecId: 9 })).toBe('unknown-codec');
    expect(decodeOne(good, { ...e, fingerprint: xxh128(noise(5, B)) })).toBe('fingerprint');
  });

  it('refuses truncated payloads, raw ones of the wrong size and lz4 ones that decode short', () => {
    expect(decodeOne(good.subarray(0, FRAGMENT_HEADER_BYTES + stored.payload.length - 1), e)).toBe('undecodable');
    const shortRaw = fragment(CODEC_RAW, block.subarray(0, 100), 42);
    expect(decodeOne(shortRaw, { ...e, codecId: CODEC_RAW, storedBytes: 100 })).toBe('undecodable');
    // A valid lz4 block of 2 KiB: decodes, but to fewer than 4096 bytes.
    const half = Buffer.alloc(B);
    const enc = new BatchEncoder(CODEC_LZ4, Buffer.concat([partly(600, 1).subarray(0, 2048), half.subarray(2048)]), 1);
    enc.want(0);
    enc.compressWanted();
    const cut = enc.encode(0).payload;
    const truncatedStream = fragment(CODEC_LZ4, cut.subarray(0, Math.floor(cut.length / 2)), 42);
    expect(decodeOne(truncatedStream, { ...e, storedBytes: Math.floor(cut.length / 2) })).toBe('undecodable');
  });

  it('never returns wrong bytes or writes outside the block for flipped payload bytes (500 seeded flips)', () => {
    const flips = noise(99, 3 * 500);
    const outcomes = new Map<string, number>();
    for (let k = 0; k < 500; k++) {
      const f = Buffer.from(good);
      const at = FRAGMENT_HEADER_BYTES + (((flips[3 * k] << 8) | flips[3 * k + 1]) % stored.payload.length);
      f[at] ^= flips[3 * k + 2] | 1;
      const failure = decodeOne(f, e) ?? 'ok';
      outcomes.set(failure, (outcomes.get(failure) ?? 0) + 1);
      // Without the fingerprint check a flip may decode to other bytes, but still inside the block.
      decodeOne(f, e, false);
    }
    expect(outcomes.get('undecodable') ?? 0).toBeGreaterThan(0);
    expect(outcomes.get('fingerprint') ?? 0).toBeGreaterThan(0);
  });

  it('refuses descriptors that point outside the caller buffers', () => {
    const c = nativeCodec();
    const desc = new Float64Array([0, 0, 42, e.codecId, e.storedBytes, B]); // out offset past the end
    expect(() => c.codecDecode([good], desc, 1, Buffer.alloc(B), null, new Int32Array(1))).toThrow(RangeError);
    desc[5] = 0;
    desc[0] = 1; // no source 1
    expect(() => c.codecDecode([good], desc, 1, Buffer.alloc(B), null, new Int32Array(1))).toThrow(RangeError);
    desc[0] = 0.5;
    expect(() => c.codecDecode([good], desc, 1, Buffer.alloc(B), null, new Int32Array(1))).toThrow(RangeError);
    const idx = new Uint32Array([1]);
    expect(() => c.codecCompress(block, idx, 1, Buffer.alloc(4000), new Uint32Array(1), new Uint32Array(1), 3584)).toThrow(RangeError);
    idx[0] = 0;
    expect(() => c.codecCompress(block, idx, 1, Buffer.alloc(4000), new Uint32Array([1000]), new Uint32Array(1), 3584)).toThrow(RangeError);
  });
});
