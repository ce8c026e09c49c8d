// `stats --format prometheus` output checked by a strict parser of the text
// exposition format (0.0.4: HELP/TYPE lines, metric and label names, label
// escaping, values, contiguous families, no duplicate series, counter
// naming, histogram buckets cumulative up to +Inf = _count), and the
// all-devices overview table.
import { describe, expect, it } from 'vitest';
import type { DeviceReport, DeviceView } from '../../../src/server/device-report.js';
import { zeroCounters } from '../../../src/engine/index.js';
import { buildStatsSnapshot } from '../../../src/server/targets/packed-stats.js';
import { renderOverview, savedPercent } from '../../../src/cli/render/overview.js';
import { renderPrometheus } from '../../../src/server/prometheus.js';
import { RequestLatency, type LatencySnapshot } from '../../../src/server/latency.js';

interface ParsedSample { name: string; labels: Record<string, string>; value: number }
interface ParsedFamily { type: string; help: string; samples: ParsedSample[] }

const NAME = /^[a-zA-Z_:][a-zA-Z0-9_:]*$/;
const LABEL_NAME = /^[a-zA-Z_][a-zA-Z0-9_]*$/;

function parseValue(text: string, where: string): number {
  if (text === 'NaN') return NaN;
  if (text === '+Inf') return Infinity;
  if (text === '-Inf') return -Infinity;
  if (!/^[-+]?(\d+\.?\d*|\.\d+)([eE][-+]?\d+)?$/.test(text)) throw new Error(`${where}: bad value '${text}'`);
  return Number(text);
}

/** Label set `{a="x",b="y"}` starting at text[0] === '{'; returns labels and the rest. */
function parseLabels(text: string, where: string): [Record<string, string>, string] {
  const labels: Record<string, string> = {};
  let i = 1;
  while (text[i] !== '}') {
    const eq = text.indexOf('=', i);
    const name = text.slice(i, eq);
    if (!LABEL_NAME.test(name) || name.startsWith('__')) throw new Error(`${where}: bad label name '${name}'`);
    if (name in labels) throw new Error(`${where}: label ${name} twice`);
    if (text[eq + 1] !== '"') throw new Error(`${where}: label value not quoted`);
    let value = '';
    let j = eq + 2;
    for (; text[j] !== '"'; j += 1) {
      if (j >= text.length) throw new Error(`${where}: unterminated label value`);
      if (text[j] === '\n') throw new Error(`${where}: raw newline in label value`);
      if (text[j] === '\\') {
        const next = text[j + 1];
        if (next === '\\') value += '\\';
        else if (next === '"') value += '"';
        else if (next === 'n') value += '\n';
        else throw new Error(`${where}: bad escape \\${next}`);
        j += 1;
      } else value += text[j];
    }
    labels[name] = value;
    i = j + 1;
    if (text[i] === ',') i += 1;
    else if (text[i] !== '}') throw new Error(`${where}: expected , or } after a label`);
  }
  return [labels, text.slice(i + 1)];
}

