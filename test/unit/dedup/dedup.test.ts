import { describe, expect, it } from 'vitest';
import { expandFill, isSameFill, parseDedupMode, xxh128 } from '../../../src/dedup/index.js';

describe('same-fill detection', () => {
  it('finds zero and repeated 8-byte patterns, at any offset in a buffer', () => {
    const buf = Buffer.alloc(3 * 4096);
    expect(isSameFill(buf, 4096)).toBe(true);
    const pat = Buffer.from([1, 2, 3, 4, 5, 6, 7, 8]);
    expandFill(pat, buf, 4096);
    expect(isSameFill(buf, 4096)).toBe(true);
    expect(buf.readBigUInt64BE(8184)).toBe(0x0102030405060708n);
    buf[4096 + 4095] ^= 1;
    expect(isSameFill(buf, 4096)).toBe(false);
    const b = Buffer.alloc(4096, 0);
    b.writeUInt32BE(1, 4); // pattern of period 8 with a non-zero word
    for (let i = 8; i < 4096; i += 8) b.writeUInt32BE(1, i + 4);
    expect(isSameFill(b, 0)).toBe(true);
    b[100] = 9;
    expect(isSameFill(b, 0)).toBe(false);
  });
});

describe('fingerprints', () => {
  it('are 16 bytes, deterministic and content-sensitive', () => {
    const a = Buffer.alloc(4096, 1);
    const b = Buffer.alloc(4096, 1);
    b[4000] = 2;
    expect(xxh128(a).length).toBe(16);
    expect(xxh128(a).equals(xxh128(Buffer.from(a)))).toBe(true);
    expect(xxh128(a).equals(xxh128(b))).toBe(false);
  });
  it('modes parse', () => {
    expect(parseDedupMode('verify')).toBe('verify');
    expect(() => parseDedupMode('maybe')).toThrow(/dedup mode/);
  });
});
