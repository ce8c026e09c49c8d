// A write-journal file on a SimDisk (the crash tests): truncating it is a write
// of zeros over the rest of the disk, unsynced like any other, so a crash may
// drop, keep or tear it.
import type { JournalFile } from '../engine/write-journal.js';
import type { SimDisk } from './sim-disk.js';

const asBuffer = (u: Uint8Array): Buffer => Buffer.from(u.buffer, u.byteOffset, u.byteLength);

export function simJournalFile(disk: SimDisk): JournalFile {
  return {
    pread: (buf, offset, length, position) => disk.pread(asBuffer(buf), offset, length, position),
    pwrite: (buf, offset, length, position) => disk.pwrite(asBuffer(buf), offset, length, position),
    fdatasync: () => disk.fdatasync(),
    close: () => disk.close(),
    truncate: (length) => disk.punchHole(length, disk.sizeBytes - length),
  };
}
