export * from './keys.js';
export * from './records.js';
export type { MetaOp, MetaStore } from './store.js';
export { LevelMetaStore } from './level-store.js';
