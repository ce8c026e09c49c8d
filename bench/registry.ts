// Every benchmark `npm run bench` knows, by name. Add a module with one line;
// modules load lazily so one module's dependencies never slow another down.
import type { BenchModule } from './module.js';

export const BENCH_MODULES: Record<string, () => Promise<BenchModule>> = {
  suite: async () => (await import('./suite/index.js')).suiteBench,
  engine: async () => (await import('./engine/index.js')).engineBench,
  direct: async () => (await import('./direct.js')).directBench,
  packed: async () => (await import('./packed.js')).packedBench,
  'pool-io': async () => (await import('./pool-io.js')).poolIoBench,
};
