// What the engine shares with a native read path (the packed layout's, in the
// addon: native/packed-tables.h) without importing it: the arrays of the
// clean-record cache's map and extent tables and the bitmap of mapped blocks,
// read in place (one copy), the buffers of the segments still in RAM (a native
// read copies their fragments from there, as the JS path does), and
// a count of native reads whose locations the read guard must outlive.
//
// Why the tables may be read outside JS: an entry is absent or equal to what
// every JS lookup answers (meta-cache.ts's rule, and MetaView keeps a key with
// a pending overlay value out of the cache), lookups and changes all run on
// the one main thread, and a change to a key drops its entry synchronously,
// before the request that made it completes.

/** The addon's PackedTables, structurally. */
export interface NativeReadTables {
  /** kind 0: the map table (L), 1: the extent table (E); called after every reallocation. */
  attach(kind: 0 | 1, keys: Uint32Array, values: Uint32Array, state: Uint8Array): void;
  /** The bitmap of LBAs that may be mapped (mapped-bits.ts): with `complete`, a clear bit reads zeros. */
  attachMapped(bits: Uint8Array, blocks: number, complete: boolean): void;
  /** The segment's buffer while it is in RAM; undefined once it left (the buffer may be reused at once). */
  setResident(segment: number, buf: Buffer | undefined): void;
  /** Native reads started so far (a barrier for busyUpTo). */
  started(): number;
  /** True while a native read numbered <= barrier is in flight. */
  busyUpTo(barrier: number): boolean;
}

/** Where a native reader finds the pool's segments. */
export interface NativeReadGeometry {
  /** The pool's descriptor (the reader duplicates it); -1 when the pool has none (a test disk). */
  poolFd: number;
  dataOffset: number;
  segmentBytes: number;
}
