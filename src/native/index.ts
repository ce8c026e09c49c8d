// Typed wrapper around the C++ addon (build/Release/ublk_native.node). This is
// the only module that loads the addon; everything above it codes against the
// API below, which is kept stable.
//
// Threading and events: every ring is owned by the Node main thread. Each ring
// has an eventfd watched by libuv, so completions arrive as ordinary
// event-loop callbacks (promises for file I/O and control commands, one
// `onBatch` call per wake-up for a ublk queue). Queued submissions (commits,
// file I/O) are sent with one io_uring_enter at the end of the wake-up that
// produced them, or on the next loop turn when queued from elsewhere.
//
// Errors: native failures throw/reject an `Error` whose `errno` is the
// POSITIVE errno (project convention, see toErrno() in src/util/errors.ts),
// `code` the errno name ('EBADF') and `message` says what was attempted.
//
// API summary
//   new IoRing({ entries?, cqEntries?, flags? })
//     .read(fd, buf, offsetBytes) / .write(fd, buf, offsetBytes, { dsync? })
//         -> Promise<bytes>   (may be short; readFully/writeFully loop)
//     .fdatasync(fd) / .fsync(fd)                            -> Promise<void>
//     .fallocate(fd, mode, offsetBytes, lengthBytes)         -> Promise<void>
//     .punchHole(fd, off, len) / .zeroRange(fd, off, len)    -> Promise<void>
//     .discard(fd, off, len)   block device range, on the ring (6.12+)
//     .inflight, .close()
//   UblkControl.open(path?) -> control ring on /dev/ublk-control (SQE128)
//     .getFeatures() .addDev() .setParams() .getParams() .getDevInfo()
//     .startDev() .stopDev() .delDev() .startUserRecovery() .endUserRecovery()
//     every command is async and takes { timeoutMs } (rejects UC_TIMEOUT).
//   new UblkQueue({ ring, cdevFd, queueId, depth, maxIoBufBytes, onBatch, onAbort })
//     .fetchAll()            FETCH every tag (before START_DEV / END_USER_RECOVERY)
//     .commit(tag, result)   COMMIT_AND_FETCH (bytes, or -errno)
//     .buffers[tag]          the tag's io buffer (zero copy, see below)
//     .close()               munmap descriptors; call after every tag aborted
//   fiemap(fd, { sync? }) -> FiemapExtent[]
//   new DirectMap(fileFd, devFd, jsFd) .remap() .remapRange() .clear() .stats()
//                          the direct-mapped path's extent map (UblkQueue.setDirect)
//   encodeCtrlSqe(name, devId, data0, addr, len, legacy) -> the 128-byte SQE
//   lockFile(path, { exclusive?, create?, mode?, claimDevice? }) -> FileLock
//                          non-blocking flock(2) held until .release() (EWOULDBLOCK when
//                          held elsewhere); create makes a new file (O_EXCL|O_NOFOLLOW)
//   blkDiscard(fd, off, len) / blockDeviceBytes(fd)   synchronous block device ioctls
//   setIoFlusher()         prctl(PR_SET_IO_FLUSHER, 1) for this process
//   ublkAbi()              struct sizes/offsets and opcodes the addon was built with
//
// Io buffer lifetime: `buffers[tag]` is a Buffer over native memory that the
// kernel copies READ data from / WRITE data into. Its content belongs to JS
// from the onBatch call that delivered `tag` until `commit(tag, ...)`; after
// the commit the kernel may overwrite it at any time. The memory itself is
// freed only when the Buffer is garbage-collected, so a stale reference is
// never a use-after-free, only stale data.
//
// Batch arrays: `onBatch(batch)` receives views that the next batch
// overwrites: consume them synchronously (copy what you need), then commit
// each tag whenever its operation finishes.

export * from './abi.js';
export { IoRing } from './io-ring.js';
export { UblkControl, encodeCtrlSqe, type CtrlName } from './control.js';
export { UblkQueue, type UblkQueueOptions } from './queue.js';
export { blkDiscard, blockDeviceBytes, fiemap, setIoFlusher, ublkAbi } from './system.js';
export { DirectMap } from './direct-map.js';
export { PackedTables } from './packed-tables.js';
export { createWriteApply } from './write-apply.js';
export type { NativeWriteApplyHandle } from './addon.js';
export { lockFile, type FileLock, type LockFileOptions } from './file-lock.js';
