// The contract between the ublk queue dispatch (src/device) and whatever
// stores the blocks (src/direct for the 1:1 layout, src/engine for the packed
// one). Units are 4 KiB blocks (`lba`); the device converts sectors.
//
// Every method resolves when the operation is complete in the target's own
// terms (a write is visible to later reads; only flush() and fua writes make
// it durable) and rejects with an error that toErrno() maps to the errno the
// kernel receives. Writes, discards and writeZeroes must be idempotent:
// with USER_RECOVERY_REISSUE the kernel replays in-flight requests after a
// server restart.

export interface BlockTarget {
  /** Fills `buf` (blocks * 4096 bytes) with the content of lba .. lba+blocks-1. */
  read(lba: number, blocks: number, buf: Buffer): Promise<void>;
  /** Stores `buf` at lba; with `fua` the data is durable when this resolves. */
  write(lba: number, blocks: number, buf: Buffer, fua: boolean): Promise<void>;
  /** Makes every completed write durable (consistency rule 1). */
  flush(): Promise<void>;
  /** The range reads zeros afterwards and its space may be released. */
  discard(lba: number, blocks: number): Promise<void>;
  /** The range reads zeros; with `noUnmap` its space stays allocated. */
  writeZeroes(lba: number, blocks: number, noUnmap: boolean): Promise<void>;
  /** Flushes and releases every resource; waits for in-flight operations. */
  close(): Promise<void>;
}
