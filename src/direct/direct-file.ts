// The file operations the 1:1 target needs from its backing file: a view of
// src/io's BackingFile (ring-backed in the daemon, so the target's file I/O
// shares the ublk queues' io_uring; node:fs in some tests). The target does
// not care which one it gets.

import type { BackingFile } from '../io/backing-file.js';

export { FALLOC_FL_KEEP_SIZE, FALLOC_FL_PUNCH_HOLE, FALLOC_FL_ZERO_RANGE } from '../io/backing-file.js';

export type DirectFile = Pick<BackingFile, 'read' | 'write' | 'supportsDsync' | 'fdatasync' | 'fallocate' | 'close'>;
