// Default physical capacity of a file pool for a logical size.
import { SUPERBLOCK_BYTES } from '../pool/format.js';
import { FILE_CAPACITY_FACTOR, RESERVED_SEGMENTS } from '../util/limits.js';

/** Room for every block stored raw with some slack, plus the compactor's reserve. */
export function defaultCapacityBytes(logicalBytes: number, segmentBytes: number): number {
  const segments = Math.ceil((logicalBytes * FILE_CAPACITY_FACTOR) / segmentBytes) + RESERVED_SEGMENTS + 2;
  return SUPERBLOCK_BYTES + segments * segmentBytes;
}
