// The Prometheus text exposition format (version 0.0.4) of every device's
// figures, rendered by prom-client (the reference implementation of the
// format): what `stats --format prometheus` prints for node_exporter's
// textfile collector, and what the daemon's /metrics serves. Gauges are the
// pool's state now; *_total counters are totals since the pool was formatted
// (bytes, dedup hits) or since the daemon started (requests).
//
// The figures are snapshots (the CLI gets them as JSON over the control
// socket), so each render fills a fresh Registry: gauges are set and
// counters incremented once to the snapshot's value. The latency histograms
// arrive as cumulative bucket counts, which prom-client's Histogram cannot be
// set to (it only counts observations); they go through
// AggregatorRegistry.aggregate, prom-client's way to expose metric values
// that were collected in another process.

import { AggregatorRegistry, Counter, Gauge, Registry } from 'prom-client';
import type { DeviceReport } from './device-report.js';
import { LATENCY_BOUNDS_SEC, LATENCY_OPS, type HistogramSnapshot } from './latency.js';

type Labels = Record<string, string>;

interface HistogramValue {
  readonly metricName: string;
  readonly labels: Readonly<Record<string, string | number>>;
  readonly value: number;
}

const PREFIX = 'ublk_compress_';
const DURATION_HELP = 'Time to serve a request, by operation, since the daemon started.';

class Exposition {
  private readonly registry = new Registry();
  private readonly families = new Map<string, Gauge | Counter>();
  private readonly latency: HistogramValue[] = [];

  /** A family is created at its first sample (its label names are that sample's). */
  add(name: string, type: 'gauge' | 'counter', help: string, labels: Labels, value: number): void {
    const full = PREFIX + name;
    let f = this.families.get(full);
    if (!f) {
      const config = { name: full, help, labelNames: Object.keys(labels), registers: [this.registry] };
      f = type === 'gauge' ? new Gauge(config) : new Counter(config);
      this.families.set(full, f);
    }
    if (f instanceof Gauge) f.set(labels, value);
    else f.inc(labels, value);
  }

  /** One histogram series set: cumulative _bucket{le}, then _sum and _count. */
  addLatency(labels: Labels, h: HistogramSnapshot): void {
    const name = `${PREFIX}request_duration_seconds`;
    LATENCY_BOUNDS_SEC.forEach((le, i) => this.latency.push({ metricName: `${name}_bucket`, labels: { ...labels, le }, value: h.buckets[i] }));
    this.latency.push({ metricName: `${name}_bucket`, labels: { ...labels, le: '+Inf' }, value: h.count });
    this.latency.push({ metricName: `${name}_sum`, labels, value: h.sumSec });
    this.latency.push({ metricName: `${name}_count`, labels, value: h.count });
  }

  /** Empty lines between families are valid but dropped: one family follows the next, and no device prints nothing. */
  async render(): Promise<string> {
    const registries = [this.registry];
    if (this.latency.length > 0) {
      const family = { name: `${PREFIX}request_duration_seconds`, help: DURATION_HELP, type: 'histogram', aggregator: 'sum', values: this.latency };
      registries.push(AggregatorRegistry.aggregate([[family]]));
    }
    const text = await Registry.merge(registries).metrics();
    return text === '\n' ? '' : text.replace(/\n\n/g, '\n');
  }
}

