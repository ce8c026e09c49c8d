// Parent side of `add`: start the serving daemon detached (its own session,
// stdio to the log file, its own mount namespace when util-linux `unshare`
// exists), relay what it reports, and print the device path once START_DEV
// has completed. When the daemon fails or dies before that, make sure it left
// nothing behind (device deleted, run record and created file removed).

import { spawn, spawnSync, type ChildProcess } from 'node:child_process';
import { closeSync, existsSync, statSync, unlinkSync } from 'node:fs';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { Readable } from 'node:stream';
import { deviceIdInUse, openControl, stopAndDelete } from '../device/control.js';
import { claimBacking } from '../server/backing-lock.js';
import type { AddConfig } from '../server/config.js';
import { openLogFd } from '../server/logger.js';
import { logDir, runDir } from '../server/paths.js';
import { readMessages, type DaemonMessage } from '../server/ready-channel.js';
import { removeRunRecord } from '../server/run-file.js';
import { UcError, type UcCode } from '../util/errors.js';
import { daemonArgv } from './add-config.js';
import { daemonNodeFlags } from './daemon-flags.js';
import { detachUblkMounts } from './daemon-mounts.js';
import type { CliIo } from './io.js';

/** bin/ublk-compress.js of this package (the daemon runs the same CLI). */
export function binPath(): string {
  let dir = dirname(fileURLToPath(import.meta.url));
  for (let depth = 0; depth < 6; depth += 1) {
    const candidate = join(dir, 'bin', 'ublk-compress.js');
    if (existsSync(candidate)) return candidate;
    dir = dirname(dir);
  }
  throw new UcError('UC_IO', 'cannot find bin/ublk-compress.js above the CLI module');
}

let unshareUsable: boolean | undefined;
/**
 * Node cannot call unshare(2) itself, so the daemon is started through
 * util-linux `unshare --mount --propagation private`, which execs node in a
 * private mount namespace (same pid). A mount of the device made later in
 * the user's namespace is then not the daemon's to flush when it exits
 * (libublk-rs#50); mounts copied from the caller are dropped once the daemon
 * is ready (daemon-mounts.ts). Checked once by running `unshare true`.
 */
export function canUnshareMounts(): boolean {
  if (unshareUsable === undefined) {
    const r = spawnSync('unshare', ['--mount', '--propagation', 'private', 'true'], { stdio: 'ignore', timeout: 5000 });
    unshareUsable = r.status === 0;
  }
  return unshareUsable;
}

export interface SpawnOutcome {
  readonly devId: number;
  readonly path: string;
  readonly logPath: string;
}

/** Waits for the daemon to exit, at most `timeoutMs`; true when it did. */
function waitExit(child: ReturnType<typeof spawn>, timeoutMs: number): Promise<boolean> {
  if (child.exitCode !== null || child.signalCode !== null) return Promise.resolve(true);
  return new Promise((resolve) => {
    const timer = setTimeout(() => resolve(false), timeoutMs);
    child.once('exit', () => {
      clearTimeout(timer);
      resolve(true);
    });
  });
}

/** Removes whatever a daemon that died during start-up may have left. */
async function cleanUpAfter(devId: number | undefined, backing: DaemonMessage | undefined, pid: number): Promise<void> {
  if (devId !== undefined) {
    if (deviceIdInUse(devId)) {
      const control = openControl();
      try {
        await stopAndDelete(control, devId, 10_000);
      } finally {
        control.close();
      }
    }
    removeRunRecord(devId, pid);
  }
  if (backing?.type === 'backing' && backing.action === 'create') {
    // Only a file the daemon created, that still has no data of the user and
    // that no other process has locked (served) since the daemon died.
    try {
      const lock = claimBacking(backing.path);
      try {
        if (statSync(backing.path).blocks === 0) unlinkSync(backing.path);
      } finally {
        lock.release();
      }
    } catch {
      // already gone, or in use by another daemon now
    }
  }
}

/**
 * The daemon's environment: the parent's, with the directories it names made
 * absolute here (the daemon runs in `/`, where a relative one means another place).
 */
