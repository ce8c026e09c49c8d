// /dev/ublk-compress/NAME links and the udev name tags, in a temporary directory.
import { lstatSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  linkStableName, nameTagPath, readNameTag, readStableName, removeNameTag, stableNamePath, unlinkStableName, writeNameTag,
} from '../../../src/server/stable-name.js';

const dir = mkdtempSync(join(tmpdir(), 'uc-names-'));
const saved = { names: process.env.UBLK_COMPRESS_NAME_DIR, run: process.env.UBLK_COMPRESS_RUN_DIR };
process.env.UBLK_COMPRESS_NAME_DIR = join(dir, 'dev', 'ublk-compress');
process.env.UBLK_COMPRESS_RUN_DIR = join(dir, 'run');
afterAll(() => {
  for (const [k, v] of [['UBLK_COMPRESS_NAME_DIR', saved.names], ['UBLK_COMPRESS_RUN_DIR', saved.run]] as const) {
    if (v === undefined) delete process.env[k];
    else process.env[k] = v;
  }
  rmSync(dir, { recursive: true, force: true });
});

describe('stable names', () => {
  it('links NAME to the device, replaces it atomically, and unlinks only its own target', () => {
    const path = linkStableName('data', '/dev/ublkb3');
    expect(path).toBe(join(dir, 'dev', 'ublk-compress', 'data'));
    expect(lstatSync(path).isSymbolicLink()).toBe(true);
    expect(readlinkSync(path)).toBe('/dev/ublkb3');
    linkStableName('data', '/dev/ublkb5'); // a successor (recover under a new number, re-add)
    expect(readStableName('data')).toBe('/dev/ublkb5');
    expect(unlinkStableName('data', '/dev/ublkb3')).toBe(false);
    expect(readStableName('data')).toBe('/dev/ublkb5');
    expect(unlinkStableName('data', '/dev/ublkb5')).toBe(true);
    expect(readStableName('data')).toBeUndefined();
    expect(() => stableNamePath('../etc')).toThrow(/bad device name/);
  });

  it('keeps a name tag per kernel disk for the udev rule', () => {
    writeNameTag(7, 'backup');
    expect(nameTagPath(7)).toBe(join(dir, 'run', 'names', 'ublkb7'));
    expect(readNameTag(7)).toBe('backup');
    removeNameTag(7);
    expect(readNameTag(7)).toBeUndefined();
    removeNameTag(7); // absent: fine
  });
});
