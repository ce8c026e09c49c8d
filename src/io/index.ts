// src/io: one backing-file layer under the packed pool and the 1:1 target.
//   openBackingFile(path, { create?, sizeBytes?, readOnly?, ring?, transport? }) -> BackingFile
//   backingOpener(ring)  opens files on a ring shared with the ublk queues
//   lockedOpener(open, lock)  the same, refusing a file that is not the locked inode
//   isMemoryFile(path)   the file is on tmpfs (copy inline rather than on the ring)
export * from './backing-file.js';
export { openBackingFile, backingOpener, lockedOpener, type BackingOpener, type OpenBackingOptions } from './open.js';
export { openLocked, requireIdentity, unlinkIfSame, type FileIdentity } from './file-identity.js';
export { isMemoryFile } from './memory-file.js';
