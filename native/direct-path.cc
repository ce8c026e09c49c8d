#include "direct-path.h"

#include <errno.h>
#include <linux/falloc.h>
#include <linux/fs.h>
#include <sys/uio.h>
#include <unistd.h>

#include <algorithm>
#include <utility>
#include <cassert>

namespace ublk {

namespace {

constexpr uint64_t kSectorsPerBlock = 8;  // the device has 4 KiB logical blocks
constexpr uint32_t kSectorShift = 9;

}  // namespace

DirectPath::DirectPath(DirectHost* host, uint16_t depth, const DirectConfig& config, Fd file)
    : host_(host), config_(config), file_(std::move(file)), ops_(depth) {
  assert(file_.get() >= 0);
  assert(!(config_.zero_copy && config_.inline_rw));
  for (uint16_t tag = 0; tag < depth; ++tag) {
    ops_[tag].path = this;
    ops_[tag].tag = tag;
  }
}

void DirectPath::CloseFile() {
  assert(inflight_ == 0);
  file_.Reset();
}

bool DirectPath::ModeRefused(uint32_t mode) const {
  return std::find(refused_modes_.begin(), refused_modes_.end(), mode) != refused_modes_.end();
}

bool DirectPath::Start(Napi::Env env, EventRing& ring, uint16_t tag, const ublksrv_io_desc& iod, uint8_t* buf) {
  assert(tag < ops_.size());
  ring_ = &ring;
  TagOp& op = ops_[tag];
  op.op = static_cast<uint8_t>(iod.op_flags & 0xff);
  op.start_sector = iod.start_sector;
  op.nr_sectors = iod.nr_sectors;
  op.expect = 0;
  op.fmode = 0;
  op.offset = 0;
  op.length = 0;
  op.buf = buf;
  op.raw = false;
  op.blocked = false;
  op.device_flush = false;
  if (op.op != kIoOpFlush) {
    // Whole blocks inside the device, else JS commits -EINVAL as it always did.
    uint64_t end_sector = iod.start_sector + iod.nr_sectors;
    if (iod.nr_sectors == 0 || iod.start_sector % kSectorsPerBlock != 0 || iod.nr_sectors % kSectorsPerBlock != 0 ||
        end_sector < iod.start_sector || end_sector > (config_.size_bytes >> kSectorShift)) {
      return false;
    }
    op.offset = iod.start_sector << kSectorShift;
    op.length = static_cast<uint64_t>(iod.nr_sectors) << kSectorShift;
  }
  switch (op.op) {
    case kIoOpRead:
    case kIoOpWrite:
      op.expect = static_cast<uint32_t>(op.length);
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
  if (config_.zero_copy && (iod.op_flags & kIoFNeedRegBuf) != 0) {
    // The kernel could not register the pages (the slot was taken): the JS
    // path serves it through the per-tag buffer (the queue's user copy).
    HandOff(op);
    return false;
  }
  // FUA: the data is durable when the write completes (as the JS path's RWF_DSYNC).
  op.rw_flags = (op.op == kIoOpWrite && (iod.op_flags & kIoFlagFua) != 0) ? RWF_DSYNC : 0;
  ExtentMap* map = config_.map;
  if (op.fmode != 0 && map != nullptr) {
    // Any fallocate may free or move the range's blocks: out of the map now,
    // no refresh until it ends, and no freeing under a raw write in flight.
    map->Drop(op.offset, op.length);
    map->Block(op.offset, op.length);
    op.blocked = true;
    if (map->RawOverlaps(op.offset, op.length)) {
      inflight_ += 1;
      map->Park(this, tag, op.offset, op.length);
      return true;
    }
  }
  if (Issue(env, op)) return true;
  HandOff(op);
  return false;
}

void DirectPath::Unparked(Napi::Env env, uint16_t tag) {
  TagOp& op = ops_[tag];
  assert(inflight_ > 0);
  inflight_ -= 1;
  if (Issue(env, op)) return;
  HandOff(op);
  counters_.to_js += 1;
  host_->DirectToJs(env, op.tag);
}

void DirectPath::HandOff(TagOp& op) {
  // JS serves it through its buffered descriptor: its writes and fallocates
  // change the file behind the map's back and its reads fill the page cache
  // raw writes would make stale. Out of the map, and blocked until JsDone().
  ExtentMap* map = config_.map;
  if (map == nullptr || op.length == 0 || op.blocked) return;
  map->Drop(op.offset, op.length);
  map->Block(op.offset, op.length);
  op.blocked = true;
}

void DirectPath::JsDone(uint16_t tag) {
  if (tag >= ops_.size()) return;
  TagOp& op = ops_[tag];
  if (op.blocked && config_.map != nullptr) {
    config_.map->Unblock(op.offset, op.length);
    // What JS read may now sit in the page cache, and raw writes would not
    // update it there.
    if (op.op == kIoOpRead) config_.map->DropPageCache();
  }
  op.blocked = false;
}

bool DirectPath::Issue(Napi::Env env, TagOp& op) {
  if (op.fmode != 0 && ModeRefused(op.fmode)) return false;  // JS writes zeros
  if (config_.inline_rw && op.expect != 0) {
    inflight_ += 1;
    OnCqe(env, op, InlineRw(op, op.buf, op.offset, op.rw_flags));
    return true;
  }
  io_uring_sqe* sqe = nullptr;
  try {
    sqe = ring_->Sqe();
  } catch (const Napi::Error&) {
    return false;  // the JS path retries through its own submission
  }
  sqe->fd = file_.get();
  switch (op.op) {
    case kIoOpRead:
    case kIoOpWrite: {
      uint64_t phys = 0;
      ExtentMap* map = config_.map;
      op.raw = map != nullptr && map->Lookup(op.offset, op.length, &phys);
      if (config_.zero_copy) {
        // The request's pages, registered by the kernel; addr is the offset in them.
        sqe->opcode = op.op == kIoOpRead ? IORING_OP_READ_FIXED : IORING_OP_WRITE_FIXED;
        sqe->buf_index = static_cast<uint16_t>(config_.buf_index_base + op.tag);
        sqe->addr = 0;
      } else {
        sqe->opcode = op.op == kIoOpRead ? IORING_OP_READ : IORING_OP_WRITE;
        sqe->addr = reinterpret_cast<uint64_t>(op.buf);
      }
      sqe->len = op.expect;
      sqe->off = op.offset;
      sqe->rw_flags = op.rw_flags;
      if (op.raw) {
        sqe->fd = map->dev_fd();
        sqe->off = phys;
        map->RawBegin(op.offset, op.length);
      }
      break;
    }
    case kIoOpFlush:
      // Every write committed before this FLUSH arrived has completed into
      // the file or the raw device: fdatasync covers the file (and the
      // metadata that makes its data reachable), then the device's cache.
      sqe->opcode = IORING_OP_FSYNC;
      sqe->fsync_flags = IORING_FSYNC_DATASYNC;
      break;
    default:
      // IORING_OP_FALLOCATE: mode in len, length in addr.
      sqe->opcode = IORING_OP_FALLOCATE;
      sqe->off = op.offset;
      sqe->addr = op.length;
      sqe->len = op.fmode;
      break;
  }
  ring_->Track(sqe, &op);
  inflight_ += 1;
  return true;
}

// The FLUSH's second step on the direct-mapped path. false: none was queued.
bool DirectPath::FlushDevice(Napi::Env env, TagOp& op) {
  io_uring_sqe* sqe = nullptr;
  try {
    sqe = ring_->Sqe();
  } catch (const Napi::Error&) {
    return false;
  }
  sqe->fd = config_.map->dev_fd();
  sqe->opcode = IORING_OP_FSYNC;
  op.device_flush = true;
  ring_->Track(sqe, &op);
  inflight_ += 1;
  return true;
}

int32_t DirectPath::InlineRw(const TagOp& op, uint8_t* buf, uint64_t offset, uint32_t rw_flags) const {
  iovec iov{buf, op.expect};
  ssize_t n = 0;
  do {
    n = op.op == kIoOpRead ? preadv2(file_.get(), &iov, 1, static_cast<off_t>(offset), 0)
                           : pwritev2(file_.get(), &iov, 1, static_cast<off_t>(offset), static_cast<int>(rw_flags));
  } while (n < 0 && errno == EINTR);
  return n < 0 ? -errno : static_cast<int32_t>(n);
}

void DirectPath::OnCqe(Napi::Env env, TagOp& op, int32_t res) {
  assert(inflight_ > 0);
  inflight_ -= 1;
  ExtentMap* map = config_.map;
  bool rw = op.op == kIoOpRead || op.op == kIoOpWrite;
  if (op.op == kIoOpFlush && res == 0 && map != nullptr && !op.device_flush) {
    if (FlushDevice(env, op)) return;
    res = fsync(map->dev_fd()) < 0 ? -errno : 0;  // no SQE to be had: rare, done here
  }
  bool was_raw = op.raw;
  if (op.raw) {
    op.raw = false;
    map->RawEnd(env, op.offset, op.length);  // may start parked punches
  }
  // A refused fallocate mode (JS writes zeros); an aligned, in-range transfer
  // refused (O_DIRECT constraints this filesystem did not announce at open:
  // the JS path's buffered descriptor serves it, and its own error, if any,
  // is what the kernel gets); a short transfer (end of a file that shrank, a
  // partial write: JS loops).
  bool refused_mode = op.fmode != 0 && res == -EOPNOTSUPP;
  if (refused_mode || (rw && res == -EINVAL) || (rw && res >= 0 && static_cast<uint32_t>(res) != op.expect)) {
    if (refused_mode && !ModeRefused(op.fmode)) refused_modes_.push_back(op.fmode);
    HandOff(op);
    counters_.to_js += 1;
    host_->DirectToJs(env, op.tag);
    return;
  }
  if (op.blocked) {
    map->Unblock(op.offset, op.length);
    op.blocked = false;
  }
  if (res < 0) {
    counters_.errors += 1;
    errors_.push_back(DirectError{op.op, op.start_sector, op.nr_sectors, -res});
    host_->DirectDone(env, op.tag, res);
    return;
  }
  if (op.op == kIoOpWrite && !was_raw && map != nullptr) {
    // A write through the file may have allocated (a hole, an unwritten or
    // shared extent): map what it wrote, in this tick. Its O_DIRECT write
    // dropped the range's page cache. A failure leaves the range unmapped.
    if (map->Refresh(op.offset, op.length, false) == 0) map->CountRefresh(op.length);
  }
  Count(op, was_raw);
  host_->DirectDone(env, op.tag, rw ? res : 0);
}

void DirectPath::Count(const TagOp& op, bool raw) {
  switch (op.op) {
    case kIoOpRead:
      counters_.raw_reads += raw ? 1 : 0;
      counters_.zero_copy_reads += config_.zero_copy ? 1 : 0;
      counters_.reads += 1;
      counters_.read_bytes += op.expect;
      break;
    case kIoOpWrite:
      counters_.raw_writes += raw ? 1 : 0;
      counters_.zero_copy_writes += config_.zero_copy ? 1 : 0;
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
