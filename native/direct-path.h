// The native request path of the 1:1 layout: a ublk request (READ, WRITE,
// FLUSH, DISCARD, WRITE_ZEROES) becomes backing I/O on the queue's ring, and
// its CQE commits the request (COMMIT_AND_FETCH) without a JS call.
//
// Anything unusual goes back to the JS target, which replays the whole
// request (every operation is idempotent): a short read or write, a range
// that is not whole 4 KiB blocks inside the device, a fallocate mode the
// filesystem refuses (JS writes zeros instead), a read or write the O_DIRECT
// descriptor refuses with EINVAL (JS uses a buffered one), an SQE that
// cannot be had.
// A backing error is committed here as -errno (the JS path commits the same
// value) and reported to JS afterwards, batched: replaying it would hide it,
// since the kernel reports a writeback error to a file only once.
#ifndef UBLK_NATIVE_DIRECT_PATH_H_
#define UBLK_NATIVE_DIRECT_PATH_H_

#include <napi.h>

#include <cstdint>
#include <vector>

#include "event-ring.h"
#include "extent-map.h"
#include "uapi/ublk_cmd.h"

namespace ublk {

// What the direct path needs from the queue that owns the tags.
class DirectHost {
 public:
  virtual ~DirectHost() = default;
  // The backing I/O finished: commit `result` (bytes, 0 or -errno).
  virtual void DirectDone(Napi::Env env, uint16_t tag, int32_t result) = 0;
  // The JS target must serve the request from scratch.
  virtual void DirectToJs(Napi::Env env, uint16_t tag) = 0;
};

struct DirectConfig {
  uint64_t size_bytes = 0;
  // READ/WRITE with pread/pwrite on the main thread instead of the ring: for
  // a file in memory (tmpfs), where io_uring would hand every transfer to an
  // io-wq worker thread, the copy itself is cheaper than that hand-off.
  bool inline_rw = false;
  // The direct-mapped path: READ/WRITE whose whole range the map proves go
  // to map->dev_fd() at the physical offset. Shared by the device's queues.
  ExtentMap* map = nullptr;
  // Zero copy (UBLK_F_AUTO_BUF_REG): the kernel registered the request's
  // pages as fixed buffer buf_index_base + tag of the ring; READ/WRITE
  // become READ_FIXED/WRITE_FIXED on it. Excludes inline_rw.
  bool zero_copy = false;
  uint32_t buf_index_base = 0;
};

// Counters since setDirect(), read by JS on demand.
struct DirectCounters {
  uint64_t reads = 0;
  uint64_t writes = 0;
  uint64_t flushes = 0;
  uint64_t discards = 0;
  uint64_t write_zeroes = 0;
  uint64_t read_bytes = 0;
  uint64_t write_bytes = 0;
  uint64_t errors = 0;
  uint64_t to_js = 0;  // requests handed to the JS path
  // Of reads / writes above: served on the raw device (direct-mapped).
  uint64_t raw_reads = 0;
  uint64_t raw_writes = 0;
  // Of reads / writes above: on the request's own pages (zero copy).
  uint64_t zero_copy_reads = 0;
  uint64_t zero_copy_writes = 0;
};

// One backing failure committed natively, for JS to log and count.
struct DirectError {
  uint8_t op;
  uint64_t start_sector;
  uint32_t nr_sectors;
  int32_t err;  // positive errno
};

class DirectPath : public RawWaiter {
 public:
  // `file`: the backing descriptor the path serves on, its own (a duplicate
  // of the caller's), closed by CloseFile() or with the path.
  DirectPath(DirectHost* host, uint16_t depth, const DirectConfig& config, Fd file);
  DirectPath(const DirectPath&) = delete;
  DirectPath& operator=(const DirectPath&) = delete;

  // Serves `tag` (owned by the native side from now on): queues its backing
  // I/O, or does it inline and reports to the host at once. false: the JS
  // path must serve it (nothing was queued, the host was not called).
  bool Start(Napi::Env env, EventRing& ring, uint16_t tag, const ublksrv_io_desc& iod, uint8_t* buf);
  // Requests started here whose backing I/O is still in flight.
  uint32_t inflight() const { return inflight_; }
  const DirectCounters& counters() const { return counters_; }
  // The device's size: requests past it go to JS (which refuses them).
  uint64_t size_bytes() const { return config_.size_bytes; }
  // An online grow: the backing already holds the new size.
  void SetSize(uint64_t size_bytes) { config_.size_bytes = size_bytes; }
  // Failures committed since the last call.
  std::vector<DirectError> TakeErrors();
  bool has_errors() const { return !errors_.empty(); }
  // The host hands `tag` to JS after all (its commit could not be queued):
  // the same bookkeeping as a hand-off decided here.
  void HandOffTag(uint16_t tag) { HandOff(ops_[tag]); }
  // JS committed `tag`, which this path handed to it.
  void JsDone(uint16_t tag);
  // A parked punch may go: no raw I/O overlaps it any more.
  void Unparked(Napi::Env env, uint16_t tag) override;
  // The queue closed: nothing is in flight and Start() is never called again.
  void CloseFile();

 private:
  class TagOp : public Completion {
   public:
    void OnCqe(Napi::Env env, int32_t res) override { path->OnCqe(env, *this, res); }
    DirectPath* path = nullptr;
    uint16_t tag = 0;
    uint8_t op = 0;
    uint32_t fmode = 0;      // fallocate mode (DISCARD / WRITE_ZEROES)
    uint32_t expect = 0;     // bytes a READ/WRITE must transfer
    uint64_t start_sector = 0;
    uint32_t nr_sectors = 0;
    uint64_t offset = 0;     // bytes into the file
    uint64_t length = 0;
    uint32_t rw_flags = 0;
    uint8_t* buf = nullptr;
    bool raw = false;        // on the raw device, counted in the map's raw set
    bool blocked = false;    // range blocked in the map until the op ends
    bool device_flush = false;  // FLUSH second step: the raw device's cache
  };

  void OnCqe(Napi::Env env, TagOp& op, int32_t res);
  bool Issue(Napi::Env env, TagOp& op);
  void Queue(io_uring_sqe* sqe, TagOp& op);
  void HandOff(TagOp& op);
  bool FlushDevice(Napi::Env env, TagOp& op);
  int32_t InlineRw(const TagOp& op, uint8_t* buf, uint64_t offset, uint32_t rw_flags) const;
  bool ModeRefused(uint32_t mode) const;
  void Count(const TagOp& op, bool raw);

  DirectHost* host_;
  DirectConfig config_;
  Fd file_;
  std::vector<TagOp> ops_;
  std::vector<uint32_t> refused_modes_;  // fallocate modes that said EOPNOTSUPP
  std::vector<DirectError> errors_;
  DirectCounters counters_;
  EventRing* ring_ = nullptr;  // the queue's ring, known from the first Start()
  uint32_t inflight_ = 0;
};

}  // namespace ublk

#endif  // UBLK_NATIVE_DIRECT_PATH_H_
