// Reads LevelDB write-ahead logs (*.log) without LevelDB, to find damage LevelDB
// would hide. classic-level does not expose paranoid_checks, so LevelDB's recovery
// drops a damaged log block (and everything after it in that 32 KiB block) and
// carries on with the next one: flushed batches vanish while later ones, the S
// record included, survive, and the durable-sequence check cannot see it.
//
// Log format (leveldb doc/log_format.md): 32 KiB blocks of records; a record is
// checksum u32 LE (masked crc32c of type + payload), length u16 LE, type u8
// (1 full, 2 first, 3 middle, 4 last), payload. A block tail under 7 bytes is zero
// padding. A crash can only damage the end of a log (a torn or zeroed tail, which
// LevelDB rightly treats as the unsynced suffix), so the rule is: a damaged or
// zeroed record followed by an intact one is damage, never a crash.
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
  /** Byte offset of the first damaged or zeroed record followed by an intact one, or -1. */
  midLogDamageAt: number;
}

/** Scans one log file's bytes. */
export function scanLog(buf: Buffer): LogScan {
  let records = 0;
  let damaged = 0;
  let gapAt = -1;
  let midLogDamageAt = -1;
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
      if (recordEnd > end && end === buf.length) break; // torn last record: a crash tail
      const intact = recordEnd <= end && type <= TYPE_LAST &&
        unmaskCrc(buf.readUInt32LE(pos)) === crc32c(buf, pos + 6, recordEnd);
      if (!intact) {
        damaged += 1;
        if (gapAt < 0) gapAt = pos;
        break; // LevelDB drops the rest of the block too
      }
      if (gapAt >= 0 && midLogDamageAt < 0) midLogDamageAt = gapAt;
      records += 1;
      pos = recordEnd;
    }
  }
  return { records, damaged, midLogDamageAt };
}

/** Problems in the logs of metadata directory `dir` (empty when none). Reads only. */
export function logDamage(dir: string): string[] {
  const out: string[] = [];
  for (const name of fs.readdirSync(dir).filter((n) => n.endsWith('.log')).sort()) {
    const s = scanLog(fs.readFileSync(path.join(dir, name)));
    if (s.midLogDamageAt >= 0) {
      out.push(
        `metadata log ${name} is damaged at byte ${s.midLogDamageAt} with intact records after it ` +
          `(${s.damaged} damaged record(s)): LevelDB would silently drop committed batches`,
      );
    }
  }
  return out;
}