export function daemonEnv(): NodeJS.ProcessEnv {
  const env: NodeJS.ProcessEnv = { ...process.env, UBLK_COMPRESS_RUN_DIR: runDir(), UBLK_COMPRESS_LOG_DIR: logDir() };
  if (process.env.TMPDIR) env.TMPDIR = resolve(process.env.TMPDIR);
  return env;
}

/** Starts the daemon detached, its stdio to the log, fd 3 the ready channel. */
function launch(nodeArgs: readonly string[], logPath: string, unshared: boolean): ChildProcess {
  const logFd = openLogFd(logPath); // O_NOFOLLOW|O_APPEND, 0600
  const [file, args] = unshared
    ? ['unshare', ['--mount', '--propagation', 'private', '--', process.execPath, ...nodeArgs]]
    : [process.execPath, [...nodeArgs]];
  try {
    return spawn(file, args, {
      detached: true, // setsid(): no controlling terminal, survives the shell
      stdio: ['ignore', logFd, logFd, 'pipe'],
      cwd: '/',
      env: daemonEnv(),
    });
  } finally {
    closeSync(logFd);
  }
}

/** The daemon's namespace must not pin ublk filesystems of the caller (daemon-mounts.ts). */
async function releaseCopiedMounts(pid: number, io: CliIo): Promise<void> {
  const left = await detachUblkMounts(pid).catch((err: unknown) => [(err as Error).message]);
  for (const what of left) {
    io.err(`ublk-compress: warning: the daemon's mount namespace still holds ${what}; umount cannot release that disk\n`);
  }
}

/** `extraArgv`: layout-specific flags appended to the daemon's command line (packed: --meta, ...). */
export async function spawnDaemon(
  cfg: AddConfig,
  logPath: string,
  logProvisional: boolean,
  io: CliIo,
  extraArgv: readonly string[] = [],
): Promise<SpawnOutcome> {
  const unshared = canUnshareMounts();
  const child = launch([...daemonNodeFlags(), binPath(), ...daemonArgv(cfg, logPath, logProvisional), ...extraArgv], logPath, unshared);
  const spawnError = new Promise<never>((_, reject) => child.once('error', reject));
  spawnError.catch(() => {});
  const pipe = child.stdio[3] as Readable;
  let devId: number | undefined;
  let backing: DaemonMessage | undefined;
  let failure: UcError | undefined;
  let ready: SpawnOutcome | undefined;
  const timer = setTimeout(() => {
    failure = new UcError('UC_TIMEOUT', `the daemon did not report ready within ${cfg.startTimeoutMs / 1000} s (see ${logPath})`);
    child.kill('SIGKILL');
    pipe.destroy();
  }, cfg.startTimeoutMs + 5000);
  try {
    for await (const msg of readMessages(pipe)) {
      if (msg.type === 'backing') {
        backing = msg;
        if (msg.note) io.err(`ublk-compress: ${msg.note}\n`);
      } else if (msg.type === 'added') {
        devId = msg.devId;
      } else if (msg.type === 'ready') {
        ready = { devId: msg.devId, path: msg.path, logPath: msg.logPath };
        break;
      } else if (msg.type === 'error') {
        failure = new UcError(msg.code as UcCode, msg.message, { errno: msg.errno });
        break;
      }
    }
  } catch (err) {
    failure ??= new UcError('UC_IO', `lost contact with the daemon: ${(err as Error).message}`);
  } finally {
    clearTimeout(timer);
  }
  pipe.destroy();
  if (ready && !failure) {
    child.unref();
    if (unshared && child.pid !== undefined) await releaseCopiedMounts(child.pid, io);
    return ready;
  }
  // Failed start: the daemon cleans up and exits by itself; make sure of it.
  if (!(await waitExit(child, 15_000))) {
    child.kill('SIGKILL');
    await waitExit(child, 5000);
  }
  await cleanUpAfter(devId, backing, child.pid ?? -1);
  if (!failure) {
    const how = child.signalCode ? `was killed by ${child.signalCode}` : `exited with status ${child.exitCode}`;
    failure = new UcError('UC_IO', `the daemon ${how} before the device was ready (see ${logPath})`);
  }
  throw failure;
}
