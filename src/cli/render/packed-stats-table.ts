// The human table of a packed device's `stats` snapshot (the daemon builds the
// snapshot, server/targets/packed-stats.ts; the CLI renders it).
import type { StatsSnapshot } from '../../server/targets/packed-stats.js';
import type { SectionStats } from '../../engine/index.js';
import { formatBytes } from '../../util/units.js';

function fmtRatio(x: number): string {
  return `${x.toFixed(2)}:1`;
}

function fmtDuration(sec: number): string {
  const s = Math.floor(sec);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  return h > 0 ? `${h}h${String(m).padStart(2, '0')}m` : m > 0 ? `${m}m${String(s % 60).padStart(2, '0')}s` : `${sec.toFixed(1)}s`;
}

function cacheText(c: StatsSnapshot['metadataCache']): string {
  return `${formatBytes(c.bytes)} + filter ${formatBytes(c.filterBytes)}, ${c.hits} hits, ${c.misses} misses, ` +
    `${c.evictions} evicted, ${c.warmedRecords} warmed at start, ${c.filterNew} certainly new${c.filterReady ? '' : ' (filter loading)'} (since start)`;
}

function nativeReadText(n: NonNullable<StatsSnapshot['nativeRead']>): string {
  if (n.path === 'js') return 'off (every read through the engine in JS)';
  const how = n.poolReads === 'inline' ? ', pool read inline' : n.poolReads === 'ring' ? ', pool read on the ring' : '';
  return `${n.requests} requests (${n.blocks} blocks) native${how}, ${n.toJs} to JS (${n.misses} misses, ` +
    `${n.ioFailures} I/O, ${n.verifyFailures} verify) (since start)`;
}

/** Two aligned columns: label, value. */
export function renderStatsTable(s: StatsSnapshot): string {
  const rows: Array<[string, string]> = [
    ['device', `${s.device} (packed, dedup ${s.dedup}, compress ${s.compression})`],
    ['pool', s.pool],
    ['metadata dir', s.metaDir],
    ['daemon', `pid ${s.pid}, up ${fmtDuration(s.uptimeSec)}`],
    ['ublk flags', s.ublkFlags.length > 0 ? s.ublkFlags.join(' ') : '-'],
    ['logical size', formatBytes(s.logicalBytes)],
    ['mapped data', formatBytes(s.mappedBytes)],
    ['bytes written', formatBytes(s.bytesWritten)],
    ['bytes read', formatBytes(s.bytesRead)],
    ['physical data', formatBytes(s.physicalDataBytes)],
    ['pool in use', `${formatBytes(s.poolUsedBytes)} (allocated on disk ${formatBytes(s.poolAllocatedBytes)})`],
    ['metadata', formatBytes(s.metadataBytes)],
    ['ratio compression', fmtRatio(s.ratio.compression)],
    ['ratio dedup', fmtRatio(s.ratio.dedup)],
    ['ratio same-fill', fmtRatio(s.ratio.sameFill)],
    ['ratio combined', fmtRatio(s.ratio.combined)],
    ['dedup hits', String(s.dedupHits)],
    ['same-fill blocks', String(s.sameFillBlocks)],
    ['extents', String(s.extents)],
    ['read verify failures', `${s.readVerifyFailures} (since start)`],
    [
      'compactor',
      `${s.compactor.state}, ${s.compactor.candidates} candidate segments, ${s.compactor.segmentsCleaned} cleaned, ` +
        `${formatBytes(s.compactor.reclaimedBytes)} reclaimed`,
    ],
    ['metadata cache', cacheText(s.metadataCache)],
    ...(s.nativeRead ? [['native reads', nativeReadText(s.nativeRead)] as [string, string]] : []),
    ...(s.nativeAppliedBlocks !== undefined ? [['native apply', `${s.nativeAppliedBlocks} blocks written (since start)`] as [string, string]] : []),
    ...(s.nativeWrittenBlocks !== undefined ? [['native writes', nativeWritesText(s)] as [string, string]] : []),
    ...(s.engineMutex ? [['engine mutex', mutexText(s.engineMutex)] as [string, string]] : []),
    ['IOPS', `${s.session.iops.toFixed(0)} (since start)`],
    ['MB/s', `read ${s.session.readMBps.toFixed(1)}, write ${s.session.writeMBps.toFixed(1)} (since start)`],
  ];
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('');
}

/** One-block writes the addon served, and why the rest went to JavaScript. */
function nativeWritesText(s: StatsSnapshot): string {
  const d = s.nativeWriteDeclines;
  if (d === undefined) return `${s.nativeWrittenBlocks} blocks (since start)`;
  const reasons = (['closed', 'journal', 'fill', 'filter', 'dup', 'plan', 'record'] as const).filter((k) => d[k] > 0).map((k) => `${k} ${d[k]}`);
  return `${s.nativeWrittenBlocks} blocks; to JavaScript: ${reasons.length > 0 ? reasons.join(', ') : 'none'}; ` +
    `gate shut ${d.gateClosures} times, ${fmtDuration(d.gateClosedMs / 1000)} (since start)`;
}

/** What held the engine mutex, longest first. */
function mutexText(m: SectionStats): string {
  const kinds = Object.entries(m).sort((a, b) => b[1].heldMs - a[1].heldMs);
  if (kinds.length === 0) return 'idle (since start)';
  return kinds.map(([k, v]) => `${k} ${v.sections}x ${v.heldMs} ms (max ${v.maxMs})`).join(', ') + ' (since start)';
}