function parseExposition(text: string): Map<string, ParsedFamily> {
  if (!text.endsWith('\n')) throw new Error('the text must end with a newline');
  const families = new Map<string, ParsedFamily>();
  const series = new Set<string>();
  let current: string | undefined;
  const family = (name: string): ParsedFamily => {
    let f = families.get(name);
    if (!f) {
      f = { type: 'untyped', help: '', samples: [] };
      families.set(name, f);
    }
    return f;
  };
  text.slice(0, -1).split('\n').forEach((line, index) => {
    const where = `line ${index + 1}`;
    const meta = /^# (HELP|TYPE) (\S+) (.*)$/.exec(line);
    if (meta) {
      const [, kind, name, rest] = meta;
      if (!NAME.test(name)) throw new Error(`${where}: bad metric name '${name}'`);
      const f = family(name);
      if (f.samples.length > 0) throw new Error(`${where}: ${kind} for ${name} after its samples`);
      if (kind === 'TYPE') {
        if (!['counter', 'gauge', 'histogram', 'summary', 'untyped'].includes(rest)) throw new Error(`${where}: bad type '${rest}'`);
        if (f.type !== 'untyped') throw new Error(`${where}: second TYPE for ${name}`);
        f.type = rest;
      } else {
        if (/\\[^\\n]/.test(rest.replace(/\\\\/g, ''))) throw new Error(`${where}: bad escape in HELP`);
        f.help = rest;
      }
      current = name;
      return;
    }
    if (line.startsWith('#') || line.trim() === '') throw new Error(`${where}: unexpected line '${line}'`);
    const m = /^([a-zA-Z_:][a-zA-Z0-9_:]*)(.*)$/.exec(line);
    if (!m) throw new Error(`${where}: bad sample '${line}'`);
    const name = m[1];
    let rest = m[2];
    let labels: Record<string, string> = {};
    if (rest.startsWith('{')) [labels, rest] = parseLabels(rest, where);
    const parts = rest.trim().split(' ');
    if (!rest.startsWith(' ') || parts.length < 1 || parts.length > 2) throw new Error(`${where}: bad sample '${line}'`);
    const value = parseValue(parts[0], where);
    // A histogram's series (_bucket, _sum, _count) belong to its family.
    const base = /^(.*)_(bucket|sum|count)$/.exec(name)?.[1];
    const owner = base !== undefined && families.get(base)?.type === 'histogram' ? base : name;
    if (owner !== name && name.endsWith('_bucket') && !('le' in labels)) throw new Error(`${where}: a bucket without le`);
    if (owner !== current) {
      if (families.get(owner)?.samples.length) throw new Error(`${where}: family ${owner} is not contiguous`);
      current = owner;
    }
    const key = `${name}${JSON.stringify(Object.entries(labels).sort())}`;
    if (series.has(key)) throw new Error(`${where}: duplicate series ${key}`);
    series.add(key);
    family(owner).samples.push({ name, labels, value });
  });
  for (const [name, f] of families) {
    if (f.type === 'untyped' || f.help === '') throw new Error(`${name}: missing TYPE or HELP`);
    if (f.type === 'counter') {
      if (!name.endsWith('_total')) throw new Error(`${name}: a counter's name ends in _total`);
      if (f.samples.some((s) => s.value < 0)) throw new Error(`${name}: negative counter`);
    }
    if (f.samples.length === 0) throw new Error(`${name}: no samples`);
    if (f.type === 'histogram') checkHistogram(name, f);
  }
  return families;
}

/** Per label set: buckets cumulative in increasing le, ending at +Inf equal to _count. */
function checkHistogram(name: string, f: ParsedFamily): void {
  const sets = new Map<string, { buckets: Array<[number, number]>; count?: number; sum?: number }>();
  for (const s of f.samples) {
    const { le, ...rest } = s.labels;
    const id = JSON.stringify(Object.entries(rest).sort());
    const set = sets.get(id) ?? { buckets: [] };
    sets.set(id, set);
    if (s.name === `${name}_bucket`) set.buckets.push([parseValue(le, name), s.value]);
    else if (s.name === `${name}_count`) set.count = s.value;
    else if (s.name === `${name}_sum`) set.sum = s.value;
    else throw new Error(`${name}: stray series ${s.name}`);
  }
  for (const [id, set] of sets) {
    const les = set.buckets.map(([le]) => le);
    if (les.at(-1) !== Infinity) throw new Error(`${name}${id}: no +Inf bucket`);
    if (les.some((le, i) => i > 0 && le <= les[i - 1])) throw new Error(`${name}${id}: le not increasing`);
    if (set.buckets.some(([, v], i) => i > 0 && v < set.buckets[i - 1][1])) throw new Error(`${name}${id}: buckets not cumulative`);
    if (set.count !== set.buckets.at(-1)?.[1] || set.sum === undefined) throw new Error(`${name}${id}: _count or _sum wrong`);
  }
}

