// /dev/ublk-compress/NAME links and the udev name tags, in a temporary directory.
import { lstatSync, mkdtempSync, readlinkSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { afterAll, describe, expect, it } from 'vitest';
import {
  linkStableName, nameTagPath, readNameTag, readStableName, removeNameTag, stableNamePath, unlinkStableName, writeNameTag,
} from '../../../src/server/stable-name.js';
import { inheritServiceName, NAME_ENV, serviceDeviceAdded, serviceStopping } from '../../../src/server/service-events.js';
import { silentLogger } from '../../../src/server/logger.js';

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

  it('recover -n ID serves under the name the dead daemon had (its tag), so stopping removes link and tag', () => {
    const deadDaemon = { [NAME_ENV]: 'web' };
    serviceDeviceAdded(9, silentLogger(), deadDaemon); // the daemon then dies (kill -9): the tag stays
    linkStableName('web', '/dev/ublkb9');
    const recovering: NodeJS.ProcessEnv = {};
    expect(inheritServiceName(9, recovering)).toBe('web');
    expect(recovering[NAME_ENV]).toBe('web');
    serviceStopping(9, '/dev/ublkb9', silentLogger(), recovering);
    expect(readStableName('web')).toBeUndefined();
    expect(readNameTag(9)).toBeUndefined();
  });

  it('a name already set (up NAME) wins over the tag; no tag and no name: none', () => {
    writeNameTag(10, 'old');
    const up: NodeJS.ProcessEnv = { [NAME_ENV]: 'new' };
    expect(inheritServiceName(10, up)).toBe('new');
    removeNameTag(10);
    const plain: NodeJS.ProcessEnv = {};
    expect(inheritServiceName(11, plain)).toBeUndefined();
    expect(plain[NAME_ENV]).toBeUndefined();
  });
});
