// The npm package installs and runs from its tarball alone: `npm pack` builds the
// TypeScript (prepack), the tarball carries the compiled CLI, the addon's sources
// and the docs but no tests, and `npm install -g` of it builds the addon and gives
// a working `ublk-compress`. Needs the npm registry (dependencies) and a C++ compiler.
import { execFileSync, spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync, readdirSync, rmSync, existsSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join, resolve } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';

const ROOT = resolve(import.meta.dirname, '../..');
const VERSION = (JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { version: string }).version;
const work = mkdtempSync(join(tmpdir(), 'uc-pack-'));

afterAll(() => rmSync(work, { recursive: true, force: true }));

describe('npm package', () => {
  let tarball = '';

  it('packs the CLI, the addon sources and the docs, and no tests', () => {
    execFileSync('npm', ['pack', '--pack-destination', work], { cwd: ROOT, stdio: ['ignore', 'ignore', 'pipe'] });
    const name = readdirSync(work).find((f) => f.endsWith('.tgz'));
    expect(name, 'npm pack wrote no tarball').toBeDefined();
    tarball = join(work, name!);
    const files = execFileSync('tar', ['-tzf', tarball], { encoding: 'utf8' }).trim().split('\n');
    for (const want of [
      'package/bin/ublk-compress.js',
      'package/dist/src/cli/main.js',
      'package/binding.gyp',
      'package/native/addon.cc',
      'package/native/notify.cc',
      'package/packaging/ublk-compress@.service',
      'package/packaging/90-ublk-compress.rules',
      'package/docs/cli.md',
      'package/README.md',
    ]) {
      expect(files, `${want} missing from the tarball`).toContain(want);
    }
    const tests = files.filter((f) => /(^package\/test\/|\.test\.[jt]s$|^package\/dist\/(bench|test|faults)\/)/.test(f));
    expect(tests).toEqual([]);
    const sources = files.filter((f) => f.endsWith('.ts') && !f.endsWith('.d.ts'));
    expect(sources).toEqual([]);
  }, 180_000);

  it('installs globally from the tarball and runs', () => {
    expect(tarball, 'the pack step failed').not.toBe('');
    const prefix = join(work, 'prefix');
    const install = spawnSync('npm', ['install', '-g', '--prefix', prefix, tarball], { encoding: 'utf8' });
    expect(install.status, `npm install -g failed:\n${install.stderr}`).toBe(0);
    const bin = join(prefix, 'bin', 'ublk-compress');
    expect(execFileSync(bin, ['--version'], { encoding: 'utf8' }).trim()).toBe(`ublk-compress ${VERSION}`);
    const help = spawnSync(bin, ['add', '--help'], { encoding: 'utf8' });
    expect(help.status).toBe(0);
    expect(help.stdout).toContain('--backing');
    // The install built the addon, and it loads.
    const pkg = join(prefix, 'lib', 'node_modules', 'ublk-compress');
    const addon = join(pkg, 'build', 'Release', 'ublk_native.node');
    expect(existsSync(addon), 'the install did not build the addon').toBe(true);
    const load = spawnSync(process.execPath, ['-e', `require(${JSON.stringify(addon)})`], { encoding: 'utf8' });
    expect(load.status, load.stderr).toBe(0);
  }, 600_000);
});
