// Byte-order helpers for hot loops. Buffer.readUInt32LE validates its offset
// through a wrapper that V8 does not inline: four calls per fingerprint cost 2%
// of a write profile. These read plain indexes; callers keep them in bounds.

/** The little-endian u32 at b[o, o + 4). */
export function u32le(b: Uint8Array, o: number): number {
  return (b[o] | (b[o + 1] << 8) | (b[o + 2] << 16) | (b[o + 3] << 24)) >>> 0;
}

/** Writes v as a little-endian u32 at b[o, o + 4). */
export function setU32le(b: Uint8Array, o: number, v: number): void {
  b[o] = v;
  b[o + 1] = v >>> 8;
  b[o + 2] = v >>> 16;
  b[o + 3] = v >>> 24;
}
