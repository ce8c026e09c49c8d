// The shape every subcommand has. Commands live one per file in
// src/cli/commands/ and are listed in src/cli/commands/index.ts, so new ones
// (check, stats, recover, compact) plug in without touching the others.

import type { OptionSpec, ParsedArgs } from './args.js';
import type { CliIo } from './io.js';

export interface Command {
  readonly name: string;
  /** One line for the top-level help. */
  readonly summary: string;
  /** Synopsis after `ublk-compress `, e.g. 'del -n ID | --all'. */
  readonly usage: string;
  /** Paragraphs shown by `<command> --help` under the synopsis. */
  readonly description?: string;
  readonly options: readonly OptionSpec[];
  /** Stray words accepted after the flags (default 0). */
  readonly maxPositionals?: number;
  /** Runs the command; resolves to the exit status. Errors become one line + status. */
  run(args: ParsedArgs, io: CliIo): Promise<number>;
}

/** The flag every command and the top level accept. */
export const HELP_OPTION: OptionSpec = {
  name: 'help',
  short: 'h',
  kind: 'boolean',
  help: 'show this help and exit',
};
