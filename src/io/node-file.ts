// BackingFile over node:fs (the libuv thread pool), for tests and for hosts
// where io_uring is unavailable. Node exposes neither pwritev2 flags nor
// fallocate: dsync writes and fallocate reject EOPNOTSUPP (the 1:1 target
// then follows writes with fdatasync and writes zeros); a block device is
// still discarded, by the synchronous BLKDISCARD ioctl.

import fs from 'node:fs';
import { blkDiscard } from '../native/index.js';
import { EOPNOTSUPP } from '../util/errno.js';
import { UcError } from '../util/errors.js';
import { FileBase } from './file-base.js';

function unsupported(what: string): UcError {
  return new UcError('UC_IO', `${what} is not available through node:fs`, { errno: EOPNOTSUPP });
}

export class NodeFile extends FileBase {
  readonly supportsDsync = false;

  protected readOnce(fd: number, buf: Uint8Array, position: number): Promise<number> {
    return new Promise((resolve, reject) => {
      fs.read(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  protected writeOnce(fd: number, buf: Uint8Array, position: number, dsync: boolean): Promise<number> {
    if (dsync) return Promise.reject(unsupported('a dsync write'));
    return new Promise((resolve, reject) => {
      fs.write(fd, buf, 0, buf.length, position, (err, n) => (err ? reject(err) : resolve(n)));
    });
  }

  protected syncData(fd: number): Promise<void> {
    return new Promise((resolve, reject) => fs.fdatasync(fd, (err) => (err ? reject(err) : resolve())));
  }

  protected allocate(): Promise<void> {
    return Promise.reject(unsupported('fallocate'));
  }

  protected async discard(fd: number, position: number, length: number): Promise<void> {
    blkDiscard(fd, position, length);
  }

  protected release(): void {}
}
