// Reads LevelDB write-ahead logs (*.log) without LevelDB, to find damage LevelDB
// would hide. classic-level does not expose paranoid_checks, so LevelDB's recovery
// drops a damaged log block (and everything after it in that 32 KiB block) and
// carries on with the next one: batches vanish from the middle while later ones,
// the S record included, survive, and the durable-sequence check cannot see it.
//
// Log format (leveldb doc/log_format.md): 32 KiB blocks of records; a record is
// checksum u32 LE (masked crc32c of type + payload), length u16 LE, type u8
// (1 full, 2 first, 3 middle, 4 last), payload. A block tail under 7 bytes is zero
// padding.
//
// The rule: the first gap (a damaged, zeroed or torn record) is the end of the
// log. Batches written without a sync reach the log through the page cache, and
// an ordinary power loss may write its pages back out of order (the old tail page
// rewritten in place, the next page appended, a volatile device cache), leaving
// old or zeroed bytes before intact records. Keeping only what precedes the first
// gap, across the logs in write order, leaves a prefix of the batches: a state the
// engine committed. A gap can hide a batch that was synced only through damage a
// crash cannot cause; the open then finds the S record older than the durable
// sequence the superblock recorded and refuses (open.ts).
import fs from 'node:fs';
import path from 'node:path';

const BLOCK_BYTES = 32 * 1024;
const HEADER_BYTES = 7;
const TYPE_LAST = 4;
const MASK_DELTA = 0xa282ead8;

const TABLE = (() => {
  const t = new Uint32Array(256);
  for (let i = 0; i < 256; i++) {
    let c = i;
    for (let k = 0; k < 8; k++) c = c & 1 ? (c >>> 1) ^ 0x82f63b78 : c >>> 1;
    t[i] = c >>> 0;
  }
  return t;
})();

/** CRC-32C (Castagnoli) of buf[start..end). */
export function crc32c(buf: Buffer, start = 0, end = buf.length): number {
  let c = 0xffffffff;
  for (let i = start; i < end; i++) c = TABLE[(c ^ buf[i]) & 0xff] ^ (c >>> 8);
  return (c ^ 0xffffffff) >>> 0;
}

/** LevelDB stores CRCs masked (rotated and offset); this undoes it. */
export function unmaskCrc(masked: number): number {
  const rot = (masked - MASK_DELTA) >>> 0;
  return ((rot >>> 17) | (rot << 15)) >>> 0;
}

export interface LogScan {
  /** Intact records. */
  records: number;
  /** Records whose checksum, length or type is wrong. */
  damaged: number;
  /** Byte offset of the first damaged, zeroed or torn record (the end of the log), or -1. */
  gapAt: number;
  /** Intact records after gapAt (LevelDB would replay them). */
  recordsAfterGap: number;
}

/** Scans one log file's bytes. */
export function scanLog(buf: Buffer): LogScan {
  let records = 0;
  let damaged = 0;
  let gapAt = -1;
  let recordsAfterGap = 0;
  for (let block = 0; block < buf.length; block += BLOCK_BYTES) {
    const end = Math.min(block + BLOCK_BYTES, buf.length);
    for (let pos = block; end - pos >= HEADER_BYTES; ) {
      const length = buf.readUInt16LE(pos + 4);
      const type = buf[pos + 6];
      if (type === 0 && length === 0) {
        if (gapAt < 0) gapAt = pos; // zeros: unwritten tail, or a zeroed region
        break;
      }
      const recordEnd = pos + HEADER_BYTES + length;
      const intact = recordEnd <= end && type <= TYPE_LAST &&
        unmaskCrc(buf.readUInt32LE(pos)) === crc32c(buf, pos + 6, recordEnd);
      if (!intact) {
        if (recordEnd <= end || end !== buf.length) damaged += 1; // else a torn last record
        if (gapAt < 0) gapAt = pos;
        break; // LevelDB drops the rest of the block too
      }
      if (gapAt >= 0) recordsAfterGap += 1;
      records += 1;
      pos = recordEnd;
    }
  }
  return { records, damaged, gapAt, recordsAfterGap };
}

/** Where the logs of a metadata directory end when the first gap is their end. */
export interface LogCut {
  /** The log holding the first gap, and the gap's byte offset in it. */
  readonly file: string;
  readonly at: number;
  /** Intact records after the gap, in that log and in later ones: the batches dropped. */
  readonly recordsDropped: number;
  /** Later logs (emptied: everything in them was written after the gap). */
  readonly laterLogs: readonly string[];
}

/** The *.log files of `dir` in write order (LevelDB numbers files increasingly). */
function logsOf(dir: string): string[] {
  const logs = fs.readdirSync(dir).filter((n) => /^\d+\.log$/.test(n));
  return logs.sort((a, b) => Number.parseInt(a, 10) - Number.parseInt(b, 10));
}

/**
 * The first gap across the logs of `dir` that intact records follow (in the
 * same log or a later one), or undefined: then LevelDB's own recovery, which
 * stops at a damaged tail, already replays a prefix. Reads only.
 */
export function findLogCut(dir: string): LogCut | undefined {
  const logs = logsOf(dir);
  for (let i = 0; i < logs.length; i += 1) {
    const s = scanLog(fs.readFileSync(path.join(dir, logs[i])));
    if (s.gapAt < 0) continue;
    const laterLogs = logs.slice(i + 1);
    let recordsDropped = s.recordsAfterGap;
    for (const later of laterLogs) recordsDropped += scanLog(fs.readFileSync(path.join(dir, later))).records;
    return recordsDropped === 0 ? undefined : { file: logs[i], at: s.gapAt, recordsDropped, laterLogs };
  }
  return undefined;
}

/** Applies `cut` to the logs of `dir`: truncated at the gap, later logs emptied, each synced. */
export function applyLogCut(dir: string, cut: LogCut): void {
  for (const [name, size] of [[cut.file, cut.at] as const, ...cut.laterLogs.map((n) => [n, 0] as const)]) {
    const fd = fs.openSync(path.join(dir, name), 'r+');
    try {
      fs.ftruncateSync(fd, size);
      fs.fsyncSync(fd);
    } finally {
      fs.closeSync(fd);
    }
  }
}

/** One line for a cut: where the log ends and what it drops. */
export function describeLogCut(cut: LogCut): string {
  const later = cut.laterLogs.length > 0 ? ` and the later log(s) ${cut.laterLogs.join(', ')}` : '';
  return `metadata log ${cut.file} is damaged at byte ${cut.at}; ${cut.recordsDropped} intact record(s) ` +
    `after it${later} were dropped as the unsynced end of the log`;
}
