// The command registry. One file per command; add new ones to COMMANDS in the
// order the top-level help lists them. Modules load only when their command
// runs (or shows its help): a CLI start costs seconds in the TCG guest, and
// `del` should not pay for the storage engine that `add --layout packed` needs.

import type { Command } from '../command.js';

export interface CommandEntry {
  readonly name: string;
  /** One line for the top-level help (the module's `summary` must match). */
  readonly summary: string;
  load(): Promise<Command>;
}

export const COMMANDS: readonly CommandEntry[] = [
  {
    name: 'add',
    summary: 'create a device on a backing file and serve it (prints /dev/ublkbN)',
    load: async () => (await import('./add.js')).addCommand,
  },
  {
    name: 'up',
    summary: 'start the device declared in /etc/ublk-compress/NAME.conf (stable name /dev/ublk-compress/NAME)',
    load: async () => (await import('./up.js')).upCommand,
  },
  {
    name: 'down',
    summary: 'stop and delete the device declared in /etc/ublk-compress/NAME.conf',
    load: async () => (await import('./down.js')).downCommand,
  },
  {
    name: 'list',
    summary: 'list ublk devices with their state, size, layout, backing and daemon',
    load: async () => (await import('./list.js')).listCommand,
  },
  {
    name: 'del',
    summary: 'stop and delete a device (or all of them); its daemon exits',
    load: async () => (await import('./del.js')).delCommand,
  },
  {
    name: 'stats',
    summary: "show a packed device's sizes, ratios, dedup hits, compactor and throughput",
    load: async () => (await import('./stats.js')).statsCommand,
  },
  {
    name: 'recover',
    summary: 're-attach a new daemon to a device whose daemon died (ublk user recovery)',
    load: async () => (await import('./recover.js')).recoverCommand,
  },
  {
    name: 'resize',
    summary: 'grow a served device online (kernel 6.16+; else del + add --size)',
    load: async () => (await import('./resize.js')).resizeCommand,
  },
  {
    name: 'compact',
    summary: 'reclaim pool space now: copy live data out of sparse segments, free them',
    load: async () => (await import('./compact.js')).compactCommand,
  },
  {
    name: 'check',
    summary: 'audit a pool offline: map, refcounts, fragments, fingerprints, segment counts',
    load: async () => (await import('./check.js')).checkCommand,
  },
  {
    name: 'estimate',
    summary: 'predict ratio, dedup share and pool size for existing data without writing anything',
    load: async () => (await import('./estimate.js')).estimateCommand,
  },
];

export function findCommand(name: string): CommandEntry | undefined {
  return COMMANDS.find((c) => c.name === name);
}
