// src/io: one backing-file layer under the packed pool and the 1:1 target.
//   openBackingFile(path, { create?, sizeBytes?, readOnly?, ring?, transport? }) -> BackingFile
//   backingOpener(ring)  opens files on a ring shared with the ublk queues
export * from './backing-file.js';
export { openBackingFile, backingOpener, type BackingOpener, type OpenBackingOptions } from './open.js';
