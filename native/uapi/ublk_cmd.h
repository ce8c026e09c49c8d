// The project's own copy of the ublk user ABI (include/uapi/linux/ublk_cmd.h).
// The build machine's linux-libc-dev (6.1) is older than the kernels we serve,
// so the layouts are written out here and pinned with static_asserts; values
// are from the kernel header (see docs/ublk-protocol.md).
#ifndef UBLK_NATIVE_UAPI_UBLK_CMD_H_
#define UBLK_NATIVE_UAPI_UBLK_CMD_H_

#include <cstddef>
#include <cstdint>

namespace ublk {

// ---- ioctl encoding (asm-generic/ioctl.h): dir(2) size(14) type(8) nr(8)
constexpr uint32_t kIocWrite = 1;
constexpr uint32_t kIocRead = 2;
constexpr uint32_t Ioc(uint32_t dir, uint32_t type, uint32_t nr, uint32_t size) {
  return (dir << 30) | (size << 16) | (type << 8) | nr;
}
constexpr uint32_t kIoctlType = 'u';

// ---- control command numbers (_IOC_NR); the legacy opcode is the bare number
constexpr uint32_t kCmdGetQueueAffinity = 0x01;
constexpr uint32_t kCmdGetDevInfo = 0x02;
constexpr uint32_t kCmdAddDev = 0x04;
constexpr uint32_t kCmdDelDev = 0x05;
constexpr uint32_t kCmdStartDev = 0x06;
constexpr uint32_t kCmdStopDev = 0x07;
constexpr uint32_t kCmdSetParams = 0x08;
constexpr uint32_t kCmdGetParams = 0x09;
constexpr uint32_t kCmdStartUserRecovery = 0x10;
constexpr uint32_t kCmdEndUserRecovery = 0x11;
constexpr uint32_t kCmdGetDevInfo2 = 0x12;
constexpr uint32_t kCmdGetFeatures = 0x13;
constexpr uint32_t kCmdUpdateSize = 0x15;  // 6.16+, with UBLK_F_UPDATE_SIZE; data[0] = sectors
// Commands above this number never existed in legacy form.
constexpr uint32_t kLegacyCmdMax = 0x12;

// ---- io command numbers
constexpr uint32_t kIoFetchReq = 0x20;
constexpr uint32_t kIoCommitAndFetchReq = 0x21;
constexpr uint32_t kIoNeedGetData = 0x22;

// ---- feature flags (u64)
constexpr uint64_t kFSupportZeroCopy = 1ULL << 0;
constexpr uint64_t kFUringCmdCompInTask = 1ULL << 1;
constexpr uint64_t kFNeedGetData = 1ULL << 2;
constexpr uint64_t kFUserRecovery = 1ULL << 3;
constexpr uint64_t kFUserRecoveryReissue = 1ULL << 4;
constexpr uint64_t kFUnprivilegedDev = 1ULL << 5;
constexpr uint64_t kFCmdIoctlEncode = 1ULL << 6;
constexpr uint64_t kFUserCopy = 1ULL << 7;
constexpr uint64_t kFZoned = 1ULL << 8;
constexpr uint64_t kFAutoBufReg = 1ULL << 11;  // 6.16+

// ---- automatic buffer registration (UBLK_F_AUTO_BUF_REG): FETCH and
// COMMIT_AND_FETCH carry struct ublk_auto_buf_reg in sqe->addr (bits 0-15
// index into the ring's fixed-buffer table, 16-23 flags, the rest zero), and
// ublksrv_io_cmd.addr must be 0.
constexpr uint64_t kAutoBufRegFallback = 1;  // deliver with kIoFNeedRegBuf instead of failing the request
constexpr uint32_t kIoFNeedRegBuf = 1u << 17;
constexpr uint64_t AutoBufRegAddr(uint16_t index, uint8_t flags) {
  return static_cast<uint64_t>(index) | (static_cast<uint64_t>(flags) << 16);
}

// ---- user copy (UBLK_F_USER_COPY): pread/pwrite on /dev/ublkcN at this
// offset reach the request's pages of (queue, tag).
constexpr uint64_t kUserCopyOffset = 0x80000000ULL;
constexpr uint32_t kUserCopyTagShift = 25;
constexpr uint32_t kUserCopyQueueShift = 41;
constexpr uint64_t UserCopyPos(uint16_t queue, uint16_t tag) {
  return kUserCopyOffset + (static_cast<uint64_t>(queue) << kUserCopyQueueShift) +
         (static_cast<uint64_t>(tag) << kUserCopyTagShift);
}

// ---- device states
constexpr uint16_t kStateDead = 0;
constexpr uint16_t kStateLive = 1;
constexpr uint16_t kStateQuiesced = 2;

// ---- io results and ops
constexpr int32_t kIoResOk = 0;
constexpr int32_t kIoResNeedGetData = 1;
constexpr int32_t kIoResAbort = -19;  // -ENODEV
constexpr uint32_t kIoOpRead = 0;
constexpr uint32_t kIoOpWrite = 1;
constexpr uint32_t kIoOpFlush = 2;
constexpr uint32_t kIoOpDiscard = 3;
constexpr uint32_t kIoOpWriteZeroes = 5;
constexpr uint32_t kIoFlagFua = 1u << 13;     // UBLK_IO_F_FUA
constexpr uint32_t kIoFlagNoUnmap = 1u << 15;  // UBLK_IO_F_NOUNMAP

// ---- params
constexpr uint32_t kParamTypeBasic = 1u << 0;
constexpr uint32_t kParamTypeDiscard = 1u << 1;
constexpr uint32_t kParamTypeDevt = 1u << 2;

// Offset of queue q's descriptor array in the /dev/ublkcN mmap space:
// UBLKSRV_CMD_BUF_OFFSET (0) + q * round_up(UBLK_MAX_QUEUE_DEPTH * 24, PAGE).
constexpr uint64_t kCmdBufOffset = 0;
constexpr uint32_t kMaxQueueDepth = 4096;

// Control command payload, placed at sqe->cmd (sqe + 48) of an SQE128.
struct ublksrv_ctrl_cmd {
  uint32_t dev_id;        // 0xFFFFFFFF: ADD_DEV allocates
  uint16_t queue_id;      // always 0xFFFF for control commands
  uint16_t len;           // length of the buffer at addr
  uint64_t addr;          // IN/OUT buffer
  uint64_t data[1];       // inline argument (pid, ...)
  uint16_t dev_path_len;  // unprivileged devices only
  uint16_t pad;
  uint32_t reserved;
};

struct ublksrv_ctrl_dev_info {
  uint16_t nr_hw_queues;
  uint16_t queue_depth;
  uint16_t state;
  uint16_t pad0;
  uint32_t max_io_buf_bytes;
  uint32_t dev_id;
  int32_t ublksrv_pid;
  uint32_t pad1;
  uint64_t flags;          // negotiated UBLK_F_*, written back by ADD_DEV
  uint64_t ublksrv_flags;  // private to user space
  uint32_t owner_uid;
  uint32_t owner_gid;
  uint64_t reserved1;
  uint64_t reserved2;
};

struct ublk_param_basic {
  uint32_t attrs;
  uint8_t logical_bs_shift;
  uint8_t physical_bs_shift;
  uint8_t io_opt_shift;
  uint8_t io_min_shift;
  uint32_t max_sectors;
  uint32_t chunk_sectors;
  uint64_t dev_sectors;
  uint64_t virt_boundary_mask;
};

struct ublk_param_discard {
  uint32_t discard_alignment;
  uint32_t discard_granularity;
  uint32_t max_discard_sectors;
  uint32_t max_write_zeroes_sectors;
  uint16_t max_discard_segments;
  uint16_t reserved0;
};

struct ublk_param_devt {
  uint32_t char_major;
  uint32_t char_minor;
  uint32_t disk_major;
  uint32_t disk_minor;
};

struct ublk_param_zoned {
  uint32_t max_open_zones;
  uint32_t max_active_zones;
  uint32_t max_zone_append_sectors;
  uint8_t reserved[20];
};

struct ublk_param_dma_align {
  uint32_t alignment;
  uint8_t pad[4];
};

struct ublk_param_segment {
  uint64_t seg_boundary_mask;
  uint32_t max_segment_size;
  uint16_t max_segments;
  uint8_t pad[2];
};

struct ublk_params {
  uint32_t len;    // bytes passed; the kernel clamps to its own sizeof
  uint32_t types;  // kParamType* bits
  ublk_param_basic basic;
  ublk_param_discard discard;
  ublk_param_devt devt;
  ublk_param_zoned zoned;
  ublk_param_dma_align dma;
  ublk_param_segment seg;
};

// One per tag in the read-only descriptor mmap.
struct ublksrv_io_desc {
  uint32_t op_flags;  // op in bits 0-7, flags above
  uint32_t nr_sectors;
  uint64_t start_sector;
  uint64_t addr;
};

// IO command payload at sqe->cmd of a 64-byte SQE.
struct ublksrv_io_cmd {
  uint16_t q_id;
  uint16_t tag;
  int32_t result;
  uint64_t addr;
};

constexpr uint32_t CtrlIoctl(uint32_t nr, bool read_only) {
  return Ioc(read_only ? kIocRead : (kIocRead | kIocWrite), kIoctlType, nr, sizeof(ublksrv_ctrl_cmd));
}
constexpr uint32_t IoIoctl(uint32_t nr) {
  return Ioc(kIocRead | kIocWrite, kIoctlType, nr, sizeof(ublksrv_io_cmd));
}

// ---- pin every mirrored layout (kernel ABI, x86-64)
static_assert(sizeof(ublksrv_ctrl_cmd) == 32, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_cmd, queue_id) == 4, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_cmd, len) == 6, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_cmd, addr) == 8, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_cmd, data) == 16, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_cmd, dev_path_len) == 24, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_cmd, reserved) == 28, "kernel ABI");

