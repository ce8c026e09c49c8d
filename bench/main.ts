// `npm run bench -- <name> [args]`: runs one benchmark module; without a name,
// every module this machine can run, then writes bench/report/README.md.
import { mkdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { benchReportDir } from './paths.js';
import { BENCH_MODULES } from './registry.js';

function usage(): string {
  return [
    'usage: npm run bench -- [<name> [options]]',
    '',
    'Without a name, runs every benchmark this machine can run with default options',
    'and writes bench/report/ (markdown, JSON, SVG). `<name> --help` lists its options.',
    '',
    'benchmarks:',
    ...Object.keys(BENCH_MODULES).map((n) => `  ${n}`),
  ].join('\n');
}

async function runAll(): Promise<number> {
  const lines = ['# ublk-compress benchmark report', '', `Run: ${new Date().toISOString()}`, ''];
  let failures = 0;
  for (const [name, load] of Object.entries(BENCH_MODULES)) {
    const mod = await load();
    const reason = await mod.unavailableReason();
    if (reason !== undefined) {
      process.stderr.write(`bench ${name}: skipped: ${reason}\n`);
      lines.push(`## ${name}`, '', `Skipped on this machine: ${reason}`, '');
      continue;
    }
    process.stderr.write(`bench ${name}: running\n`);
    try {
      const outcome = await mod.run([]);
      lines.push(`## ${name}`, '', ...outcome.headline.map((h) => `- ${h}`), '');
      lines.push(...outcome.reportFiles.map((f) => `- [${f}](${f.replace(/^bench\/report\//, '')})`), '');
    } catch (err) {
      failures += 1;
      process.stderr.write(`bench ${name}: failed: ${(err as Error).stack ?? String(err)}\n`);
      lines.push(`## ${name}`, '', `Failed: ${(err as Error).message}`, '');
    }
  }
  mkdirSync(benchReportDir(), { recursive: true });
  writeFileSync(join(benchReportDir(), 'README.md'), lines.join('\n'));
  return failures === 0 ? 0 : 1;
}

async function main(argv: string[]): Promise<number> {
  const [name, ...rest] = argv;
  if (name === undefined) return runAll();
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
