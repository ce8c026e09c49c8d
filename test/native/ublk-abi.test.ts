// The ublk ABI compiled into the addon against the kernel header's values
// (docs/ublk-protocol.md; the offsets were checked with gcc on x86-64).
import { describe, expect, it } from 'vitest';
import { encodeCtrlSqe, ublkAbi } from '../../src/native/index.js';

describe('ublk ABI of the addon', () => {
  const abi = ublkAbi();

  it('struct sizes and offsets match the kernel', () => {
    expect(abi.structs.ctrlCmd).toEqual({
      size: 32,
      offsets: { dev_id: 0, queue_id: 4, len: 6, addr: 8, data: 16, dev_path_len: 24 },
    });
    expect(abi.structs.devInfo.size).toBe(64);
    expect(abi.structs.devInfo.offsets).toMatchObject({
      nr_hw_queues: 0, queue_depth: 2, state: 4, max_io_buf_bytes: 8, dev_id: 12,
      ublksrv_pid: 16, flags: 24, ublksrv_flags: 32, owner_uid: 40, owner_gid: 44,
    });
    expect(abi.structs.params.offsets).toMatchObject({
      len: 0, types: 4, basic: 8, discard: 40, devt: 60, zoned: 76, dma: 108, seg: 120,
      'basic.dev_sectors': 24, 'discard.max_discard_segments': 56,
    });
    expect(abi.structs.ioDesc).toEqual({ size: 24, offsets: { op_flags: 0, nr_sectors: 4, start_sector: 8, addr: 16 } });
    expect(abi.structs.ioCmd).toEqual({ size: 16, offsets: { q_id: 0, tag: 2, result: 4, addr: 8 } });
    expect(abi.structs.sqe.offsets).toMatchObject({ opcode: 0, fd: 4, cmd_op: 8, addr: 16, len: 24, user_data: 32, buf_index: 40, cmd: 48 });
    expect(abi.structs.sqe.size).toBe(64);
  });

  it('ioctl-encoded and legacy opcodes match the kernel', () => {
    expect(abi.ioctl).toMatchObject({
      GET_QUEUE_AFFINITY: 0x80207501, GET_DEV_INFO: 0x80207502, ADD_DEV: 0xc0207504, DEL_DEV: 0xc0207505,
      START_DEV: 0xc0207506, STOP_DEV: 0xc0207507, SET_PARAMS: 0xc0207508, GET_PARAMS: 0x80207509,
      START_USER_RECOVERY: 0xc0207510, END_USER_RECOVERY: 0xc0207511, GET_DEV_INFO2: 0x80207512,
      GET_FEATURES: 0x80207513, FETCH_REQ: 0xc0107520, COMMIT_AND_FETCH_REQ: 0xc0107521, NEED_GET_DATA: 0xc0107522,
    });
    expect(abi.legacy).toMatchObject({ ADD_DEV: 0x04, START_DEV: 0x06, END_USER_RECOVERY: 0x11, FETCH_REQ: 0x20 });
    expect(abi.legacy.GET_FEATURES).toBeUndefined(); // never existed in legacy form
  });

  it('zero copy: ublk_auto_buf_reg in sqe->addr, the user-copy offsets, the fixed-buffer opcodes', () => {
    // bits 0-15 index, 16-23 flags (UBLK_AUTO_BUF_REG_FALLBACK = 1), the rest zero.
    expect(abi.zeroCopy.autoBufRegAddr).toBe(0x10005);
    // UBLKSRV_IO_BUF_OFFSET + (q << UBLK_QID_OFF 41) + (tag << UBLK_TAG_OFF 25).
    expect(abi.zeroCopy.userCopyPos).toBe(0x80000000 + 2 * 2 ** 41 + 3 * 2 ** 25);
    expect(abi.zeroCopy.needRegBuf).toBe(1 << 17);
    expect(abi.zeroCopy.readFixed).toBe(4);
    expect(abi.zeroCopy.writeFixed).toBe(5);
  });

  it('encodes a control SQE: URING_CMD, cmd_op, ctrl_cmd at byte 48', () => {
    const sqe = encodeCtrlSqe('START_DEV', 7, 4242, 0x1000, 64, false);
    expect(sqe.length).toBe(128);
    expect(abi.structs.sqe.offsets.IORING_OP_URING_CMD).toBe(46);
    expect(sqe[0]).toBe(46);
    expect(sqe.readInt32LE(4)).toBe(-1);
    expect(sqe.readUInt32LE(8)).toBe(0xc0207506);
    expect(sqe.readUInt32LE(48)).toBe(7); // dev_id
    expect(sqe.readUInt16LE(52)).toBe(0xffff); // queue_id
    expect(sqe.readUInt16LE(54)).toBe(64); // len
    expect(sqe.readBigUInt64LE(56)).toBe(0x1000n); // addr
    expect(sqe.readBigUInt64LE(64)).toBe(4242n); // data[0]
    const legacy = encodeCtrlSqe('START_DEV', 7, 4242, 0, 0, true);
    expect(legacy.readUInt32LE(8)).toBe(0x06);
    expect(encodeCtrlSqe('GET_FEATURES', 0xffffffff, 0, 0, 8, false).readUInt32LE(8)).toBe(0x80207513);
    // UPDATE_SIZE (6.16+): _IOWR nr 0x15, the new size in sectors in data[0].
    const grow = encodeCtrlSqe('UPDATE_SIZE', 3, 4194304, 0, 0, false);
    expect(grow.readUInt32LE(8)).toBe(0xc0207515);
    expect(grow.readBigUInt64LE(48 + 16)).toBe(4194304n);
  });
});