function view(id: number, over: Partial<DeviceView> = {}): DeviceView {
  return {
    id, device: `/dev/ublkb${id}`, state: 'LIVE', sizeBytes: 1 << 30, layout: 'packed', backing: `/srv/pool "${id}"\\x`, pid: 100 + id,
    daemonAlive: true, queues: 1, depth: 128, flags: '0x42', flagNames: [], logPath: null, ...over,
  };
}

/** The histograms a daemon would report after 3 reads and 40 writes (two of them slow), 2 flushes. */
function latencyOf(): LatencySnapshot {
  const l = new RequestLatency();
  for (let i = 0; i < 3; i += 1) l.observe('read', 0.0002);
  for (let i = 0; i < 38; i += 1) l.observe('write', 0.003);
  l.observe('write', 0.7);
  l.observe('write', 30);
  l.observe('flush', 0.02);
  l.observe('flush', 0.02);
  return l.snapshot();
}

function packedReport(id: number, name: string | undefined): DeviceReport {
  const packed = buildStatsSnapshot({
    devId: id, pid: 100 + id, startedAtMs: 1_700_000_000_000, nowMs: 1_700_000_010_000, pool: '/srv/p', metaDir: '/srv/p.meta',
    dedup: 'verify', compression: 'lz4',
    engine: {
      uuid: 'u', logicalBytes: 1 << 30, segmentBytes: 1 << 20, mappedBlocks: 25_600, extents: 12_800, liveBytes: 30 << 20,
      physicalBytes: 32 << 20, readVerifyFailures: 0, compaction: { running: false, candidates: 2 },
      cache: { bytes: 3 << 20, hits: 900, misses: 100, evictions: 5, filterBytes: 1 << 20, filterNew: 40, filterReady: true, warmedRecords: 0 },
    },
    totals: { ...zeroCounters(), blocksWritten: 30_000, blocksRead: 10, dedupHits: 12_800, compressedBlocks: 12_000, rawBlocks: 800 },
    sessionBlocksRead: 10, sessionBlocksWritten: 30_000,
    requests: { reads: 3, writes: 40, flushes: 2, discards: 0, writeZeroes: 0, errors: 0 },
    poolAllocatedBytes: 33 << 20, metadataBytes: 1 << 20,
    latency: latencyOf(),
  });
  return { view: view(id), name, packed, direct: undefined, hostFs: { path: '/srv', sizeBytes: 100 * 2 ** 30, availBytes: 60 * 2 ** 30 } };
}

