// What a 1:1 device's daemon reports about its I/O (`stats -n ID` and the
// `list` columns): which request path serves it (the addon's native path or
// the JS target), how the native path reaches the backing file (O_DIRECT or
// buffered), and per-path request counts.

import type { DirectPathStats } from '../native/index.js';
import { controlCall } from './control-client.js';
import type { DispatchStats } from '../device/queue-dispatch.js';

export type DirectRequestPath = 'native' | 'js';
export type BackingIo = 'O_DIRECT file' | 'buffered file' | 'memory file, inline copy';

export interface DirectServeStats {
  requestPath: DirectRequestPath;
  /** How the native path reaches the backing (the JS path always uses a buffered descriptor). */
  backingIo: BackingIo;
  /** Requests completed by the native path, by kind (zeros on the JS path). */
  native: DirectPathStats;
  /** Requests the JS target served (all of them on the JS path; the unusual ones otherwise). */
  js: DispatchStats;
}

/** One word for `list`: the path that serves ordinary reads and writes. */
export function ioPathLabel(s: DirectServeStats): string {
  if (s.requestPath === 'js') return 'js-buffered';
  if (s.backingIo === 'memory file, inline copy') return 'memory';
  return s.backingIo === 'O_DIRECT file' ? 'odirect' : 'buffered';
}

export function renderDirectStats(s: DirectServeStats): string {
  const n = s.native;
  const j = s.js;
  const rows: Array<[string, string]> = [
    ['request path', s.requestPath === 'native' ? `native, ${s.backingIo}` : 'JS (UBLK_DIRECT_PATH=js), buffered file'],
    ['native reads / writes', `${n.reads} / ${n.writes} (${n.readBytes} / ${n.writeBytes} bytes)`],
    ['native flushes / discards / write-zeroes', `${n.flushes} / ${n.discards} / ${n.writeZeroes}`],
    ['native errors / handed to JS', `${n.errors} / ${n.toJs}`],
    ['JS reads / writes', `${j.reads} / ${j.writes}`],
    ['JS flushes / discards / write-zeroes', `${j.flushes} / ${j.discards} / ${j.writeZeroes}`],
    ['JS errors', `${j.errors}`],
  ];
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