function addPacked(m: Exposition, device: Labels, r: DeviceReport): void {
  const s = r.packed;
  if (!s) return;
  m.add('logical_bytes', 'gauge', 'Size of the block device.', device, s.logicalBytes);
  m.add('mapped_bytes', 'gauge', 'Bytes of the device that hold data (mapped blocks).', device, s.mappedBytes);
  m.add('physical_data_bytes', 'gauge', 'Stored bytes referenced by live data, after dedup and compression.', device, s.physicalDataBytes);
  m.add('pool_used_bytes', 'gauge', 'Pool bytes in segments in use (live data plus garbage the compactor has not reclaimed).', device, s.poolUsedBytes);
  m.add('pool_allocated_bytes', 'gauge', 'Bytes the pool file occupies on its filesystem.', device, s.poolAllocatedBytes);
  m.add('metadata_bytes', 'gauge', 'Bytes of the metadata directory.', device, s.metadataBytes);
  for (const [kind, value] of Object.entries(s.ratio)) {
    m.add('ratio', 'gauge', 'Space ratios: combined (mapped / stored), compression, dedup, same_fill.', { ...device, kind: kind === 'sameFill' ? 'same_fill' : kind }, value);
  }
  m.add('written_bytes_total', 'counter', 'Bytes written to the device since the pool was formatted.', device, s.bytesWritten);
  m.add('read_bytes_total', 'counter', 'Bytes read from the device since the pool was formatted.', device, s.bytesRead);
  m.add('dedup_hits_total', 'counter', 'Blocks written that were already stored (since the pool was formatted).', device, s.dedupHits);
  m.add('same_fill_blocks_total', 'counter', 'Blocks written that were one repeated byte (since the pool was formatted).', device, s.sameFillBlocks);
  m.add('read_verify_failures_total', 'counter', 'Reads failed because stored bytes did not verify (since the daemon started).', device, s.readVerifyFailures);
  m.add('compactor_running', 'gauge', '1 while the compactor is copying live data out of sparse segments.', device, s.compactor.state === 'running' ? 1 : 0);
  m.add('compactor_candidate_segments', 'gauge', 'Segments sparse enough to compact.', device, s.compactor.candidates);
  m.add('compactor_segments_cleaned_total', 'counter', 'Segments freed by the compactor (since the pool was formatted).', device, s.compactor.segmentsCleaned);
  m.add('compactor_reclaimed_bytes_total', 'counter', 'Bytes freed by the compactor (since the pool was formatted).', device, s.compactor.reclaimedBytes);
  const q = s.session;
  for (const [op, n] of [['read', q.reads], ['write', q.writes], ['flush', q.flushes], ['discard', q.discards], ['write_zeroes', q.writeZeroes]] as const) {
    m.add('requests_total', 'counter', 'Requests served by the daemon since it started, by operation.', { ...device, op }, n);
  }
  m.add('request_errors_total', 'counter', 'Requests completed with an error since the daemon started.', device, q.errors);
  for (const op of LATENCY_OPS) {
    const h = s.latency?.[op];
    if (h) m.addLatency({ ...device, op }, h);
  }
  m.add('daemon_start_time_seconds', 'gauge', 'Start time of the serving daemon, seconds since the epoch.', device, Date.parse(s.startedAt) / 1000);
}

export async function renderPrometheus(reports: readonly DeviceReport[]): Promise<string> {
  const m = new Exposition();
  for (const r of reports) {
    const device = { device: r.view.device };
    m.add('device_info', 'gauge', 'One series per device: its stable name, layout, state and backing file.', {
      ...device,
      name: r.name ?? '',
      layout: r.view.layout ?? '',
      state: r.view.state,
      backing: r.view.backing ?? '',
    }, 1);
    m.add('daemon_up', 'gauge', '1 when the daemon serving the device is running.', device, r.view.daemonAlive ? 1 : 0);
    if (r.view.sizeBytes !== null) {
      m.add('size_bytes', 'gauge', 'Size of the block device (after any online grow).', device, r.view.sizeBytes);
    }
    if (r.hostFs) {
      const fs = { ...device, path: r.hostFs.path };
      m.add('host_fs_size_bytes', 'gauge', 'Size of the filesystem holding the pool or backing file.', fs, r.hostFs.sizeBytes);
      m.add('host_fs_avail_bytes', 'gauge', 'Bytes the pool can still grow into on its filesystem.', fs, r.hostFs.availBytes);
    }
    addPacked(m, device, r);
  }
  return m.render();
}
