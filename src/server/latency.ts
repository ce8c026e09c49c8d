// Request latency histograms of the daemon (Prometheus histograms: cumulative
// buckets by upper bound, a sum and a count). logged-target.ts already reads
// the clock at the start and end of every request it serves; observing costs
// one short bucket search and three additions. Requests the 1:1 layout's
// native path completes in the addon never reach JS and are not timed.

/** Upper bounds in seconds: 50 us (a page-cache hit) to 10 s (a stalled disk). */
export const LATENCY_BOUNDS_SEC: readonly number[] = [
  0.00005, 0.0001, 0.00025, 0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10,
];

export const LATENCY_OPS = ['read', 'write', 'flush', 'discard', 'write_zeroes'] as const;
export type LatencyOp = (typeof LATENCY_OPS)[number];

/** One histogram as JSON (the stats snapshot carries it over the control socket). */
export interface HistogramSnapshot {
  /** Cumulative counts, one per LATENCY_BOUNDS_SEC entry (the +Inf bucket is `count`). */
  buckets: number[];
  sumSec: number;
  count: number;
}

export type LatencySnapshot = Record<LatencyOp, HistogramSnapshot>;

class Histogram {
  private readonly counts = new Array<number>(LATENCY_BOUNDS_SEC.length + 1).fill(0);
  private sumSec = 0;

  observe(seconds: number): void {
    let i = 0;
    while (i < LATENCY_BOUNDS_SEC.length && seconds > LATENCY_BOUNDS_SEC[i]) i += 1;
    this.counts[i] += 1;
    this.sumSec += seconds;
  }

  snapshot(): HistogramSnapshot {
    const buckets: number[] = [];
    let running = 0;
    for (let i = 0; i < LATENCY_BOUNDS_SEC.length; i += 1) {
      running += this.counts[i];
      buckets.push(running);
    }
    return { buckets, sumSec: this.sumSec, count: running + this.counts[LATENCY_BOUNDS_SEC.length] };
  }
}

/** One histogram per operation, failed requests included. */
export class RequestLatency {
  private readonly byOp = new Map<LatencyOp, Histogram>(LATENCY_OPS.map((op) => [op, new Histogram()]));

  observe(op: LatencyOp, seconds: number): void {
    (this.byOp.get(op) as Histogram).observe(seconds);
  }

  snapshot(): LatencySnapshot {
    const out = {} as LatencySnapshot;
    for (const op of LATENCY_OPS) out[op] = (this.byOp.get(op) as Histogram).snapshot();
    return out;
  }
}