static_assert(sizeof(ublksrv_ctrl_dev_info) == 64, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, queue_depth) == 2, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, state) == 4, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, max_io_buf_bytes) == 8, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, dev_id) == 12, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, ublksrv_pid) == 16, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, flags) == 24, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, ublksrv_flags) == 32, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, owner_uid) == 40, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, owner_gid) == 44, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, reserved1) == 48, "kernel ABI");
static_assert(offsetof(ublksrv_ctrl_dev_info, reserved2) == 56, "kernel ABI");

static_assert(sizeof(ublk_param_basic) == 32, "kernel ABI");
static_assert(offsetof(ublk_param_basic, logical_bs_shift) == 4, "kernel ABI");
static_assert(offsetof(ublk_param_basic, io_min_shift) == 7, "kernel ABI");
static_assert(offsetof(ublk_param_basic, max_sectors) == 8, "kernel ABI");
static_assert(offsetof(ublk_param_basic, chunk_sectors) == 12, "kernel ABI");
static_assert(offsetof(ublk_param_basic, dev_sectors) == 16, "kernel ABI");
static_assert(offsetof(ublk_param_basic, virt_boundary_mask) == 24, "kernel ABI");
static_assert(sizeof(ublk_param_discard) == 20, "kernel ABI");
static_assert(offsetof(ublk_param_discard, max_write_zeroes_sectors) == 12, "kernel ABI");
static_assert(offsetof(ublk_param_discard, max_discard_segments) == 16, "kernel ABI");
static_assert(sizeof(ublk_param_devt) == 16, "kernel ABI");
static_assert(sizeof(ublk_param_zoned) == 32, "kernel ABI");
static_assert(sizeof(ublk_param_dma_align) == 8, "kernel ABI");
static_assert(sizeof(ublk_param_segment) == 16, "kernel ABI");
static_assert(sizeof(ublk_params) == 136, "kernel ABI (through SEGMENT)");
static_assert(offsetof(ublk_params, basic) == 8, "kernel ABI");
static_assert(offsetof(ublk_params, discard) == 40, "kernel ABI");
static_assert(offsetof(ublk_params, devt) == 60, "kernel ABI");
static_assert(offsetof(ublk_params, zoned) == 76, "kernel ABI");
static_assert(offsetof(ublk_params, dma) == 108, "kernel ABI");
static_assert(offsetof(ublk_params, seg) == 120, "kernel ABI");

