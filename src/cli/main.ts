// Entry point of the `ublk-compress` command: top-level flags, dispatch to a
// subcommand, and the one place errors become `ublk-compress: <message>` plus
// an exit status (see exit-codes.ts).

import { parseArgs, type OptionSpec } from './args.js';
import { HELP_OPTION } from './command.js';
import { COMMANDS, findCommand } from './commands/index.js';
import { EXIT_OK, EXIT_USAGE, exitCodeOf } from './exit-codes.js';
import { renderCommandHelp, renderTopHelp } from './help.js';
import { formatError } from './format-error.js';
import { toUserError } from '../server/user-error.js';
import { processIo, type CliIo } from './io.js';
import { packageVersion } from '../server/version.js';

export const TOP_OPTIONS: readonly OptionSpec[] = [
  HELP_OPTION,
  { name: 'version', short: 'V', kind: 'boolean', help: 'print the version and exit' },
];

export async function main(argv: readonly string[], io: CliIo = processIo): Promise<number> {
  try {
    const first = argv[0];
    if (first === undefined || first.startsWith('-')) {
      const args = parseArgs(argv, TOP_OPTIONS);
      if (args.values.get('version')) {
        io.out(`ublk-compress ${packageVersion()}\n`);
        return EXIT_OK;
      }
      if (args.values.get('help')) {
        io.out(renderTopHelp(COMMANDS, TOP_OPTIONS));
        return EXIT_OK;
      }
      io.err(formatError(new Error("missing command (try 'ublk-compress --help')")));
      return EXIT_USAGE;
    }
    const entry = findCommand(first);
    if (!entry) {
      io.err(formatError(new Error(`unknown command '${first}' (try 'ublk-compress --help')`)));
      return EXIT_USAGE;
    }
    const cmd = await entry.load();
    const rest = argv.slice(1);
    // --help wins over every other error on the line, so `add --bogus -h` still helps.
    if (rest.includes('--help') || rest.includes('-h')) {
      io.out(renderCommandHelp(cmd));
      return EXIT_OK;
    }
    const args = parseArgs(rest, cmd.options, cmd.maxPositionals ?? 0);
    return await cmd.run(args, io);
  } catch (err) {
    // Never a raw assertion, RangeError or LevelDB code: one line and its status.
    const uc = toUserError(err);
    io.err(formatError(uc));
    return exitCodeOf(uc);
  }
}
