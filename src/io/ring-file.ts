// BackingFile on an io_uring (IoRing): reads, writes (dsync as RWF_DSYNC),
// fdatasync, fallocate and block-device discard are ring operations, so on a
// ring shared with the ublk queues their completions arrive in the same
// wake-up as the ublk commands (native/event-ring.h).

import { blkDiscard, type IoRing } from '../native/index.js';
import { EOPNOTSUPP, errnoOf } from '../util/errno.js';
import { FileBase, type OpenedFd } from './file-base.js';

export class RingFile extends FileBase {
  readonly supportsDsync = true;
  /** false once the kernel refused discard on the ring (before Linux 6.12). */
  #ringDiscard = true;

  /** `ownsRing`: close() closes the ring too (a private ring made by openBackingFile). */
  constructor(
    private readonly ring: IoRing,
    opened: OpenedFd,
    private readonly ownsRing: boolean,
  ) {
    super(opened);
  }

  protected readOnce(fd: number, buf: Uint8Array, position: number): Promise<number> {
    return this.ring.read(fd, buf, position);
  }

  protected writeOnce(fd: number, buf: Uint8Array, position: number, dsync: boolean): Promise<number> {
    return this.ring.write(fd, buf, position, { dsync });
  }

  protected syncData(fd: number): Promise<void> {
    return this.ring.fdatasync(fd);
  }

  protected allocate(fd: number, mode: number, position: number, length: number): Promise<void> {
    return this.ring.fallocate(fd, mode, position, length);
  }

  protected async discard(fd: number, position: number, length: number): Promise<void> {
    if (this.#ringDiscard) {
      try {
        return await this.ring.discard(fd, position, length);
      } catch (err) {
        if (errnoOf(err) !== EOPNOTSUPP) throw err;
        this.#ringDiscard = false; // no uring_cmd on block devices: the ioctl from now on
      }
    }
    blkDiscard(fd, position, length);
  }

  protected release(): void {
    if (this.ownsRing) this.ring.close();
  }
}
