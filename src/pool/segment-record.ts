// Segment states and the G record that persists one segment's row of the
// segment table (docs/format.md): live bytes u32 | fill bytes u32 | state u8.
import { UcError } from '../util/errors.js';

/** Allocatable. */
export const SEG_FREE = 0;
/** Being appended to. */
export const SEG_OPEN = 1;
/** Full, or left open by a previous run. */
export const SEG_SEALED = 2;

export interface SegmentRecord {
  liveBytes: number;
  fillBytes: number;
  state: number;
}

export const SEGMENT_VALUE_BYTES = 9;

export function encodeSegment(r: SegmentRecord): Buffer {
  const v = Buffer.allocUnsafe(SEGMENT_VALUE_BYTES);
  v.writeUInt32BE(r.liveBytes, 0);
  v.writeUInt32BE(r.fillBytes, 4);
  v.writeUInt8(r.state, 8);
  return v;
}

export function decodeSegment(v: Buffer): SegmentRecord {
  if (v.length !== SEGMENT_VALUE_BYTES) throw new UcError('UC_POOL_CORRUPT', 'bad segment record size');
  return { liveBytes: v.readUInt32BE(0), fillBytes: v.readUInt32BE(4), state: v.readUInt8(8) };
}
