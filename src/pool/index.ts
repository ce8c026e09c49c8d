export type { PoolStore } from './store.js';
export { SimDisk, type CrashFate } from './sim-disk.js';
export * from './format.js';
export * from './fragment.js';
export { SegmentTable, SEG_FREEING } from './segments.js';
