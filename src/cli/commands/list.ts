// `list`: every ublk device with its state, size, layout, backing and daemon.

import { getFlag, type ParsedArgs } from '../args.js';
import { HELP_OPTION, type Command } from '../command.js';
import { describeDevice, listDeviceIds, openControl, type DeviceView } from '../devices.js';
import { EXIT_OK } from '../exit-codes.js';
import type { CliIo } from '../io.js';
import { formatBytes } from '../../util/units.js';
import { ioPathLabel, queryDirectStats, type DirectServeStats } from '../direct-status.js';

/** A device as listed: 1:1 devices add the path serving their I/O (see direct-status.ts). */
export type ListedDevice = DeviceView & { ioPath?: string; requests?: DirectServeStats };

export function renderTable(views: readonly ListedDevice[]): string {
  const header = ['ID', 'DEVICE', 'STATE', 'SIZE', 'LAYOUT', 'PID', 'BACKING'];
  const rows = views.map((v) => [
    String(v.id),
    v.device,
    v.state,
    v.sizeBytes === null ? '-' : formatBytes(v.sizeBytes),
    v.ioPath ? `${v.layout ?? '-'}/${v.ioPath}` : (v.layout ?? '-'),
    v.pid === null ? '-' : `${v.pid}${v.daemonAlive ? '' : ' (gone)'}`,
    v.backing ?? '-',
  ]);
  const widths = header.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  const line = (cells: string[]): string => `${cells.map((c, i) => c.padEnd(widths[i])).join('  ').trimEnd()}\n`;
  return line(header) + rows.map(line).join('');
}

async function withIoPath(view: DeviceView): Promise<ListedDevice> {
  if (view.layout !== 'direct' || !view.daemonAlive) return view;
  const requests = await queryDirectStats(view.id, 2000);
  return requests ? { ...view, ioPath: ioPathLabel(requests), requests } : view;
}

export const listCommand: Command = {
  name: 'list',
  summary: 'list ublk devices with their state, size, layout, backing and daemon',
  usage: 'list [--json]',
  options: [HELP_OPTION, { name: 'json', kind: 'boolean', help: 'print a JSON array instead of a table' }],
  async run(args: ParsedArgs, io: CliIo): Promise<number> {
    const control = openControl();
    const views: ListedDevice[] = [];
    try {
      for (const id of listDeviceIds()) {
        const view = await describeDevice(control, id);
        if (view) views.push(await withIoPath(view));
      }
    } finally {
      control.close();
    }
    if (getFlag(args, 'json')) io.out(`${JSON.stringify(views, null, 2)}\n`);
    else if (views.length === 0) io.out('no ublk devices\n');
    else io.out(renderTable(views));
    return EXIT_OK;
  },
};