static_assert(sizeof(ublksrv_io_desc) == 24, "kernel ABI");
static_assert(offsetof(ublksrv_io_desc, nr_sectors) == 4, "kernel ABI");
static_assert(offsetof(ublksrv_io_desc, start_sector) == 8, "kernel ABI");
static_assert(offsetof(ublksrv_io_desc, addr) == 16, "kernel ABI");
static_assert(sizeof(ublksrv_io_cmd) == 16, "kernel ABI");
static_assert(offsetof(ublksrv_io_cmd, tag) == 2, "kernel ABI");
static_assert(offsetof(ublksrv_io_cmd, result) == 4, "kernel ABI");
static_assert(offsetof(ublksrv_io_cmd, addr) == 8, "kernel ABI");

static_assert(CtrlIoctl(kCmdAddDev, false) == 0xC0207504u, "ioctl encoding");
static_assert(CtrlIoctl(kCmdGetDevInfo, true) == 0x80207502u, "ioctl encoding");
static_assert(CtrlIoctl(kCmdGetFeatures, true) == 0x80207513u, "ioctl encoding");
static_assert(IoIoctl(kIoFetchReq) == 0xC0107520u, "ioctl encoding");
static_assert(IoIoctl(kIoCommitAndFetchReq) == 0xC0107521u, "ioctl encoding");

}  // namespace ublk

#endif  // UBLK_NATIVE_UAPI_UBLK_CMD_H_
