// PoolStore: what the packed engine needs from the backing pool (a file or a
// block device), a view of src/io's BackingFile with its contract: a pwrite
// is visible to later preads at once but durable only after a later fdatasync
// resolves; a crash may drop, keep or tear (at 512-byte sector granularity)
// any write not yet covered by an fdatasync. punchHole returns a range's
// space to the layer below, best effort (the range is unreferenced). The
// simulated disk of the crash tests implements the same interface.

import type { BackingFile } from '../io/backing-file.js';

export type PoolStore = Pick<BackingFile, 'sizeBytes' | 'pread' | 'pwrite' | 'fdatasync' | 'punchHole' | 'grow' | 'close'>;
