// resize raises NAME.conf's size line (and nothing else) so the next `up`
// serves the grown device; never lowers it; a file it cannot parse afterwards
// is never written.
import { chmodSync, mkdtempSync, readFileSync, readdirSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import { recordGrownSize, sizeText } from '../../../src/cli/config-size.js';
import { loadDeviceConfig } from '../../../src/cli/device-config.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-confsize-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));

const GiB = 1024 ** 3;

describe('recordGrownSize', () => {
  it('raises the size line in place, keeping comments, other keys and the mode', () => {
    const file = join(dir, 'data.conf');
    writeFileSync(file, '# data pool\nbacking = /srv/data.pool\n  size =  1G  \n# size = 9G\nlayout = packed\n');
    chmodSync(file, 0o640);
    const u = recordGrownSize(dir, 'data', 2 * GiB);
    expect(u).toEqual({ kind: 'updated', file, value: '2G' });
    expect(readFileSync(file, 'utf8')).toBe('# data pool\nbacking = /srv/data.pool\n  size =  2G  \n# size = 9G\nlayout = packed\n');
    expect(statSync(file).mode & 0o777).toBe(0o640);
    expect(loadDeviceConfig(dir, 'data').settings.get('size')).toBe('2G');
    expect(readdirSync(dir).filter((f) => f.endsWith('.tmp'))).toEqual([]);
  });

  it('never lowers the size, and leaves a config without a size line alone', () => {
    writeFileSync(join(dir, 'big.conf'), 'backing = /srv/big.pool\nsize = 4G\n');
    expect(recordGrownSize(dir, 'big', 2 * GiB).kind).toBe('unchanged');
    expect(readFileSync(join(dir, 'big.conf'), 'utf8')).toBe('backing = /srv/big.pool\nsize = 4G\n');
    writeFileSync(join(dir, 'nosize.conf'), 'backing = /srv/n.pool\n');
    expect(recordGrownSize(dir, 'nosize', 2 * GiB)).toMatchObject({ kind: 'unchanged', why: "no 'size' line" });
    expect(recordGrownSize(dir, 'absent', 2 * GiB)).toMatchObject({ kind: 'unchanged', why: 'no such file' });
  });

  it('refuses to write a config up would reject', () => {
    const file = join(dir, 'broken.conf');
    writeFileSync(file, 'backing = /srv/b.pool\nsize = 1G\ncolour = blue\n');
    expect(() => recordGrownSize(dir, 'broken', 2 * GiB)).toThrow(/unknown key 'colour'/);
    expect(readFileSync(file, 'utf8')).toBe('backing = /srv/b.pool\nsize = 1G\ncolour = blue\n');
  });

  it('writes sizes as a person would', () => {
    expect(sizeText(2 * GiB)).toBe('2G');
    expect(sizeText(1536 * 1024 ** 2)).toBe('1536M');
    expect(sizeText(1024 ** 4)).toBe('1T');
    expect(sizeText(12 * 1024)).toBe('12K');
  });
});
