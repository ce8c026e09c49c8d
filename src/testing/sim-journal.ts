// A write-journal file on a SimDisk (the crash tests): truncating it is a write
// of zeros over the rest of the disk, unsynced like any other, so a crash may
// drop, keep or tear it. With `keepBytes` it stands for a file in memory
// (tmpfs), whose first bytes the journal keeps when it empties it.
import type { JournalFile } from '../engine/write-journal.js';
import type { SimDisk } from './sim-disk.js';

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export function simJournalFile(disk: SimDisk, keepBytes?: number): JournalFile {
  return {
    keepBytes,
    pread: (buf, offset, length, position) => disk.pread(asBuffer(buf), offset, length, position),
    pwrite: (buf, offset, length, position) => disk.pwrite(asBuffer(buf), offset, length, position),
    fdatasync: () => disk.fdatasync(),
    close: () => disk.close(),
    truncate: (length) => disk.punchHole(length, disk.sizeBytes - length),
  };
}
