// The control path where the kernel has no ublk (these build hosts): a user
// must get one clear error, never a hang or a raw errno.
import { existsSync, mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { openControl } from '../../src/device/control.js';
import { UblkDevice } from '../../src/device/ublk-device.js';
import { UblkControl, setIoFlusher, UBLK_CONTROL_PATH } from '../../src/native/index.js';
import { UcError } from '../../src/util/errors.js';

describe('ublk control without ublk_drv', () => {
  it('a missing control node is UC_KERNEL_UNSUPPORTED saying how to load it', () => {
    const dir = mkdtempSync(join(tmpdir(), 'uc-ctl-'));
    try {
      let caught: unknown;
      try {
        openControl(join(dir, 'ublk-control'));
      } catch (e) {
        caught = e;
      }
      expect(caught).toBeInstanceOf(UcError);
      expect((caught as UcError).code).toBe('UC_KERNEL_UNSUPPORTED');
      expect((caught as UcError).message).toMatch(/modprobe ublk_drv/);
      expect((caught as UcError).errno).toBe(2);
    } finally {
      rmSync(dir, { recursive: true, force: true });
    }
  });

  it('the raw native open reports ENOENT with the path', () => {
    let caught: { errno?: number; message?: string } | undefined;
    try {
      UblkControl.open('/nonexistent/ublk-control');
    } catch (e) {
      caught = e as { errno?: number; message?: string };
    }
    expect(caught?.errno).toBe(2);
    expect(caught?.message).toMatch(/open \/nonexistent\/ublk-control/);
  });

  it.runIf(!existsSync(UBLK_CONTROL_PATH))('UblkDevice.create fails with UC_KERNEL_UNSUPPORTED on this host', async () => {
    const err = await UblkDevice.create({ queues: 1, depth: 4, sizeBytes: 16 << 20 }).catch((e: unknown) => e);
    expect(err).toBeInstanceOf(UcError);
    expect((err as UcError).code).toBe('UC_KERNEL_UNSUPPORTED');
  });

  it('setIoFlusher sets PF_MEMALLOC_NOIO | PF_LOCAL_THROTTLE, or fails EPERM without CAP_SYS_RESOURCE', () => {
    const capEff = /CapEff:\s*([0-9a-f]+)/.exec(readFileSync('/proc/self/status', 'utf8'))?.[1] ?? '0';
    const hasSysResource = (BigInt(`0x${capEff}`) & (1n << 24n)) !== 0n;
    if (!hasSysResource) {
      expect(() => setIoFlusher()).toThrow(expect.objectContaining({ errno: 1, code: 'EPERM' }));
      return;
    }
    setIoFlusher();
    // Field 9 of /proc/thread-self/stat is the task flags (after "pid (comm) state").
    const stat = readFileSync('/proc/thread-self/stat', 'utf8');
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    expect(Number(fields[6]) & 0x180000).toBe(0x180000);
  });
});
