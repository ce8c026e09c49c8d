// `npm run bench -- <name> [args]`: runs one benchmark module; without a name,
// the report (bench/suite): bench/report/README.md, report.json, SVG charts.
import type { BenchModule } from './module.js';
import { BENCH_MODULES } from './registry.js';

function usage(): string {
  return [
    'usage: npm run bench -- [<name> [options]]',
    '',
    'Without a name, runs the report (`suite`: packed and 1:1 vs zram, dm-vdo, loop, brd)',
    'and writes bench/report/ (README.md, report.json, SVG charts); `--quick` for a smoke run.',
    '`<name> --help` lists the options of one benchmark.',
    '',
    'benchmarks:',
    ...Object.keys(BENCH_MODULES).map((n) => `  ${n}`),
  ].join('\n');
}

/** The report (`suite`) with its options: what `npm run bench` runs without a name. */
async function runReport(args: string[]): Promise<number> {
  const mod = await (BENCH_MODULES.suite as () => Promise<BenchModule>)();
  const reason = await mod.unavailableReason();
  if (reason !== undefined) {
    process.stderr.write(`bench: cannot run here: ${reason}\n`);
    return 1;
  }
  const outcome = await mod.run(args);
  process.stdout.write(`${outcome.headline.join('\n')}\n\nwritten: ${outcome.reportFiles.join(', ')}\n`);
  return 0;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined || (name.startsWith('--') && name !== '--help')) return runReport(argv);
  if (name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(usage() + '\n');
    return 0;
  }
  const load = BENCH_MODULES[name];
  if (load === undefined) {
    process.stderr.write(`unknown benchmark '${name}'\n\n${usage()}\n`);
    return 2;
  }
  const mod = await load();
  if (rest.includes('--help') || rest.includes('-h')) {
    process.stdout.write(`${name}: ${mod.summary}\n\n${mod.usage}\n`);
    return 0;
  }
  const reason = await mod.unavailableReason();
  if (reason !== undefined) {
    process.stderr.write(`bench ${name}: cannot run here: ${reason}\n`);
    return 1;
  }
  await mod.run(rest);
  return 0;
}

main(process.argv.slice(2)).then(
  (code) => {
    process.exitCode = code;
  },
  (err: unknown) => {
    process.stderr.write(`${(err as Error)?.stack ?? String(err)}\n`);
    process.exitCode = 1;
  },
);
