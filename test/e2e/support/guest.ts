/**
 * Runs e2e test scripts where a real ublk kernel driver exists: natively when
 * this host has ublk_drv, otherwise in the QEMU guest of test/vm/vm-run.
 *
 * API (all named exports):
 * - `runInGuest(script, { timeoutSec, memMiB?, cpus?, modules?, env?, cwd?, mode?, kernel? })`
 *   runs `script` with bash as root, in `cwd` (default: the repository root)
 *   with this process's environment plus `env` (and VM_RUN=1 in the guest),
 *   and resolves `{ code, stdout, stderr, timedOut, durationMs }`. ublk_drv is
 *   always loaded; `modules` adds more (modprobe names: 'zram', 'loop', ...).
 *   `code` is the script's exit status, 124 when `timeoutSec` ran out. When
 *   the harness itself fails (vm-run exit 125 with a `vm-run: reason` line),
 *   the promise REJECTS with that reason, so a test cannot pass on a guest
 *   that never ran. In the guest, /tmp is a fresh tmpfs and the rest of the
 *   file system is the host's (writes land on the host at once).
 *   Every run logs its wall time and the script's "[N s] step" stderr lines.
 * - `hasNativeUblk()`: true when /dev/ublk-control exists or `modprobe
 *   ublk_drv` creates it; then `runInGuest` runs scripts natively (no QEMU).
 * - `ublkMode()`: 'native' | 'guest'. UBLK_E2E_MODE=native|guest forces it.
 * - `skipGuest`: true only when UBLK_SKIP_GUEST=1. Use it as
 *   `describe.skipIf(skipGuest)('... guest ...', ...)`; nothing else skips.
 * - `guestRequired(mode?, kernel?)`: call in `beforeAll` (timeout GUEST_PREPARE_TIMEOUT_MS).
 *   Checks the harness can run (root, QEMU, virtiofsd, the cached kernel,
 *   fetched on first use) and THROWS with the reason when it cannot, so the
 *   test fails instead of silently skipping. Resolves the mode in use.
 * - `kernel`: the guest kernel of the matrix (test/vm/prepare.sh): 'lts'
 *   (bookworm-backports 6.12, the default) or 'new' (the newest
 *   trixie-backports cloud kernel). Ignored natively.
 * - `guestTestTimeoutMs(timeoutSec)`: a vitest timeout covering one run.
 * - `shQuote(s)`: quotes a string for a bash script.
 * - `REPO_ROOT`, `VM_RUN`: absolute paths of the repository and vm-run.
 *
 * Example:
 *   describe.skipIf(skipGuest)('direct device guest e2e', () => {
 *     beforeAll(() => guestRequired(), GUEST_PREPARE_TIMEOUT_MS);
 *     it('mkfs + mount', async () => {
 *       const r = await runInGuest('set -e; node bin/ublk-compress.js add ...', { timeoutSec: 120 });
 *       expect(r.code, r.stderr).toBe(0);
 *     }, guestTestTimeoutMs(120));
 *   });
 */
