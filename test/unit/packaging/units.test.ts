// The shipped systemd template unit passes `systemd-analyze verify` (as the
// template and as an instance), and the udev rule reads the name tags where
// the daemon writes them.
import { spawnSync } from 'node:child_process';
import { copyFileSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { nameTagPath } from '../../../src/server/stable-name.js';

const root = join(import.meta.dirname, '..', '..', '..');
const unit = join(root, 'packaging', 'ublk-compress@.service');
const dir = mkdtempSync(join(tmpdir(), 'uc-units-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

function verify(path: string): { status: number | null; output: string } {
  const r = spawnSync('systemd-analyze', ['verify', path], { encoding: 'utf8', cwd: dir });
  if (r.error) throw r.error; // systemd-analyze missing: scripts/setup.sh installs systemd
  return { status: r.status, output: `${r.stdout}${r.stderr}` };
}

describe('ublk-compress@.service', () => {
  it('verifies cleanly as a template and as ublk-compress@data.service', () => {
    for (const name of ['ublk-compress@.service', 'ublk-compress@data.service']) {
      const path = join(dir, name);
      copyFileSync(unit, path);
      expect(verify(path), name).toEqual({ status: 0, output: '' });
    }
  });

  it('is a notify service whose main process is the foreground daemon, restarted on failure', () => {
    const text = readFileSync(unit, 'utf8');
    for (const line of [
      'Type=notify', 'NotifyAccess=main', 'DefaultDependencies=no', 'Before=local-fs.target', 'Restart=on-failure',
      'ExecStart=unshare --mount --propagation private -- ublk-compress up --foreground %i',
    ]) {
      expect(text.split('\n')).toContain(line);
    }
    expect(text).toMatch(/^RequiresMountsFor=.*\/var\/lib\/ublk-compress/m);
  });

  it('catches a broken unit (the check can fail)', () => {
    const path = join(dir, 'ublk-compress@broken.service');
    const text = readFileSync(unit, 'utf8').replace('Type=notify', 'Typ=notify');
    writeFileSync(path, text);
    const r = verify(path);
    expect(r.output).toMatch(/Unknown key 'Typ'/);
  });
});

describe('90-ublk-compress.rules', () => {
  it('reads the name tag the daemon writes under the default run directory', () => {
    const saved = process.env.UBLK_COMPRESS_RUN_DIR;
    delete process.env.UBLK_COMPRESS_RUN_DIR;
    try {
      const tag = nameTagPath(3).replace(/ublkb3$/, '%k');
      const rules = readFileSync(join(root, 'packaging', '90-ublk-compress.rules'), 'utf8');
      expect(rules).toContain(`TEST!="${tag}"`);
      expect(rules).toContain(`PROGRAM="/bin/cat ${tag}", SYMLINK+="ublk-compress/%c"`);
      expect(rules).toContain('KERNEL!="ublkb[0-9]*"');
    } finally {
      if (saved !== undefined) process.env.UBLK_COMPRESS_RUN_DIR = saved;
    }
  });
});
