import { describe, expect, it } from 'vitest';
import { buildParams, describeFlags, hasZeroCopy, negotiateFlags, ZERO_COPY_FLAGS } from '../../../src/device/params.js';
import { controlError } from '../../../src/device/control-errors.js';
import { UBLK_ATTR, UBLK_F, UBLK_PARAM_TYPE } from '../../../src/native/index.js';
import { UcError } from '../../../src/util/errors.js';

describe('device params', () => {
  it('describes an ext4-mountable 4 KiB device with flush, FUA, discard and write-zeroes', () => {
    const p = buildParams(64 << 20, 512 * 1024);
    expect(p.types).toBe(UBLK_PARAM_TYPE.BASIC | UBLK_PARAM_TYPE.DISCARD);
    expect(p.basic).toEqual({
      attrs: UBLK_ATTR.VOLATILE_CACHE | UBLK_ATTR.FUA,
      logicalBsShift: 12,
      physicalBsShift: 12,
      ioOptShift: 12,
      ioMinShift: 12,
      maxSectors: 1024,
      chunkSectors: 0,
      devSectors: (64 << 20) / 512,
      virtBoundaryMask: 0,
    });
    expect(p.discard).toEqual({
      discardAlignment: 0,
      discardGranularity: 4096,
      maxDiscardSectors: 0x7fffff,
      maxWriteZeroesSectors: 0x7fffff,
      maxDiscardSegments: 1,
    });
    const noDiscard = buildParams(1 << 20, 4096, { discard: false, writeZeroes: false });
    expect(noDiscard.types).toBe(UBLK_PARAM_TYPE.BASIC);
    expect(noDiscard.discard).toBeUndefined();
  });

  it('rejects sizes that are not whole 4 KiB blocks or below 1 MiB', () => {
    expect(() => buildParams((1 << 20) + 512, 4096)).toThrow(UcError);
    expect(() => buildParams(512 * 1024, 4096)).toThrow(/at least 1 MiB/);
    expect(() => buildParams(1 << 20, 1000)).toThrow(/io buffer/);
  });

  it('negotiates the wish list against GET_FEATURES', () => {
    const debian612 = 0x1fen; // observed on Debian 6.12
    expect(negotiateFlags(debian612, 'reissue')).toBe(UBLK_F.CMD_IOCTL_ENCODE | UBLK_F.USER_RECOVERY | UBLK_F.USER_RECOVERY_REISSUE);
    expect(negotiateFlags(debian612, 'none')).toBe(UBLK_F.CMD_IOCTL_ENCODE);
    expect(negotiateFlags(UBLK_F.USER_RECOVERY, 'reissue')).toBe(UBLK_F.USER_RECOVERY);
    // No GET_FEATURES (< 6.5): ask for all, ADD_DEV clears what is unknown.
    expect(negotiateFlags(null, 'recovery')).toBe(UBLK_F.CMD_IOCTL_ENCODE | UBLK_F.USER_RECOVERY);
    expect(describeFlags(0x5an)).toEqual(['URING_CMD_COMP_IN_TASK', 'USER_RECOVERY', 'USER_RECOVERY_REISSUE', 'CMD_IOCTL_ENCODE']);
  });

  it('asks for newer flags only where GET_FEATURES offers them', () => {
    const base = UBLK_F.CMD_IOCTL_ENCODE | UBLK_F.USER_RECOVERY | UBLK_F.USER_RECOVERY_REISSUE;
    // 6.18 offers bits 0-14: UPDATE_SIZE is requested there, never on 6.12 (0x1fe).
    expect(negotiateFlags(0x7fffn, 'reissue')).toBe(base | UBLK_F.UPDATE_SIZE);
    expect(negotiateFlags(0x1fen, 'reissue')).toBe(base);
    expect(negotiateFlags(null, 'reissue')).toBe(base);
    expect(negotiateFlags(0x7fffn, 'none')).toBe(UBLK_F.CMD_IOCTL_ENCODE | UBLK_F.UPDATE_SIZE);
    // Never the zero-copy, quiesce or per-I/O-daemon modes: they change how we serve.
    expect(negotiateFlags(0xfffffn, 'reissue') & (UBLK_F.SUPPORT_ZERO_COPY | UBLK_F.AUTO_BUF_REG | UBLK_F.QUIESCE)).toBe(0n);
    expect(describeFlags((1n << 10n) | (1n << 40n))).toEqual(['UPDATE_SIZE', 'BIT_40']);
  });

  it('asks for zero copy (AUTO_BUF_REG + USER_COPY) only when wished and offered', () => {
    const base = UBLK_F.CMD_IOCTL_ENCODE | UBLK_F.USER_RECOVERY | UBLK_F.USER_RECOVERY_REISSUE;
    const k612 = 0x1fen;
    const k618 = 0x7fffn;
    const k73 = 0x1fffffn;
    expect(negotiateFlags(k618, 'reissue', 'if-offered')).toBe(base | UBLK_F.UPDATE_SIZE | ZERO_COPY_FLAGS);
    expect(negotiateFlags(k73, 'reissue', 'required')).toBe(base | UBLK_F.UPDATE_SIZE | ZERO_COPY_FLAGS);
    expect(negotiateFlags(k618, 'reissue', 'off') & ZERO_COPY_FLAGS).toBe(0n);
    expect(negotiateFlags(k618, 'reissue') & ZERO_COPY_FLAGS).toBe(0n);
    // 6.12 has USER_COPY but no AUTO_BUF_REG: 'if-offered' asks for neither half.
    expect(negotiateFlags(k612, 'reissue', 'if-offered')).toBe(base);
    expect(negotiateFlags(null, 'reissue', 'if-offered')).toBe(base);
    // Never the other zero-copy mode (REGISTER_IO_BUF commands).
    expect(negotiateFlags(k73, 'reissue', 'if-offered') & UBLK_F.SUPPORT_ZERO_COPY).toBe(0n);
  });

  it('refuses required zero copy on a kernel without it, naming the flags and the way out', () => {
    for (const features of [0x1fen, null, UBLK_F.AUTO_BUF_REG]) {
      let err: unknown;
      try {
        negotiateFlags(features, 'reissue', 'required');
      } catch (e) {
        err = e;
      }
      expect(err).toBeInstanceOf(UcError);
      expect((err as UcError).code).toBe('UC_KERNEL_UNSUPPORTED');
      expect((err as UcError).message).toMatch(/AUTO_BUF_REG.*6\.16.*--zero-copy auto or off/);
    }
    expect(hasZeroCopy(ZERO_COPY_FLAGS)).toBe(true);
    expect(hasZeroCopy(UBLK_F.AUTO_BUF_REG)).toBe(false);
    expect(hasZeroCopy(null)).toBe(false);
  });

  it('maps control errnos to user-facing codes', () => {
    const e = (errno: number) => Object.assign(new Error('x'), { errno });
    expect(controlError(e(17), 'ADD_DEV', 3).code).toBe('UC_DEVICE_EXISTS');
    expect(controlError(e(28), 'ADD_DEV', 3).code).toBe('UC_DEVICE_EXISTS');
    expect(controlError(e(19), 'GET_DEV_INFO', 9).code).toBe('UC_DEVICE_NOT_FOUND');
    expect(controlError(e(19), 'DEL_DEV', 9).message).toMatch(/no ublk device with id 9/);
    expect(controlError(e(1), 'START_DEV', 0).code).toBe('UC_NOT_ROOT');
    const io = controlError(e(5), 'START_DEV', 0);
    expect(io.code).toBe('UC_IO');
    expect(io.errno).toBe(5);
  });
});
