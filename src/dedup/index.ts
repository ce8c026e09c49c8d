export { FINGERPRINT_BYTES, xxh128, type FingerprintFn } from './fingerprint.js';
export { FILL_PATTERN_BYTES, expandFill, isSameFill, isZeroPattern } from './same-fill.js';
export { parseDedupMode, type DedupMode } from './mode.js';
