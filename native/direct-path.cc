#include "direct-path.h"

#include <errno.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/uio.h>

#include <algorithm>
#include <cassert>

namespace ublk {

namespace {

constexpr uint32_t kIoFlagFua = 1u << 13;
constexpr uint32_t kIoFlagNoUnmap = 1u << 15;
constexpr uint64_t kSectorsPerBlock = 8;  // the device has 4 KiB logical blocks
constexpr uint32_t kSectorShift = 9;

}  // namespace

DirectPath::DirectPath(DirectHost* host, uint16_t depth, const DirectConfig& config)
    : host_(host), config_(config), ops_(depth) {
  for (uint16_t tag = 0; tag < depth; ++tag) {
    ops_[tag].path = this;
    ops_[tag].tag = tag;
  }
}

bool DirectPath::ModeRefused(uint32_t mode) const {
  return std::find(refused_modes_.begin(), refused_modes_.end(), mode) != refused_modes_.end();
}

bool DirectPath::Start(Napi::Env env, EventRing& ring, uint16_t tag, const ublksrv_io_desc& iod, uint8_t* buf) {
  assert(tag < ops_.size());
  TagOp& op = ops_[tag];
  op.op = static_cast<uint8_t>(iod.op_flags & 0xff);
  op.start_sector = iod.start_sector;
  op.nr_sectors = iod.nr_sectors;
  op.expect = 0;
  op.fmode = 0;
  uint64_t offset = 0;
  uint64_t length = 0;
  if (op.op != kIoOpFlush) {
    // Whole blocks inside the device, else JS commits -EINVAL as it always did.
    uint64_t end_sector = iod.start_sector + iod.nr_sectors;
    if (iod.nr_sectors == 0 || iod.start_sector % kSectorsPerBlock != 0 || iod.nr_sectors % kSectorsPerBlock != 0 ||
        end_sector < iod.start_sector || (end_sector << kSectorShift) > config_.size_bytes) {
      return false;
    }
    offset = iod.start_sector << kSectorShift;
    length = static_cast<uint64_t>(iod.nr_sectors) << kSectorShift;
  }
  switch (op.op) {
    case kIoOpRead:
    case kIoOpWrite:
      op.expect = static_cast<uint32_t>(length);
      break;
    case kIoOpFlush:
      break;
    case kIoOpDiscard:
      op.fmode = FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
      break;
    case kIoOpWriteZeroes:
      op.fmode = (iod.op_flags & kIoFlagNoUnmap) != 0 ? FALLOC_FL_ZERO_RANGE | FALLOC_FL_KEEP_SIZE
                                                       : FALLOC_FL_PUNCH_HOLE | FALLOC_FL_KEEP_SIZE;
      break;
    default:
      return false;  // JS answers -EOPNOTSUPP
  }
  if (op.fmode != 0 && ModeRefused(op.fmode)) return false;  // JS writes zeros
  uint32_t rw_flags = (op.op == kIoOpWrite && (iod.op_flags & kIoFlagFua) != 0) ? RWF_DSYNC : 0;
  if (config_.inline_rw && op.expect != 0) {
    inflight_ += 1;
    OnCqe(env, op, InlineRw(op, buf, offset, rw_flags));
    return true;
  }
  io_uring_sqe* sqe = nullptr;
  try {
    sqe = ring.Sqe();
  } catch (const Napi::Error&) {
    return false;  // the JS path retries through its own submission
  }
  sqe->fd = config_.file_fd;
  switch (op.op) {
    case kIoOpRead:
    case kIoOpWrite:
      sqe->opcode = op.op == kIoOpRead ? IORING_OP_READ : IORING_OP_WRITE;
      sqe->addr = reinterpret_cast<uint64_t>(buf);
      sqe->len = op.expect;
      sqe->off = offset;
      // FUA: the data is durable when the write completes (as the JS path's RWF_DSYNC).
      sqe->rw_flags = rw_flags;
      break;
    case kIoOpFlush:
      // Every write committed before this FLUSH arrived has completed into
      // the file: fdatasync covers it.
      sqe->opcode = IORING_OP_FSYNC;
      sqe->fsync_flags = IORING_FSYNC_DATASYNC;
      break;
    default:
      // IORING_OP_FALLOCATE: mode in len, length in addr.
      sqe->opcode = IORING_OP_FALLOCATE;
      sqe->off = offset;
      sqe->addr = length;
      sqe->len = op.fmode;
      break;
  }
  ring.Track(sqe, &op);
  inflight_ += 1;
  return true;
}

int32_t DirectPath::InlineRw(const TagOp& op, uint8_t* buf, uint64_t offset, uint32_t rw_flags) const {
  iovec iov{buf, op.expect};
  ssize_t n = 0;
  do {
    n = op.op == kIoOpRead ? preadv2(config_.file_fd, &iov, 1, static_cast<off_t>(offset), 0)
                           : pwritev2(config_.file_fd, &iov, 1, static_cast<off_t>(offset), static_cast<int>(rw_flags));
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : static_cast<int32_t>(n);
}

void DirectPath::OnCqe(Napi::Env env, TagOp& op, int32_t res) {
  assert(inflight_ > 0);
  inflight_ -= 1;
  bool rw = op.op == kIoOpRead || op.op == kIoOpWrite;
  if (res == -EOPNOTSUPP && op.fmode != 0) {
    if (!ModeRefused(op.fmode)) refused_modes_.push_back(op.fmode);
    counters_.to_js += 1;
    host_->DirectToJs(env, op.tag);
    return;
  }
  if (res == -EINVAL && rw) {
    // An aligned, in-range transfer refused: O_DIRECT constraints this
    // filesystem did not announce at open. The JS path's buffered descriptor
    // serves it (and its own error, if any, is what the kernel gets).
    counters_.to_js += 1;
    host_->DirectToJs(env, op.tag);
    return;
  }
  if (res < 0) {
    counters_.errors += 1;
    errors_.push_back(DirectError{op.op, op.start_sector, op.nr_sectors, -res});
    host_->DirectDone(env, op.tag, res);
    return;
  }
  if (rw && static_cast<uint32_t>(res) != op.expect) {
    // Short: end of a file that shrank, or a partial write. JS loops.
    counters_.to_js += 1;
    host_->DirectToJs(env, op.tag);
    return;
  }
  Count(op);
  host_->DirectDone(env, op.tag, rw ? res : 0);
}

void DirectPath::Count(const TagOp& op) {
  switch (op.op) {
    case kIoOpRead:
      counters_.reads += 1;
      counters_.read_bytes += op.expect;
      break;
    case kIoOpWrite:
      counters_.writes += 1;
      counters_.write_bytes += op.expect;
      break;
    case kIoOpFlush:
      counters_.flushes += 1;
      break;
    case kIoOpDiscard:
      counters_.discards += 1;
      break;
    default:
      counters_.write_zeroes += 1;
      break;
  }
}

std::vector<DirectError> DirectPath::TakeErrors() {
  std::vector<DirectError> out;
  out.swap(errors_);
  return out;
}

}  // namespace ublk
