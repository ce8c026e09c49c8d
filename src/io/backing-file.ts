// BackingFile: byte-addressed I/O on the file or block device under a target.
// The packed pool (src/pool, src/engine) and the 1:1 target (src/direct) both
// code against this one interface; each uses the part it needs (PoolStore,
// DirectFile). Offsets and lengths are byte counts and must be safe integers.
//
// Contract: a write is visible to later reads at once but durable only after
// a later fdatasync resolves (or, with `dsync`, when the write resolves). A
// crash may drop, keep or tear (at 512-byte sector granularity) any write not
// yet covered by an fdatasync.
//
// Errors reject as UcError UC_IO (UC_PERMISSION_DENIED on open) with the
// positive errno and what was attempted (call, path, range), so callers
// classify EIO, ENOSPC and EOPNOTSUPP by errno (src/engine/commit-failure.ts).

/** fallocate(2) modes (linux/falloc.h). */
export const FALLOC_FL_KEEP_SIZE = 0x01;
export const FALLOC_FL_PUNCH_HOLE = 0x02;
export const FALLOC_FL_ZERO_RANGE = 0x10;

export interface BackingFile {
  readonly path: string;
  readonly isBlockDevice: boolean;
  /** The open descriptor (-1 once closed), for a native path serving the same file. */
  readonly fd: number;
  /** Current size in bytes (a file's length; a block device's capacity). */
  readonly sizeBytes: number;
  /** True when write(..., dsync=true) is a real RWF_DSYNC write. */
  readonly supportsDsync: boolean;
  /** One pread into all of buf: bytes read (short only at end of file). */
  read(buf: Uint8Array, positionBytes: number): Promise<number>;
  /** One pwrite of all of buf: bytes written (may be short); `dsync` makes it durable on return. */
  write(buf: Uint8Array, positionBytes: number, dsync: boolean): Promise<number>;
  /** Reads exactly `length` bytes at `position` into buf[offset..]; bytes past the end read 0. */
  pread(buf: Uint8Array, offset: number, length: number, position: number): Promise<void>;
  /** Writes exactly `length` bytes of buf[offset..] at `position` (loops on short writes). */
  pwrite(buf: Uint8Array, offset: number, length: number, position: number): Promise<void>;
  fdatasync(): Promise<void>;
  /** fallocate(2); rejects with errno EOPNOTSUPP when the mode is not available. */
  fallocate(mode: number, positionBytes: number, lengthBytes: number): Promise<void>;
  /**
   * Returns the range's space to the layer below: a file's range is punched
   * (reads zeros, size kept); a block device's is discarded (BLKDISCARD:
   * contents afterwards are the device's choice). Callers treat a rejection
   * as "space not returned", never as lost data.
   */
  punchHole(positionBytes: number, lengthBytes: number): Promise<void>;
  /** Grows a file to `sizeBytes` (never shrinks); a block device cannot grow and rejects UC_NO_SPACE. */
  grow(sizeBytes: number): Promise<void>;
  close(): Promise<void>;
}
