// The DirectFile over the native io_uring: backing-file reads, writes (FUA as
// RWF_DSYNC), fdatasync and fallocate go on the same ring as the ublk queue,
// so one wake-up's requests and the file I/O they cause share system calls
// (DESIGN "The data path").

import { closeSync, openSync } from 'node:fs';
import type { IoRing } from '../native/index.js';
import type { DirectFile } from './direct-file.js';

export class RingDirectFile implements DirectFile {
  readonly supportsDsync = true;
  #fd: number;

  /** `fd` is owned by this object from now on; `ring` stays the caller's. */
  constructor(
    private readonly ring: IoRing,
    fd: number,
  ) {
    this.#fd = fd;
  }

  /** Opens `path` read-write (libuv adds O_CLOEXEC) on `ring`. */
  static open(ring: IoRing, path: string): RingDirectFile {
    return new RingDirectFile(ring, openSync(path, 'r+'));
  }

  /** The open descriptor (-1 once closed), for the native request path. */
  get fd(): number {
    return this.#fd;
  }

  read(buf: Buffer, offsetBytes: number): Promise<number> {
    return this.ring.read(this.#fd, buf, offsetBytes);
  }

  write(buf: Buffer, offsetBytes: number, dsync: boolean): Promise<number> {
    return this.ring.write(this.#fd, buf, offsetBytes, { dsync });
  }

  fdatasync(): Promise<void> {
    return this.ring.fdatasync(this.#fd);
  }

  fallocate(mode: number, offsetBytes: number, lengthBytes: number): Promise<void> {
    return this.ring.fallocate(this.#fd, mode, offsetBytes, lengthBytes);
  }

  async close(): Promise<void> {
    if (this.#fd < 0) return;
    closeSync(this.#fd);
    this.#fd = -1;
  }
}