describe('prometheus exposition', () => {
  it('escapes label values', async () => {
    const odd: DeviceReport = { view: view(3, { layout: 'direct' }), name: 'a\\b"c\nd', packed: undefined, direct: undefined, hostFs: undefined };
    const text = await renderPrometheus([odd]);
    expect(text).toContain('name="a\\\\b\\"c\\nd"');
    expect(parseExposition(text).get('ublk_compress_device_info')!.samples[0].labels.name).toBe('a\\b"c\nd');
  });

  it('renders two packed devices and a direct one as valid, complete families', async () => {
    const direct: DeviceReport = { view: view(2, { layout: 'direct', daemonAlive: false }), name: undefined, packed: undefined, direct: undefined, hostFs: undefined };
    const text = await renderPrometheus([packedReport(0, 'data'), packedReport(1, 'backup'), direct]);
    const families = parseExposition(text);
    const info = families.get('ublk_compress_device_info')!;
    expect(info.samples.map((s) => s.labels)).toEqual([
      { device: '/dev/ublkb0', name: 'data', layout: 'packed', state: 'LIVE', backing: '/srv/pool "0"\\x' },
      { device: '/dev/ublkb1', name: 'backup', layout: 'packed', state: 'LIVE', backing: '/srv/pool "1"\\x' },
      { device: '/dev/ublkb2', name: '', layout: 'direct', state: 'LIVE', backing: '/srv/pool "2"\\x' },
    ]);
    expect(families.get('ublk_compress_daemon_up')!.samples.map((s) => s.value)).toEqual([1, 1, 0]);
    expect(families.get('ublk_compress_size_bytes')!.samples.map((s) => s.value)).toEqual([1 << 30, 1 << 30, 1 << 30]);
    expect(families.get('ublk_compress_written_bytes_total')!.samples[0].value).toBe(30_000 * 4096);
    expect(families.get('ublk_compress_written_bytes_total')!.type).toBe('counter');
    expect(families.get('ublk_compress_requests_total')!.samples.filter((s) => s.labels.device === '/dev/ublkb1').map((s) => [s.labels.op, s.value])).toEqual([
      ['read', 3], ['write', 40], ['flush', 2], ['discard', 0], ['write_zeroes', 0],
    ]);
    const ratio = families.get('ublk_compress_ratio')!.samples.find((s) => s.labels.device === '/dev/ublkb0' && s.labels.kind === 'combined');
    expect(ratio?.value).toBeCloseTo((25_600 * 4096) / (30 << 20));
    expect(families.get('ublk_compress_host_fs_avail_bytes')!.samples.map((s) => s.value)).toEqual([60 * 2 ** 30, 60 * 2 ** 30]);
    const latency = families.get('ublk_compress_request_duration_seconds')!;
    expect(latency.type).toBe('histogram');
    const writes = latency.samples.filter((s) => s.labels.device === '/dev/ublkb0' && s.labels.op === 'write');
    const bucket = (le: string): number | undefined => writes.find((s) => s.name.endsWith('_bucket') && s.labels.le === le)?.value;
    expect([bucket('0.0025'), bucket('0.005'), bucket('0.5'), bucket('1'), bucket('10'), bucket('+Inf')]).toEqual([0, 38, 38, 39, 39, 40]);
    expect(writes.find((s) => s.name.endsWith('_sum'))?.value).toBeCloseTo(38 * 0.003 + 0.7 + 30);
    expect(writes.find((s) => s.name.endsWith('_count'))?.value).toBe(40);
    expect(text).not.toMatch(/\n\n/);
    expect(await renderPrometheus([])).toBe('');
  });

  it('the parser rejects what the format forbids (it can fail)', () => {
    const bad = [
      '# HELP x_total a\n# TYPE x_total counter\nx_total -1\n',
      '# HELP x a\n# TYPE x counter\nx 1\n',
      '# HELP x a\n# TYPE x gauge\nx{a="1"} 1\nx{a="1"} 2\n',
      '# HELP x a\n# TYPE x gauge\nx{a="\\q"} 1\n',
      '# HELP x a\n# TYPE x gauge\nx 1\n# HELP y a\n# TYPE y gauge\ny 1\nx{b="2"} 1\n',
      '# HELP x a\n# TYPE x gauge\nx one\n',
      '# TYPE x gauge\nx 1\n',
      '# HELP x a\n# TYPE x gauge\nx 1',
      '# HELP h a\n# TYPE h histogram\nh_bucket{le="1"} 2\nh_bucket{le="+Inf"} 1\nh_sum 1\nh_count 1\n',
      '# HELP h a\n# TYPE h histogram\nh_bucket{le="1"} 1\nh_sum 1\nh_count 1\n',
    ];
    for (const text of bad) expect(() => parseExposition(text), text).toThrow();
  });
});

describe('stats overview table', () => {
  it('one aligned row per device: size, used, data, saved, ratio, state', () => {
    const gone: DeviceReport = { view: view(5, { state: 'QUIESCED', daemonAlive: false }), name: 'old', packed: undefined, direct: undefined, hostFs: undefined };
    const text = renderOverview([packedReport(0, 'data'), gone]);
    expect(text).toBe(
      'DEVICE       NAME  LAYOUT  STATE                   SIZE       USED        DATA  SAVED   RATIO\n' +
      '/dev/ublkb0  data  packed  LIVE                1.00 GiB  32.00 MiB  100.00 MiB    70%  3.33:1\n' +
      '/dev/ublkb5  old   packed  QUIESCED/no-daemon  1.00 GiB          -           -      -       -\n',
    );
    expect(savedPercent(0, 0)).toBe(0);
    expect(renderOverview([])).toBe('no ublk devices\n');
  });
});
