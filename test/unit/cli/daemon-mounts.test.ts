// Which mounts the parent detaches in the daemon's copied mount namespace:
// mountinfo parsing (escapes, stacked mounts), the ublk disk numbers from
// sysfs; and, as root, the detaching itself inside
// another process's private namespace, with tmpfs standing in for the ublk
// disks (the guest e2e does it for real after `recover`).
import { spawn } from 'node:child_process';
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { detachUblkMounts, mountPointsToDetach, parseMountInfo, ublkDiskNumbers } from '../../../src/cli/daemon-mounts.js';

/** A process in a private mount namespace with tmpfs on `a` and `b`, holding a file open on `b`. */
async function namespaceHolder(a: string, b: string): Promise<{ pid: number; kill: () => void }> {
  const script = `mount -t tmpfs uc-a "${a}" && mount -t tmpfs uc-b "${b}" && echo x > "${b}/f" && exec 3<"${b}/f" && echo ready && exec sleep 120`;
  const child = spawn('unshare', ['--mount', '--propagation', 'private', 'sh', '-c', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  await new Promise<void>((resolve, reject) => {
    child.stdout.once('data', () => resolve());
    child.once('exit', (code) => reject(new Error(`namespace holder exited ${code}`)));
  });
  return { pid: child.pid as number, kill: () => child.kill('SIGKILL') };
}

const MOUNTINFO = [
  '22 1 8:1 / / rw,relatime shared:1 - ext4 /dev/sda1 rw',
  '40 22 259:3 / /mnt/with\\040space rw,relatime shared:20 - ext4 /dev/ublkb0 rw',
  '41 22 259:4 / /srv/pool rw,relatime shared:21 - ext4 /dev/ublkb1 rw',
  '42 40 259:3 /sub /mnt/with\\040space/bind rw,relatime shared:20 - ext4 /dev/ublkb0 rw',
  '43 22 259:3 / /stacked rw - ext4 /dev/ublkb0 rw',
  '44 43 0:50 / /stacked rw - tmpfs tmpfs rw',
  'not a mountinfo line',
].join('\n');

describe('daemon mount namespace clean-up', () => {
  const dir = mkdtempSync(join(tmpdir(), 'uc-mounts-'));
  afterAll(() => rmSync(dir, { recursive: true, force: true }));

  it('parses mountinfo, unescaping mount points', () => {
    const e = parseMountInfo(MOUNTINFO);
    expect(e).toHaveLength(6);
    expect(e[1]).toEqual({ dev: '259:3', mountPoint: '/mnt/with space' });
    expect(e[3]?.mountPoint).toBe('/mnt/with space/bind');
  });

  it('detaches mounts of the target disks only, deepest first, never through a covering mount', () => {
    const points = mountPointsToDetach(parseMountInfo(MOUNTINFO), new Set(['259:3']));
    // /stacked is covered by a tmpfs: detaching the path would remove the tmpfs instead.
    expect(points).toEqual(['/mnt/with space/bind', '/mnt/with space']);
    expect(mountPointsToDetach(parseMountInfo(MOUNTINFO), new Set())).toEqual([]);
  });

  it('reads the numbers of ublk disks and partitions from sysfs', () => {
    for (const [name, dev] of [['ublkb0', '259:3'], ['ublkb0p1', '259:5'], ['sda', '8:0'], ['ublkc0', '511:0']]) {
      mkdirSync(join(dir, name as string));
      writeFileSync(join(dir, name as string, 'dev'), `${dev}\n`);
    }
    expect([...ublkDiskNumbers(dir)].sort()).toEqual(['259:3', '259:5']);
    expect(ublkDiskNumbers(join(dir, 'missing')).size).toBe(0);
  });

  it.skipIf(process.getuid?.() !== 0)('detaches the mounts in the other namespace, except one its process has files open on', async () => {
    const a = join(dir, 'ns a');
    const b = join(dir, 'ns b');
    mkdirSync(a);
    mkdirSync(b);
    const holder = await namespaceHolder(a, b);
    try {
      const mounts = (): Map<string, string> =>
        new Map(parseMountInfo(readFileSync(`/proc/${holder.pid}/mountinfo`, 'utf8')).map((e) => [e.mountPoint, e.dev]));
      const before = mounts();
      const devA = before.get(a);
      const devB = before.get(b);
      expect(devA).toMatch(/^0:\d+$/);
      expect(devB).toMatch(/^0:\d+$/);
      expect(await detachUblkMounts(holder.pid, { disks: new Set([devA as string, devB as string]) })).toEqual([]);
      const after = mounts();
      expect(after.has(a)).toBe(false); // detached in the holder's namespace
      expect(after.get(b)).toBe(devB); // kept: the holder has a file open on it
      expect(parseMountInfo(readFileSync('/proc/self/mountinfo', 'utf8')).some((e) => e.mountPoint === a)).toBe(false);
    } finally {
      holder.kill();
    }
  });
});
