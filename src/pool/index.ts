export type { PoolStore } from './store.js';
export * from './format.js';
export * from './fragment.js';
export { SegmentTable, SEG_FREEING } from './segments.js';
export * from './segment-record.js';
