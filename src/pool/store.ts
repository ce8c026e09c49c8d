// PoolStore: byte-addressed access to the backing pool (a file or a block
// device). Offsets and lengths are byte counts and must be safe integers.
//
// Contract: pwrite is visible to later preads at once but durable only after a
// later fdatasync resolves. A crash may drop, keep or tear (at 512-byte sector
// granularity) any write not yet covered by an fdatasync. punchHole makes a
// range read zeros and returns its space to the layer below (best effort).

export interface PoolStore {
  /** Current size of the pool in bytes. */
  readonly sizeBytes: number;
  /** Reads exactly `length` bytes at `position` into buf[offset..]; bytes past the end read 0. */
  pread(buf: Buffer, offset: number, length: number, position: number): Promise<void>;
  pwrite(buf: Buffer, offset: number, length: number, position: number): Promise<void>;
  fdatasync(): Promise<void>;
  punchHole(position: number, length: number): Promise<void>;
  /** Grows a file pool (block devices cannot grow and throw). */
  grow(sizeBytes: number): Promise<void>;
  close(): Promise<void>;
}
