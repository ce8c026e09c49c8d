// The write journal's two files on a real filesystem: in the metadata
// directory (format replaces it whole, so no journal outlives its pool), read
// and written on the opener's ring, emptied with ftruncate(2) so they stay
// small and their dirty pages are dropped instead of written back. On tmpfs a
// record is written inline (pwrite(2) on the calling thread): there io_uring
// hands every write to a worker thread, which costs more than the copy, and a
// write to memory never waits for a disk or for writeback.
import fs from 'node:fs';
import path from 'node:path';
import { promisify } from 'node:util';
import { ioError } from '../io/errors.js';
import { isMemoryFile, openBackingFile, type BackingFile, type BackingOpener } from '../io/index.js';
import { UcError } from '../util/errors.js';
import type { JournalFile } from './write-journal.js';

const ftruncate = promisify(fs.ftruncate);

export function journalPaths(metaDir: string): [string, string] {
  return [path.join(metaDir, 'journal-0'), path.join(metaDir, 'journal-1')];
}

function journalFileOf(f: BackingFile, inlineWrites = false): JournalFile {
  return {
    fd: f.fd,
    pread: (buf, offset, length, position) => f.pread(buf, offset, length, position),
    pwrite: inlineWrites
      ? (buf, offset, length, position) => writeInline(f, buf, offset, length, position)
      : (buf, offset, length, position) => f.pwrite(buf, offset, length, position),
    fdatasync: () => f.fdatasync(),
    close: () => f.close(),
    truncate: async (length) => {
      try {
        await ftruncate(f.fd, length);
      } catch (err) {
        throw new UcError('UC_IO', `ftruncate ${f.path}: ${String(err)}`, { cause: err });
      }
    },
  };
}

/** `length` bytes of `buf` at `position`, by pwrite(2) here; settles once they are in the file. */
function writeInline(f: BackingFile, buf: Uint8Array, offset: number, length: number, position: number): Promise<void> {
  try {
    for (let done = 0; done < length;) {
      const n = fs.writeSync(f.fd, buf, offset + done, length - done, position + done);
      if (n <= 0) throw new Error(`pwrite wrote ${n} bytes`);
      done += n;
    }
    return Promise.resolve();
  } catch (err) {
    return Promise.reject(ioError(`pwrite ${f.path} (${length} bytes at ${position})`, err));
  }
}

/** Opens (creating) both journal files of the pool whose metadata is in `metaDir`. */
export function openJournalFiles(metaDir: string, open: BackingOpener = openBackingFile): Promise<[JournalFile, JournalFile]> {
  return openBoth(metaDir, async (p) => {
    const f = await open(p, { create: true });
    return journalFileOf(f, isMemoryFile(p));
  });
}

/**
 * Opens both journal files of `metaDir` read-only, for `check`; a missing
 * file reads as empty (a pool formatted before the journal existed).
 */
export function openJournalFilesReadOnly(metaDir: string): Promise<[JournalFile, JournalFile]> {
  return openBoth(metaDir, async (p) => (fs.existsSync(p) ? journalFileOf(await openBackingFile(p, { readOnly: true })) : EMPTY_FILE));
}

/** Both files through `openOne`; the first is closed again when the second fails. */
async function openBoth(metaDir: string, openOne: (path: string) => Promise<JournalFile>): Promise<[JournalFile, JournalFile]> {
  const [a, b] = journalPaths(metaDir);
  const first = await openOne(a);
  try {
    return [first, await openOne(b)];
  } catch (err) {
    await first.close();
    throw err;
  }
}

const EMPTY_FILE: JournalFile = {
  pread: async (buf, offset, length) => {
    buf.fill(0, offset, offset + length);
  },
  pwrite: async () => {
    throw new UcError('UC_IO', 'the missing journal file is not written');
  },
  fdatasync: async () => undefined,
  close: async () => undefined,
  truncate: async () => undefined,
};
