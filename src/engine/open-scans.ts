// The background work after open: the mapped-block bitmap and the dedup filter
// from the store's keys (mapped-scan.ts, dedup-filter.ts), then the metadata
// cache warm-up (cache-warm.ts). None of it is needed for correctness: until a
// scan ends, lookups go to the store; a scan that fails leaves it that way.
import { performance } from 'node:perf_hooks';
import type { MetaStore } from '../meta/store.js';
import { warmCache } from './cache-warm.js';
import { scanDedup, type DedupFilter } from './dedup-filter.js';
import type { MappedBits } from './mapped-bits.js';
import { scanMapped } from './mapped-scan.js';
import type { MetaView } from './meta-view.js';
import type { EngineEvent } from './types.js';

export class OpenScans {
  private loading: Promise<void> = Promise.resolve();
  private stopped = false;
  /** Records the warm-up took into the cache. */
  warmedRecords = 0;

  constructor(
    private readonly meta: MetaStore,
    private readonly mapped: MappedBits,
    private readonly filter: DedupFilter,
    private readonly view: MetaView,
    private readonly emit: (event: EngineEvent) => void,
  ) {}

  /** A fresh pool has nothing to scan: its bitmap and filter are complete (empty). */
  start(fresh: boolean): void {
    if (fresh) {
      this.mapped.complete = true;
      this.filter.complete = true;
      return;
    }
    this.loading = Promise.all([scanMapped(this.meta, this.mapped), scanDedup(this.meta, this.filter)]).then(() => this.warm());
  }

  private async warm(): Promise<void> {
    const t0 = performance.now();
    const r = await warmCache(this.meta, this.view, () => this.stopped).catch(() => undefined);
    if (r === undefined) return; // a failed scan leaves lookups to fill the cache
    this.warmedRecords = r.maps + r.extents;
    this.emit({ kind: 'cache-warmed', ...r, ms: Math.round(performance.now() - t0) });
  }

  /** Resolves when every scan has ended (they never reject). */
  loaded(): Promise<void> {
    return this.loading;
  }

  /** Ends the scans early (close); loaded() still waits for the chunk in flight. */
  stop(): void {
    this.stopped = true;
  }
}
