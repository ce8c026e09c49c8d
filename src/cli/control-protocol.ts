// The control channel between the CLI and a packed device's daemon: a unix
// socket /run/ublk-compress/<id>.sock (root only) speaking newline-delimited
// JSON. The client sends one request line; the daemon answers with zero or
// more `progress` lines and then exactly one `result` or `error` line, and
// closes the connection.
//
//   {"op":"stats"}                          -> {"type":"result","stats":StatsSnapshot}
//                                              (a 1:1 device: {"type":"result","direct":DirectServeStats})
//   {"op":"compact","liveFraction":0.8}     -> {"type":"progress","done":1,"total":7,...}*
//                                              {"type":"result","compact":CompactResult}

import { join } from 'node:path';
import type { DirectServeStats } from './direct-status.js';
import type { StatsSnapshot } from './packed-stats.js';
import { runDir } from './paths.js';

export function controlSocketPath(devId: number): string {
  return join(runDir(), `${devId}.sock`);
}

export type ControlRequest = { op: 'stats' } | { op: 'compact'; liveFraction: number };

export interface CompactProgress {
  type: 'progress';
  /** Segments cleaned so far by this request. */
  done: number;
  /** Candidates when the request started (may grow as the device is written). */
  total: number;
  reclaimedBytes: number;
}

export interface CompactResult {
  segmentsCleaned: number;
  bytesMoved: number;
  reclaimedBytes: number;
  durationMs: number;
}

export type ControlReply =
  | CompactProgress
  | { type: 'result'; stats?: StatsSnapshot; direct?: DirectServeStats; compact?: CompactResult }
  | { type: 'error'; code: string; message: string };

/** Request validation on the daemon side: anything else is refused with an error line. */
export function parseControlRequest(line: string): ControlRequest {
  const v = JSON.parse(line) as Record<string, unknown>;
  if (v.op === 'stats') return { op: 'stats' };
  if (v.op === 'compact') {
    const f = v.liveFraction;
    if (typeof f !== 'number' || !(f > 0 && f <= 1)) throw new Error('compact: liveFraction must be in (0, 1]');
    return { op: 'compact', liveFraction: f };
  }
  throw new Error(`unknown request ${JSON.stringify(v.op)}`);
}
