// `stats` without -n: one df/vdostats-like row per device. SIZE is the
// device's logical size, USED the pool bytes in use (whole segments, before
// the compactor reclaims), DATA what the filesystem has mapped, SAVED the
// share of DATA that needed no stored bytes, RATIO the combined ratio
// (DATA / stored bytes): SAVED = 1 - 1/RATIO.

import { formatBytes } from '../../util/units.js';
import type { DeviceReport } from '../device-reports.js';

function stateOf(r: DeviceReport): string {
  if (r.view.pid !== null && !r.view.daemonAlive) return `${r.view.state}/no-daemon`;
  return r.view.state;
}

export function savedPercent(mappedBytes: number, storedBytes: number): number {
  return mappedBytes > 0 ? Math.max(0, (1 - storedBytes / mappedBytes) * 100) : 0;
}

function row(r: DeviceReport): string[] {
  const size = r.view.sizeBytes === null ? '-' : formatBytes(r.view.sizeBytes);
  const common = [r.view.device, r.name ?? '-', r.view.layout ?? '-', stateOf(r), size];
  const s = r.packed;
  if (!s) return [...common, '-', '-', '-', '-'];
  return [
    ...common,
    formatBytes(s.poolUsedBytes),
    formatBytes(s.mappedBytes),
    `${savedPercent(s.mappedBytes, s.physicalDataBytes).toFixed(0)}%`,
    `${s.ratio.combined.toFixed(2)}:1`,
  ];
}

export function renderOverview(reports: readonly DeviceReport[]): string {
  if (reports.length === 0) return 'no ublk devices\n';
  const header = ['DEVICE', 'NAME', 'LAYOUT', 'STATE', 'SIZE', 'USED', 'DATA', 'SAVED', 'RATIO'];
  const rows = reports.map(row);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  // Text columns left, figures right, as df does.
  const line = (cells: string[]): string =>
    `${cells.map((c, i) => (i < 4 ? c.padEnd(widths[i]) : c.padStart(widths[i]))).join('  ').trimEnd()}\n`;
  return line(header) + rows.map(line).join('');
}
