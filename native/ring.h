// Raw io_uring: setup, the SQ/CQ mmaps (RAII), SQE allocation, enter and
// register. No event-loop or JS knowledge: see event-ring.h for that.
#ifndef UBLK_NATIVE_RING_H_
#define UBLK_NATIVE_RING_H_

#include <linux/io_uring.h>

#include <cstddef>
#include <cstdint>
#include <functional>

namespace ublk {

// An mmap'ed region, unmapped on destruction.
class Mapping {
 public:
  Mapping() = default;
  Mapping(void* addr, size_t len) : addr_(addr), len_(len) {}
  ~Mapping() { Reset(); }
  Mapping(Mapping&& other) noexcept { *this = static_cast<Mapping&&>(other); }
  Mapping& operator=(Mapping&& other) noexcept;
  Mapping(const Mapping&) = delete;
  Mapping& operator=(const Mapping&) = delete;
  void Reset();
  uint8_t* get() const { return static_cast<uint8_t*>(addr_); }
  size_t size() const { return len_; }

 private:
  void* addr_ = nullptr;
  size_t len_ = 0;
};

// A file descriptor closed on destruction.
class Fd {
 public:
  Fd() = default;
  explicit Fd(int fd) : fd_(fd) {}
  ~Fd() { Reset(); }
  Fd(Fd&& other) noexcept : fd_(other.Release()) {}
  Fd& operator=(Fd&& other) noexcept;
  Fd(const Fd&) = delete;
  Fd& operator=(const Fd&) = delete;
  int get() const { return fd_; }
  int Release() { int fd = fd_; fd_ = -1; return fd; }
  void Reset();

 private:
  int fd_ = -1;
};

// Thrown by every failing system call wrapper; converted to a JS Error with
// errno at the N-API boundary.
struct SysError {
  int err;            // positive errno
  const char* what;   // the call that failed, e.g. "io_uring_setup"
};

class Ring {
 public:
  struct Options {
    uint32_t entries = 256;
    uint32_t cq_entries = 0;  // 0: kernel default (2 * entries)
    uint32_t flags = 0;       // IORING_SETUP_*
  };
  explicit Ring(const Options& options);
  ~Ring();
  Ring(const Ring&) = delete;
  Ring& operator=(const Ring&) = delete;

  // A zeroed SQE, or nullptr when the SQ is full (call Submit() and retry).
  io_uring_sqe* GetSqe();
  // Sends every queued SQE; returns how many the kernel consumed.
  uint32_t Submit();
  // SQEs handed out by GetSqe() that the kernel has not consumed yet
  // (including published ones an earlier enter left behind on EAGAIN).
  uint32_t Unsubmitted() const { return sq_tail_local_ - __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE); }
  // Calls fn(cqe) for every available CQE, then advances the head.
  uint32_t Reap(const std::function<void(const io_uring_cqe&)>& fn);
  // CQEs are waiting to be reaped.
  bool CqReady() const { return *cq_head_ != __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE); }
  // Kernel asks for an enter: overflowed CQEs or pending task work.
  bool NeedsEnter() const;
  // io_uring_enter(GETEVENTS, min 0): flushes overflow and runs task work.
  void EnterGetEvents();

  void RegisterEventfd(int efd);
  void UnregisterEventfd();
  // A sparse fixed-buffer table of at least `count` slots (empty until the
  // kernel fills a slot, e.g. ublk's automatic buffer registration). Once
  // per ring: a later call with a count that fits is a no-op.
  void RegisterSparseBuffers(uint32_t count);
  uint32_t buffer_slots() const { return buffer_slots_; }

  int fd() const { return fd_.get(); }
  bool sqe128() const { return sqe128_; }
  uint32_t sq_entries() const { return sq_entries_; }
  uint32_t cq_entries() const { return cq_entries_; }
  uint32_t features() const { return features_; }

 private:
  Fd fd_;
  Mapping sq_map_;
  Mapping cq_map_;  // empty with IORING_FEAT_SINGLE_MMAP
  Mapping sqes_map_;
  bool sqe128_ = false;
  uint32_t features_ = 0;
  uint32_t sq_entries_ = 0;
  uint32_t cq_entries_ = 0;
  uint32_t buffer_slots_ = 0;  // fixed-buffer table size, 0: none registered
  // SQ ring pointers
  uint32_t* sq_head_ = nullptr;
  uint32_t* sq_tail_ = nullptr;
  uint32_t sq_mask_ = 0;
  uint32_t* sq_flags_ = nullptr;
  uint32_t* sq_array_ = nullptr;
  uint32_t sq_tail_local_ = 0;  // SQEs handed out, not yet published
  // CQ ring pointers
  uint32_t* cq_head_ = nullptr;
  uint32_t* cq_tail_ = nullptr;
  uint32_t cq_mask_ = 0;
  io_uring_cqe* cqes_ = nullptr;
  uint8_t* sqes_ = nullptr;
};

}  // namespace ublk

#endif  // UBLK_NATIVE_RING_H_
