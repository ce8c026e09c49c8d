// The command registry. One file per command; add new ones (check, stats,
// recover, compact) to COMMANDS in the order the top-level help lists them.

import type { Command } from '../command.js';
import { addCommand } from './add.js';
import { checkCommand } from './check.js';
import { delCommand } from './del.js';
import { listCommand } from './list.js';
import { compactCommand } from './compact.js';
import { recoverCommand } from './recover.js';
import { statsCommand } from './stats.js';

export const COMMANDS: readonly Command[] = [addCommand, listCommand, delCommand, statsCommand, recoverCommand, compactCommand, checkCommand];

export function findCommand(name: string): Command | undefined {
  return COMMANDS.find((c) => c.name === name);
}
