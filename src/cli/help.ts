// Help text rendering: derived from the same OptionSpec tables the parser
// uses, so help can never list a flag the parser rejects or miss one it takes.

import type { OptionSpec } from './args.js';
import type { Command } from './command.js';
import { EXIT_CODE_TABLE } from './exit-codes.js';

function optionLabel(spec: OptionSpec): string {
  const value = spec.kind === 'boolean' ? '' : ` ${spec.valueName ?? spec.kind.toUpperCase()}`;
  const short = spec.short ? `-${spec.short}, ` : '    ';
  return `${short}--${spec.name}${value}`;
}

export function renderOptions(specs: readonly OptionSpec[]): string {
  const shown = specs.filter((s) => !s.hidden);
  const width = Math.max(...shown.map((s) => optionLabel(s).length));
  return shown.map((s) => `  ${optionLabel(s).padEnd(width)}  ${s.help}\n`).join('');
}

export function renderCommandHelp(cmd: Command): string {
  let text = `Usage: ublk-compress ${cmd.usage}\n\n${cmd.summary}\n`;
  if (cmd.description) text += `\n${cmd.description.trimEnd()}\n`;
  text += `\nOptions:\n${renderOptions(cmd.options)}`;
  return text;
}

export function renderTopHelp(
  commands: ReadonlyArray<Pick<Command, 'name' | 'summary'>>,
  topOptions: readonly OptionSpec[]): string {
  const width = Math.max(...commands.map((c) => c.name.length));
  const lines = commands.map((c) => `  ${c.name.padEnd(width)}  ${c.summary}\n`).join('');
  const exits = EXIT_CODE_TABLE.map(([code, meaning]) => `  ${String(code).padStart(2)}  ${meaning}\n`).join('');
  return (
    'Usage: ublk-compress <command> [options]\n\n' +
    'A block device that stores 4 KiB blocks compressed and deduplicated, served\n' +
    'from user space through ublk. Needs root and the ublk_drv kernel module.\n\n' +
    `Commands:\n${lines}\n` +
    `Options:\n${renderOptions(topOptions)}\n` +
    "Run 'ublk-compress <command> --help' for a command's options.\n\n" +
    `Exit status:\n${exits}`
  );
}
