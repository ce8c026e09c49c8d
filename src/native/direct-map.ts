// The direct-mapped path's extent map (native/extent-map.h): which parts of
// a backing file FIEMAP proves are plain blocks of the device under its
// filesystem. One per device, shared by its queues (UblkQueue.setDirect).

import assert from 'node:assert';
import type { DirectMapStats } from './abi.js';
import { native, type NativeDirectMapHandle } from './addon.js';

export class DirectMap {
  /** For UblkQueue.setDirect only. */
  readonly handle: NativeDirectMapHandle;

  /**
   * `fileFd` (the native path's descriptor), `devFd` (O_DIRECT on the raw
   * device) and `jsFd` (the JS path's buffered descriptor, which loses its
   * readahead) stay the caller's: the map serves on its own duplicates of
   * the first two, so closing them early never leaves it a reused number.
   */
  constructor(fileFd: number, devFd: number, jsFd: number) {
    assert(Number.isInteger(fileFd) && fileFd >= 0, 'fileFd');
    assert(Number.isInteger(devFd) && devFd >= 0, 'devFd');
    assert(Number.isInteger(jsFd), 'jsFd');
    this.handle = new (native().DirectMap)(fileFd, devFd, jsFd);
  }

  /**
   * Writes the file's dirty pages back, drops its page cache and maps it
   * afresh (FIEMAP with FIEMAP_FLAG_SYNC). Before the queues serve. -> mapped bytes.
   */
  remap(): number {
    return this.handle.remap();
  }

  /**
   * The same as remap() for [offsetBytes, +lengthBytes) only: the range an
   * online grow adds, before the kernel sees it (no request reaches it yet).
   * A cleared map stays empty. -> mapped bytes (the whole map).
   */
  remapRange(offsetBytes: number, lengthBytes: number): number {
    assert(Number.isSafeInteger(offsetBytes) && offsetBytes >= 0, 'offsetBytes');
    assert(Number.isSafeInteger(lengthBytes) && lengthBytes > 0, 'lengthBytes');
    return this.handle.remapRange(offsetBytes, lengthBytes);
  }

  /** Nothing is served raw any more, and nothing is mapped again until remap(). */
  clear(): void {
    this.handle.clear();
  }

  /**
   * fanotify FAN_OPEN_PERM on `path` (this map's file): an open by another
   * process waits until the map is emptied for good and the raw-device I/O in
   * flight has ended; `onForeignOpen` hears of it afterwards. This process
   * must not open `path` synchronously on the main thread while guarded.
   */
  guardOpens(path: string, onForeignOpen: (pids: number[]) => void): { close(): void } {
    return new (native().OpenGuard)(path, this.handle, onForeignOpen);
  }

  stats(): DirectMapStats {
    return this.handle.stats();
  }
}
