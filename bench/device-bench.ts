// What the device benchmarks (direct.ts, packed.ts) share: their options go
// through the CLI's own parser (src/cli/args.ts: declared flags, typed and
// range-checked values, help rendered from the same table), the device
// benchmark's --mode, running the guest script, and the availability check.
import { spawn } from 'node:child_process';
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { getNumber, getString, type OptionSpec, type ParsedArgs } from '../src/cli/args.js';
import { renderOptions } from '../src/cli/help.js';
import { UBLK_CONTROL_PATH } from '../src/native/abi.js';
import { repoRoot } from './paths.js';

export type BenchMode = 'guest' | 'native';

/** --mode: in the QEMU guest, or natively where this host has ublk_drv. */
export const MODE_OPTION: OptionSpec = {
  name: 'mode',
  kind: 'string',
  valueName: 'M',
  choices: ['guest', 'native'],
  help: `guest | native (default: native when ${UBLK_CONTROL_PATH} exists)`,
};

/** An 'int' option of at least 1, e.g. --size-mb N. */
export function countOption(name: string, help: string): OptionSpec {
  return { name, kind: 'int', valueName: 'N', min: 1, help };
}

export function usageOf(specs: readonly OptionSpec[]): string {
  return `options:\n${renderOptions(specs).trimEnd()}`;
}

export function modeOf(args: ParsedArgs): BenchMode {
  return (getString(args, 'mode') as BenchMode | undefined) ?? (existsSync(UBLK_CONTROL_PATH) ? 'native' : 'guest');
}

export function countOf(args: ParsedArgs, name: string, fallback: number): number {
  return getNumber(args, name) ?? fallback;
}

/**
 * Runs the guest (or native) script and collects its output. `echo` also
 * copies both streams to our stderr as they come: progress of a long run.
 */
export function run(
  cmd: string,
  args: string[],
  env: NodeJS.ProcessEnv,
  opts: { echo?: boolean } = {},
): Promise<{ code: number; stdout: string; stderr: string }> {
  return new Promise((resolve, reject) => {
    const child = spawn(cmd, args, { cwd: repoRoot(), env, stdio: ['ignore', 'pipe', 'pipe'] });
    let stdout = '';
    let stderr = '';
    const echo = (b: Buffer): void => {
      if (opts.echo === true) process.stderr.write(b);
    };
    child.stdout.on('data', (b: Buffer) => {
      stdout += String(b);
      echo(b);
    });
    child.stderr.on('data', (b: Buffer) => {
      stderr += String(b);
      echo(b);
    });
    child.on('error', reject);
    child.on('close', (code) => resolve({ code: code ?? 1, stdout, stderr }));
  });
}

/** Why a device benchmark cannot run here, or undefined when it can. */
export async function deviceBenchUnavailable(): Promise<string | undefined> {
  if (process.getuid?.() !== 0) return 'needs root (ublk devices, or virtiofsd for the guest)';
  if (!existsSync(UBLK_CONTROL_PATH) && !existsSync(join(repoRoot(), 'test/vm/vm-run'))) {
    return 'no ublk_drv here and no guest harness';
  }
  return undefined;
}