import { spawn, spawnSync } from 'node:child_process';
import { accessSync, constants, existsSync } from 'node:fs';
import { constants as osConstants } from 'node:os';
import { dirname, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import assert from 'node:assert';

export const REPO_ROOT = resolve(dirname(fileURLToPath(import.meta.url)), '../../..');
export const VM_RUN = resolve(REPO_ROOT, 'test/vm/vm-run');
const PREPARE = resolve(REPO_ROOT, 'test/vm/prepare.sh');

/** Exit status for a run that hit its timeout (as coreutils timeout). */
export const TIMEOUT_CODE = 124;
/** Exit status vm-run uses when the harness itself failed. */
export const HARNESS_FAILURE_CODE = 125;
/** First use downloads the ~34 MB kernel .deb and builds the cache. */
export const GUEST_PREPARE_TIMEOUT_MS = 300_000;
/** Slack on top of a run's own timeout: vm-run kills QEMU itself at timeoutSec. */
const KILL_SLACK_SEC = 30;

export type UblkMode = 'native' | 'guest';
/** The guest kernel matrix: see test/vm/prepare.sh. */
export type GuestKernel = 'lts' | 'new';

export interface GuestRunOptions {
  /** Whole-run bound in seconds (boot included); past it the result is 124. */
  timeoutSec: number;
  /** Guest RAM (default 2048). Ignored natively. */
  memMiB?: number;
  /** Guest vCPUs (default 2). Ignored natively. */
  cpus?: number;
  /** Kernel modules to load besides ublk_drv, e.g. ['zram', 'loop']. */
  modules?: readonly string[];
  /** Extra environment variables, on top of this process's environment. */
  env?: Readonly<Record<string, string>>;
  /** Working directory (default REPO_ROOT). Under /tmp it keeps the host's /tmp. */
  cwd?: string;
  /** Force where the script runs (default ublkMode()). */
  mode?: UblkMode;
  /** Guest kernel (default 'lts'). Ignored natively. */
  kernel?: GuestKernel;
}

export interface GuestResult {
  code: number;
  stdout: string;
  stderr: string;
  /** True when the run was stopped at timeoutSec (code 124). */
  timedOut: boolean;
  durationMs: number;
}

export const skipGuest: boolean = process.env.UBLK_SKIP_GUEST === '1';

let nativeCached: boolean | undefined;

/** True when this host's own kernel can serve ublk (tests then run natively). */
export function hasNativeUblk(): boolean {
  if (nativeCached !== undefined) return nativeCached;
  if (!existsSync('/dev/ublk-control')) {
    spawnSync('modprobe', ['ublk_drv'], { stdio: 'ignore', timeout: 10_000 });
  }
  nativeCached = existsSync('/dev/ublk-control');
  return nativeCached;
}

/** Where ublk tests run: UBLK_E2E_MODE overrides the automatic choice. */
export function ublkMode(): UblkMode {
  const forced = process.env.UBLK_E2E_MODE;
  if (forced === 'native' || forced === 'guest') return forced;
  assert(forced === undefined || forced === '', `UBLK_E2E_MODE must be native or guest, got ${forced}`);
  return hasNativeUblk() ? 'native' : 'guest';
}

/** A vitest timeout for one runInGuest call with this timeoutSec. */
export function guestTestTimeoutMs(timeoutSec: number): number {
  return (timeoutSec + KILL_SLACK_SEC + 15) * 1000;
}

export function shQuote(s: string): string {
  return `'${s.replace(/'/g, `'\\''`)}'`;
}

/**
 * Throws (with the reason) when ublk tests cannot run here. Prepares the
 * guest cache on first use. Tests call it in beforeAll; they never skip on it.
 */
export async function guestRequired(mode: UblkMode = ublkMode(), kernel: GuestKernel = 'lts'): Promise<UblkMode> {
  if (mode === 'native') {
    if (!existsSync('/dev/ublk-control')) throw new Error('guest required: native mode but no /dev/ublk-control');
    return mode;
  }
  if (process.getuid?.() !== 0) throw new Error('guest required: vm-run must run as root (virtiofsd)');
  const which = spawnSync('bash', ['-c', 'command -v qemu-system-x86_64'], { encoding: 'utf8' });
  if (which.status !== 0) {
    throw new Error('guest required: qemu-system-x86_64 missing (Debian qemu-system-x86; run scripts/setup.sh)');
  }
  try {
    accessSync(VM_RUN, constants.X_OK);
  } catch {
    throw new Error(`guest required: ${VM_RUN} is not executable`);
  }
  const prep = await runProcess('bash', [PREPARE, '--kernel', kernel], { cwd: REPO_ROOT, env: process.env, timeoutSec: 280 });
  if (prep.code !== 0) {
    const reason = lastLine(prep.stderr) || `prepare.sh exited ${prep.code}`;
    throw new Error(`guest required: cannot prepare the ${kernel} guest kernel: ${reason}`);
  }
  return mode;
}

/** Runs a bash script where ublk exists; see the file comment for the contract. */
export async function runInGuest(script: string, opts: GuestRunOptions): Promise<GuestResult> {
  assert(Number.isInteger(opts.timeoutSec) && opts.timeoutSec > 0, 'timeoutSec must be a positive integer');
  const cwd = opts.cwd ?? REPO_ROOT;
  const env: NodeJS.ProcessEnv = { ...process.env, ...opts.env };
  const modules = opts.modules ?? [];
  for (const m of modules) assert(/^[A-Za-z0-9_-]+$/.test(m), `bad module name ${m}`);

  let r: GuestResult;
  if ((opts.mode ?? ublkMode()) === 'native') {
    // Same contract as vm-run: a module that will not load is a harness failure.
    const load = ['ublk_drv', ...modules]
      .map((m) => `modprobe ${m} || { echo "vm-run: modprobe ${m} failed natively" >&2; exit 125; }`)
      .join('\n');
    r = await runProcess('bash', ['-c', `${load}\n${script}`], {
      cwd, env, timeoutSec: opts.timeoutSec, killGroup: true,
    });
  } else {
    const args = ['--kernel', opts.kernel ?? 'lts', '--timeout', String(opts.timeoutSec)];
    if (opts.memMiB !== undefined) args.push('--mem', String(opts.memMiB));
    if (opts.cpus !== undefined) args.push('--cpus', String(opts.cpus));
    if (modules.length > 0) args.push('--modules', modules.join(','));
    args.push('--', script);
    r = await runProcess(VM_RUN, args, { cwd, env, timeoutSec: opts.timeoutSec + KILL_SLACK_SEC });
  }
  const harnessLine = r.stderr.split('\n').reverse().find((l) => l.startsWith('vm-run: '));
  if (r.code === HARNESS_FAILURE_CODE && harnessLine !== undefined) {
    // A guest panic comes with its oops (vm-run-console: lines): keep it in the failure.
    const oops = r.stderr.split('\n').filter((l) => l.startsWith('vm-run-console: '));
    throw new Error(`guest harness failed: ${harnessLine}${oops.length > 0 ? `\n${oops.join('\n')}` : ''}`);
  }
  const timedOut = r.timedOut || (r.code === TIMEOUT_CODE && harnessLine?.startsWith('vm-run: timed out') === true);
  logStepTimes(script, r);
  return { ...r, timedOut };
}

/**
 * Prints the "[N s] step" lines the scripts' ok() writes to stderr, with the
 * whole run's wall time: the test log then shows where a guest run's time
 * went (the test time budget is spent there).
 */
function logStepTimes(script: string, r: { stderr: string; durationMs: number }): void {
  const steps = r.stderr.split('\n').filter((l) => /^\[\d+ s\] /.test(l));
  const name = script.length <= 80 && !script.includes('\n') ? script : `${script.split('\n')[0].slice(0, 60)} ...`;
  console.log(`${name}: ${(r.durationMs / 1000).toFixed(0)} s in all${steps.length > 0 ? `\n  ${steps.join('\n  ')}` : ''}`);
}

interface ProcessOptions {
  cwd: string;
  env: NodeJS.ProcessEnv;
  timeoutSec: number;
  /** Kill the whole process group on timeout (native runs). */
  killGroup?: boolean;
}

/** Spawns, collects output, and bounds the run: SIGTERM at the timeout, SIGKILL 10 s later. */
function runProcess(cmd: string, args: string[], o: ProcessOptions): Promise<GuestResult> {
  const started = Date.now();
  const verbose = process.env.UBLK_GUEST_VERBOSE === '1';
  return new Promise((resolvePromise, reject) => {
    const child = spawn(cmd, args, {
      cwd: o.cwd, env: o.env, stdio: ['ignore', 'pipe', 'pipe'], detached: o.killGroup === true,
    });
    const out: Buffer[] = [];
    const err: Buffer[] = [];
    child.stdout.on('data', (b: Buffer) => { out.push(b); if (verbose) process.stderr.write(b); });
    child.stderr.on('data', (b: Buffer) => { err.push(b); if (verbose) process.stderr.write(b); });
    let timedOut = false;
    const signal = (sig: NodeJS.Signals): void => {
      if (child.pid === undefined) return;
      try {
        if (o.killGroup === true) process.kill(-child.pid, sig);
        else child.kill(sig);
      } catch { /* already gone */ }
    };
    let killTimer: NodeJS.Timeout | undefined;
    const termTimer = setTimeout(() => {
      timedOut = true;
      signal('SIGTERM');
      killTimer = setTimeout(() => signal('SIGKILL'), 10_000);
    }, o.timeoutSec * 1000);
    child.on('error', (e) => { clearTimeout(termTimer); reject(e); });
    child.on('close', (code, sig) => {
      clearTimeout(termTimer);
      if (killTimer) clearTimeout(killTimer);
      const stdout = Buffer.concat(out).toString('utf8');
      const stderr = Buffer.concat(err).toString('utf8');
      const exit = timedOut ? TIMEOUT_CODE : code ?? 128 + signalNumber(sig);
      resolvePromise({ code: exit, stdout, stderr, timedOut, durationMs: Date.now() - started });
    });
  });
}

function signalNumber(sig: NodeJS.Signals | null): number {
  return sig === null ? 0 : osConstants.signals[sig] ?? 0;
}

function lastLine(s: string): string {
  return s.trim().split('\n').pop() ?? '';
}
