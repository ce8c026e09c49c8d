// Runs bench/suite/guest.sh in one boot of the QEMU guest (natively where the
// host has ublk_drv) and returns its output: the measuring half of `npm run
// bench` (the report) and of `npm run bench -- packed` (packed vs zram and 1:1).
import { existsSync, mkdirSync, realpathSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { DEFAULT_FS_SOURCES, listFiles, pickFiles, type FsSource } from '../corpus/fs-image.js';
import * as device from '../device-bench.js';
import { benchCacheDir, repoRoot } from '../paths.js';
import { matrixDevices, type DeviceName } from './model.js';
import type { HostTimes } from './timing.js';

/** What one guest run measures; every size in MiB. */
export interface GuestPlan {
  mode: device.BenchMode;
  /** In the order each speed round runs them. */
  devices: readonly DeviceName[];
  rounds: number;
  speedMb: number;
  runtimeS: number;
  /** dedupe_percentage of the speed data (buffer_compress_percentage is 60). */
  speedDedupe: number;
  /** Space data sets in the order they run: fio-dDcC, tree, vm-images, zero, same-fill. */
  sets: readonly string[];
  cellMb: number;
  fillMb: number;
  treeMb: number;
  vmMb: number;
  vmCopies: number;
  devMb: number;
  memMb: number;
  timeoutS: number;
}

export interface GuestOutput {
  stdout: string;
  /** Why the run ended early; undefined when it printed SUITE-DONE. */
  incomplete?: string;
  host?: HostTimes;
}

/** A stable list of real files (seeded order) summing to about `mb` MiB, cached for the guest. */
function fileList(name: string, mb: number, seed: number, sources: readonly FsSource[] = DEFAULT_FS_SOURCES): string {
  const path = join(benchCacheDir(), `suite-${name}-${mb}m.list`);
  if (existsSync(path)) return path;
  const total = sources.reduce((a, s) => a + s.share, 0);
  const seen = new Set<string>();
  const files = sources.flatMap((s) =>
    pickFiles(listFiles(s.dir, 4 * 1024 * 1024, seen), (mb * 1024 * 1024 * s.share) / total, seed).map((f) => f.path),
  );
  mkdirSync(benchCacheDir(), { recursive: true });
  writeFileSync(path, files.join('\n') + '\n');
  return path;
}

function realpathOf(path: string): string {
  mkdirSync(path, { recursive: true });
  return realpathSync(path);
}

/** dm-vdo's user space (trixie's, cached by bench/guest/vdo-tools.sh); '' when vdo is not measured. */
async function vdoTools(plan: GuestPlan): Promise<string> {
  if (!plan.devices.includes('vdo')) return '';
  const r = await device.run('bash', [join(repoRoot(), 'bench/guest/vdo-tools.sh')], process.env);
  if (r.code !== 0) throw new Error(`cannot fetch dm-vdo user space (bench/guest/vdo-tools.sh):\n${r.stderr.slice(-2000)}`);
  return r.stdout.trim().split('\n').pop() ?? '';
}

function guestEnv(plan: GuestPlan, vdoDir: string): NodeJS.ProcessEnv {
  const root = repoRoot();
  const needs = (set: string): boolean => plan.sets.includes(set);
  return {
    ...process.env,
    // vm-run's run directory must be a real path: the guest mounts the host
    // root under /mnt before its chroot, where an absolute symlink in the
    // path (.cache -> elsewhere) would not resolve.
    UBLK_VM_CACHE: process.env.UBLK_VM_CACHE ?? realpathOf(join(root, '.cache/vm')),
    SUITE_DEVICES: plan.devices.join(' '),
    SUITE_MATRIX_DEVICES: matrixDevices(plan.devices).join(' '),
    SUITE_ROUNDS: String(plan.rounds),
    SUITE_SPEED_MB: String(plan.speedMb),
    SUITE_RUNTIME_S: String(plan.runtimeS),
    SUITE_SPEED_DEDUPE: String(plan.speedDedupe),
    SUITE_SETS: plan.sets.join(' '),
    SUITE_CELL_MB: String(plan.cellMb),
    SUITE_FILL_MB: String(plan.fillMb),
    SUITE_TREE_LIST: needs('tree') ? fileList('tree', plan.treeMb, 1) : '',
    SUITE_VM_LIST: needs('vm-images') ? fileList('vm', plan.vmMb, 2, [{ dir: '/usr/lib', share: 2 }, { dir: '/usr/share', share: 1 }]) : '',
    SUITE_VM_COPIES: String(plan.vmCopies),
    SUITE_DEV_MB: String(plan.devMb),
    SUITE_VDO_DIR: vdoDir,
  };
}

export async function runGuest(plan: GuestPlan): Promise<GuestOutput> {
  const t0 = performance.now();
  const env = guestEnv(plan, await vdoTools(plan));
  const t1 = performance.now();
  const modules = ['zram', 'loop', ...(plan.devices.includes('vdo') ? ['dm-vdo'] : [])];
  const script = 'bash bench/suite/guest.sh';
  const r =
    plan.mode === 'native'
      ? await device.run('bash', ['-c', `modprobe ublk_drv; ${modules.map((m) => `modprobe ${m}; `).join('')}${script}`], env, { echo: true })
      : await device.run(
          join(repoRoot(), 'test/vm/vm-run'),
          ['--timeout', String(plan.timeoutS), '--mem', String(plan.memMb), '--modules', modules.join(','), '--', script],
          env,
          { echo: true },
        );
  const host = { vdoToolsS: (t1 - t0) / 1000, guestS: (performance.now() - t1) / 1000 };
  const complete = r.code === 0 && r.stdout.includes('SUITE-DONE');
  if (!complete && !r.stdout.includes('SUITE-SPEED')) {
    throw new Error(`bench/suite/guest.sh failed (exit ${r.code}):\n${r.stdout.slice(-3000)}\n${r.stderr.slice(-3000)}`);
  }
  // A run cut short (timeout on a loaded machine) still reports what it measured.
  return { stdout: r.stdout, host, incomplete: complete ? undefined : `the guest run ended early (exit ${r.code}${r.code === 124 ? ', timeout' : ''})` };
}

/** The SUITE-KIND {json} lines of one kind. */
export function suiteLines<T>(stdout: string, kind: string): T[] {
  const tag = `SUITE-${kind} `;
  return stdout.split('\n').filter((l) => l.startsWith(tag)).map((l) => JSON.parse(l.slice(tag.length)) as T);
}
