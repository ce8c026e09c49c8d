// The Prometheus text exposition format (version 0.0.4) of every device's
// figures: what `stats --format prometheus` prints for node_exporter's
// textfile collector, and what a /metrics endpoint would serve. Gauges are
// the pool's state now; *_total counters are totals since the pool was
// formatted (bytes, dedup hits) or since the daemon started (requests).

import type { DeviceReport } from './device-report.js';
import { LATENCY_BOUNDS_SEC, LATENCY_OPS, type HistogramSnapshot } from './latency.js';

type MetricType = 'gauge' | 'counter' | 'histogram';

interface Sample {
  readonly labels: Readonly<Record<string, string>>;
  readonly value: number;
  /** A histogram's series: _bucket, _sum or _count. */
  readonly suffix?: string;
}

interface Family {
  readonly name: string;
  readonly type: MetricType;
  readonly help: string;
  readonly samples: Sample[];
}

const PREFIX = 'ublk_compress_';

/** Label values escape backslash, double quote and newline. */
export function escapeLabel(value: string): string {
  return value.replace(/\\/g, '\\\\').replace(/"/g, '\\"').replace(/\n/g, '\\n');
}

function formatValue(v: number): string {
  if (Number.isNaN(v)) return 'NaN';
  if (v === Infinity) return '+Inf';
  if (v === -Infinity) return '-Inf';
  return String(v);
}

class Exposition {
  private readonly families = new Map<string, Family>();

  add(name: string, type: MetricType, help: string, labels: Record<string, string>, value: number): void {
    const full = PREFIX + name;
    let f = this.families.get(full);
    if (!f) {
      f = { name: full, type, help, samples: [] };
      this.families.set(full, f);
    }
    f.samples.push({ labels, value });
  }

  /** One histogram series set: cumulative _bucket{le}, then _sum and _count. */
  addHistogram(name: string, help: string, labels: Record<string, string>, h: HistogramSnapshot): void {
    const full = PREFIX + name;
    let f = this.families.get(full);
    if (!f) {
      f = { name: full, type: 'histogram', help, samples: [] };
      this.families.set(full, f);
    }
    LATENCY_BOUNDS_SEC.forEach((le, i) => f.samples.push({ labels: { ...labels, le: String(le) }, value: h.buckets[i], suffix: '_bucket' }));
    f.samples.push({ labels: { ...labels, le: '+Inf' }, value: h.count, suffix: '_bucket' });
    f.samples.push({ labels, value: h.sumSec, suffix: '_sum' });
    f.samples.push({ labels, value: h.count, suffix: '_count' });
  }

  render(): string {
    let out = '';
    for (const f of this.families.values()) {
      out += `# HELP ${f.name} ${f.help.replace(/\\/g, '\\\\').replace(/\n/g, '\\n')}\n# TYPE ${f.name} ${f.type}\n`;
      for (const s of f.samples) {
        const labels = Object.entries(s.labels).map(([k, v]) => `${k}="${escapeLabel(v)}"`).join(',');
        out += `${f.name}${s.suffix ?? ''}${labels ? `{${labels}}` : ''} ${formatValue(s.value)}\n`;
      }
    }
    return out;
  }
}

function addPacked(m: Exposition, device: Record<string, string>, r: DeviceReport): void {
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
    if (h) m.addHistogram('request_duration_seconds', 'Time to serve a request, by operation, since the daemon started.', { ...device, op }, h);
  }
  m.add('daemon_start_time_seconds', 'gauge', 'Start time of the serving daemon, seconds since the epoch.', device, Date.parse(s.startedAt) / 1000);
}

export function renderPrometheus(reports: readonly DeviceReport[]): string {
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
    if (r.hostFs) {
      const fs = { ...device, path: r.hostFs.path };
      m.add('host_fs_size_bytes', 'gauge', 'Size of the filesystem holding the pool or backing file.', fs, r.hostFs.sizeBytes);
      m.add('host_fs_avail_bytes', 'gauge', 'Bytes the pool can still grow into on its filesystem.', fs, r.hostFs.availBytes);
    }
    addPacked(m, device, r);
  }
  return m.render();
}
