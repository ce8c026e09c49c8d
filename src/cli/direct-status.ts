// What a 1:1 device's daemon reports about its I/O (`stats -n ID` and the
// `list` columns), rendered: which request path serves it (the addon's
// native path or the JS target), how the native path reaches the backing
// file (O_DIRECT or buffered), and per-path request counts. The daemon's
// side: src/server/targets/direct-native.ts.

import { formatBytes } from '../util/units.js';
import { controlCall } from './control-client.js';
import type { DirectServeStats } from '../server/targets/direct-native.js';

export type { DirectServeStats };

/** One word for `list`: the path that serves ordinary reads and writes. */
export function ioPathLabel(s: DirectServeStats): string {
  if (s.requestPath === 'js') return 'js-buffered';
  if (s.backingIo === 'memory file, inline copy') return 'memory';
  if (s.backingIo === 'direct-mapped') return 'direct-mapped';
  return s.backingIo === 'O_DIRECT file' ? 'odirect' : 'buffered';
}

export function renderDirectStats(s: DirectServeStats): string {
  const n = s.native;
  const j = s.js;
  const rows: Array<[string, string]> = [
    ['request path', s.requestPath === 'native' ? `native, ${s.backingIo}` : 'JS (UBLK_DIRECT_PATH=js), buffered file'],
    ['native reads / writes', `${n.reads} / ${n.writes} (${n.readBytes} / ${n.writeBytes} bytes)`],
    ['  direct-mapped (raw device)', `${n.rawReads} / ${n.rawWrites}`],
    ['  through the file', `${n.reads - n.rawReads} / ${n.writes - n.rawWrites}`],
    ['  zero copy (request pages)', s.zeroCopy ? `${n.zeroCopyReads} / ${n.zeroCopyWrites}` : 'off'],
    ['native flushes / discards / write-zeroes', `${n.flushes} / ${n.discards} / ${n.writeZeroes}`],
    ['native errors / handed to JS', `${n.errors} / ${n.toJs}`],
    ...(s.zeroCopy ? ([['user copies (JS-served data)', `${n.userCopies}`]] as Array<[string, string]>) : []),
    ['JS reads / writes', `${j.reads} / ${j.writes}`],
    ['JS flushes / discards / write-zeroes', `${j.flushes} / ${j.discards} / ${j.writeZeroes}`],
    ['JS errors', `${j.errors}`],
  ];
  const m = s.mapping;
  if (m?.device !== undefined) rows.splice(1, 0, ['raw device', m.device]);
  if (m?.reason !== undefined) rows.splice(1, 0, ['no direct mapping', m.reason]);
  if (m?.map !== undefined) {
    rows.push(['mapped extents / bytes', `${m.map.extents} / ${m.map.mappedBytes}`]);
    rows.push(['map refreshes / drops / parked punches', `${m.map.refreshes} / ${m.map.drops} / ${m.map.parked}`]);
  }
  if (s.sizeBytes !== undefined) rows.unshift(['size', formatBytes(s.sizeBytes)]);
  const width = Math.max(...rows.map(([k]) => k.length));
  return rows.map(([k, v]) => `${k.padEnd(width)}  ${v}\n`).join('');
}

/** The running daemon's report, or undefined when it cannot be asked (gone, older version, busy). */
export async function queryDirectStats(devId: number, timeoutMs: number): Promise<DirectServeStats | undefined> {
  try {
    return (await controlCall(devId, { op: 'stats' }, { timeoutMs })).direct;
  } catch {
    return undefined;
  }
}
