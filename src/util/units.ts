import assert from 'node:assert';
import { UcError } from './errors.js';

export const BLOCK_BYTES = 4096;
export const SECTOR_BYTES = 512;
export const SECTORS_PER_BLOCK = BLOCK_BYTES / SECTOR_BYTES;
/** A block fingerprint (XXH128): stored in E and H records, computed by src/dedup. */
export const FINGERPRINT_BYTES = 16;

export function lbaOfSector(sector: number): number {
  assert(Number.isSafeInteger(sector));
  assert(sector % SECTORS_PER_BLOCK === 0, 'io is not block aligned');
  return sector / SECTORS_PER_BLOCK;
}

const SIZE_SUFFIX: Record<string, number> = {
  '': 1,
  K: 1024,
  M: 1024 ** 2,
  G: 1024 ** 3,
  T: 1024 ** 4,
  P: 1024 ** 5,
};

/**
 * Parses "100G", "512M", "4096", "1.5T", "64KiB" (binary units; B, iB suffixes
 * optional). Throws UC_INVALID_ARGUMENT for anything else, or a result that is
 * not a whole number of bytes.
 */
export function parseSize(text: string): number {
  const m = /^\s*(\d+(?:\.\d+)?)\s*([kmgtpKMGTP]?)(?:i?[bB])?\s*$/.exec(text);
  if (!m) throw new UcError('UC_INVALID_ARGUMENT', `cannot parse size '${text}' (e.g. 512M, 100G, 2T)`);
  const bytes = Number(m[1]) * SIZE_SUFFIX[m[2].toUpperCase()];
  if (!Number.isSafeInteger(bytes)) {
    throw new UcError('UC_INVALID_ARGUMENT', `size '${text}' is not a whole number of bytes`);
  }
  return bytes;
}

/** "1.50 GiB" style, for human output. */
export function formatBytes(bytes: number): string {
  const units = ['B', 'KiB', 'MiB', 'GiB', 'TiB', 'PiB'];
  let value = bytes;
  let unit = 0;
  while (Math.abs(value) >= 1024 && unit < units.length - 1) {
    value /= 1024;
    unit += 1;
  }
  return unit === 0 ? `${value} B` : `${value.toFixed(2)} ${units[unit]}`;
}
