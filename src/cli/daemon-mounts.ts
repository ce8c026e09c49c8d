// The daemon's own mount namespace (`unshare --mount`) starts as a copy of the
// caller's, so it also holds every filesystem the caller had mounted on a ublk
// disk: for `recover`, the very device the daemon serves. Such a copy pins the
// filesystem (umount in the caller's namespace no longer releases the disk, so
// `del` cannot finish) and, should the daemon's namespace be the last holder
// when it exits, flushes to a device nobody serves any more. Once the daemon
// is ready, its parent detaches those mounts inside the daemon's namespace,
// except on filesystems the daemon has files open on (a pool stored on
// another ublk device stays reachable). The device is live by then, so the
// last reference going away can still write to it.

import { spawn } from 'node:child_process';
import { readdirSync, readFileSync, statSync } from 'node:fs';
import { deviceString } from '../util/block-device.js';

/** "major:minor" of every ublk disk and partition (/sys/class/block/ublkb*). */
export function ublkDiskNumbers(sysClassBlock = '/sys/class/block'): Set<string> {
  const devs = new Set<string>();
  let names: string[];
  try {
    names = readdirSync(sysClassBlock);
  } catch {
    return devs;
  }
  for (const name of names) {
    if (!name.startsWith('ublkb')) continue;
    try {
      devs.add(readFileSync(`${sysClassBlock}/${name}/dev`, 'utf8').trim());
    } catch {
      // removed while listing
    }
  }
  return devs;
}

export interface MountEntry {
  readonly dev: string;
  readonly mountPoint: string;
}

/** mountinfo(5) escapes space, tab, newline and backslash as \ooo. */
function unescapeMountPath(s: string): string {
  return s.replace(/\\([0-7]{3})/g, (_, oct: string) => String.fromCharCode(parseInt(oct, 8)));
}

/** The (device, mount point) of each line of a /proc/PID/mountinfo, in mount order. */
export function parseMountInfo(text: string): MountEntry[] {
  const entries: MountEntry[] = [];
  for (const line of text.split('\n')) {
    const f = line.split(' ');
    if (f.length < 5 || !/^\d+:\d+$/.test(f[2] as string)) continue;
    entries.push({ dev: f[2] as string, mountPoint: unescapeMountPath(f[4] as string) });
  }
  return entries;
}

/**
 * Mount points to detach: those whose topmost mount is on one of `targets`.
 * A target covered by another mount waits for a later round (detaching the
 * path would remove the covering mount instead). Deepest paths first.
 */
export function mountPointsToDetach(entries: readonly MountEntry[], targets: ReadonlySet<string>): string[] {
  const top = new Map<string, string>();
  for (const e of entries) top.set(e.mountPoint, e.dev); // later lines are mounted on top
  return [...top].filter(([, dev]) => targets.has(dev)).map(([mp]) => mp).sort((a, b) => b.length - a.length);
}

/** Devices of the filesystems `pid` has files open on. */
function openFileDevices(pid: number): Set<string> {
  const devs = new Set<string>();
  for (const fd of readdirSync(`/proc/${pid}/fd`)) {
    try {
      devs.add(deviceString(statSync(`/proc/${pid}/fd/${fd}`).dev));
    } catch {
      // closed meanwhile, or not a path (socket, pipe, anon inode)
    }
  }
  return devs;
}

/** `umount --lazy` of `mountPoint` inside the mount namespace of `pid`; resolves to an error text or undefined. */
function detachIn(pid: number, mountPoint: string, timeoutMs: number): Promise<string | undefined> {
  return new Promise((resolve) => {
    // --root: mountinfo paths are relative to the daemon's root, which differs
    // from the namespace's own root when the caller runs chrooted.
    const argv = ['--target', String(pid), '--mount', '--root', '--', 'umount', '--lazy', '--no-canonicalize', '--', mountPoint];
    const child = spawn('nsenter', argv, {
      stdio: ['ignore', 'ignore', 'pipe'],
    });
    let err = '';
    child.stderr.on('data', (b: Buffer) => { err += b.toString(); });
    const timer = setTimeout(() => { child.kill('SIGKILL'); }, timeoutMs);
    child.once('error', (e) => { clearTimeout(timer); resolve(e.message); });
    child.once('close', (code) => {
      clearTimeout(timer);
      resolve(code === 0 ? undefined : err.trim() || `exit ${code}`);
    });
  });
}

const DETACH_ROUNDS_MAX = 4;

/**
 * Detaches every ublk-disk mount (or one of `disks`) in the mount namespace
 * of daemon `pid`, except on filesystems it has files open on. Returns the
 * mount points that remain (empty on success), each with the reason.
 */
export async function detachUblkMounts(
  pid: number,
  o: { timeoutMs?: number; disks?: ReadonlySet<string> } = {},
): Promise<string[]> {
  const timeoutMs = o.timeoutMs ?? 10_000;
  const keep = openFileDevices(pid);
  const targets = new Set([...(o.disks ?? ublkDiskNumbers())].filter((d) => !keep.has(d)));
  const failed = new Map<string, string>();
  for (let round = 0; round < DETACH_ROUNDS_MAX && targets.size > 0; round += 1) {
    const entries = parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8'));
    const points = mountPointsToDetach(entries, targets).filter((mp) => !failed.has(mp));
    if (points.length === 0) break;
    for (const mp of points) {
      const err = await detachIn(pid, mp, timeoutMs);
      if (err !== undefined) failed.set(mp, err);
    }
  }
  const left = parseMountInfo(readFileSync(`/proc/${pid}/mountinfo`, 'utf8')).filter((e) => targets.has(e.dev));
  return left.map((e) => `${e.mountPoint} (${e.dev})${failed.has(e.mountPoint) ? `: ${failed.get(e.mountPoint)}` : ''}`);
}
