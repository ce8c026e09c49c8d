// Raw io_uring system calls (no liburing): the machine's <linux/io_uring.h>
// gives the structs; everything else is done here.
#include "ring.h"

#include <errno.h>
#include <sys/mman.h>
#include <sys/syscall.h>
#include <unistd.h>

#include <cassert>
#include <cstring>

namespace ublk {

namespace {

int SysIoUringSetup(uint32_t entries, io_uring_params* p) {
  return static_cast<int>(syscall(__NR_io_uring_setup, entries, p));
}

int SysIoUringEnter(int fd, uint32_t to_submit, uint32_t min_complete, uint32_t flags) {
  return static_cast<int>(syscall(__NR_io_uring_enter, fd, to_submit, min_complete, flags, nullptr, 0));
}

int SysIoUringRegister(int fd, uint32_t opcode, const void* arg, uint32_t nr_args) {
  return static_cast<int>(syscall(__NR_io_uring_register, fd, opcode, arg, nr_args));
}

Mapping MapRing(int fd, size_t len, uint64_t offset) {
  void* addr = mmap(nullptr, len, PROT_READ | PROT_WRITE, MAP_SHARED | MAP_POPULATE, fd, offset);
  if (addr == MAP_FAILED) throw SysError{errno, "mmap io_uring"};
  return Mapping(addr, len);
}

}  // namespace

Mapping& Mapping::operator=(Mapping&& other) noexcept {
  if (this != &other) {
    Reset();
    addr_ = other.addr_;
    len_ = other.len_;
    other.addr_ = nullptr;
    other.len_ = 0;
  }
  return *this;
}

void Mapping::Reset() {
  if (addr_ != nullptr) {
    int rc = munmap(addr_, len_);
    assert(rc == 0);  // only fails for a bad address: a bug
    (void)rc;
  }
  addr_ = nullptr;
  len_ = 0;
}

Fd& Fd::operator=(Fd&& other) noexcept {
  if (this != &other) {
    Reset();
    fd_ = other.Release();
  }
  return *this;
}

void Fd::Reset() {
  if (fd_ >= 0) close(fd_);  // close errors are not actionable for our fds
  fd_ = -1;
}

Ring::Ring(const Options& options) {
  assert(options.entries > 0);
  io_uring_params p;
  memset(&p, 0, sizeof p);
  p.flags = options.flags;
  if (options.cq_entries != 0) {
    p.flags |= IORING_SETUP_CQSIZE;
    p.cq_entries = options.cq_entries;
  }
  int fd = SysIoUringSetup(options.entries, &p);
  if (fd < 0) throw SysError{errno, "io_uring_setup"};
  fd_ = Fd(fd);
  sqe128_ = (p.flags & IORING_SETUP_SQE128) != 0;
  features_ = p.features;
  sq_entries_ = p.sq_entries;
  cq_entries_ = p.cq_entries;

  size_t sq_len = p.sq_off.array + p.sq_entries * sizeof(uint32_t);
  size_t cq_len = p.cq_off.cqes + p.cq_entries * sizeof(io_uring_cqe);
  bool single = (p.features & IORING_FEAT_SINGLE_MMAP) != 0;
  if (single && cq_len > sq_len) sq_len = cq_len;
  sq_map_ = MapRing(fd, sq_len, IORING_OFF_SQ_RING);
  uint8_t* cq_base = sq_map_.get();
  if (!single) {
    cq_map_ = MapRing(fd, cq_len, IORING_OFF_CQ_RING);
    cq_base = cq_map_.get();
  }
  size_t sqe_size = sqe128_ ? 128 : sizeof(io_uring_sqe);
  sqes_map_ = MapRing(fd, sqe_size * p.sq_entries, IORING_OFF_SQES);
  sqes_ = sqes_map_.get();

  uint8_t* sq = sq_map_.get();
  sq_head_ = reinterpret_cast<uint32_t*>(sq + p.sq_off.head);
  sq_tail_ = reinterpret_cast<uint32_t*>(sq + p.sq_off.tail);
  sq_mask_ = *reinterpret_cast<uint32_t*>(sq + p.sq_off.ring_mask);
  sq_flags_ = reinterpret_cast<uint32_t*>(sq + p.sq_off.flags);
  sq_array_ = reinterpret_cast<uint32_t*>(sq + p.sq_off.array);
  cq_head_ = reinterpret_cast<uint32_t*>(cq_base + p.cq_off.head);
  cq_tail_ = reinterpret_cast<uint32_t*>(cq_base + p.cq_off.tail);
  cq_mask_ = *reinterpret_cast<uint32_t*>(cq_base + p.cq_off.ring_mask);
  cqes_ = reinterpret_cast<io_uring_cqe*>(cq_base + p.cq_off.cqes);
  // Identity SQ index array: slot i always holds SQE i.
  for (uint32_t i = 0; i < p.sq_entries; ++i) sq_array_[i] = i;
  sq_tail_local_ = *sq_tail_;
}

Ring::~Ring() = default;  // members unmap and close in reverse order

io_uring_sqe* Ring::GetSqe() {
  uint32_t head = __atomic_load_n(sq_head_, __ATOMIC_ACQUIRE);
  if (sq_tail_local_ - head >= sq_entries_) return nullptr;
  size_t sqe_size = sqe128_ ? 128 : sizeof(io_uring_sqe);
  auto* sqe = reinterpret_cast<io_uring_sqe*>(sqes_ + (sq_tail_local_ & sq_mask_) * sqe_size);
  memset(sqe, 0, sqe_size);
  sq_tail_local_ += 1;
  return sqe;
}

uint32_t Ring::Submit() {
  // Everything the kernel has not consumed: new SQEs and any left behind
  // by an earlier enter that failed with EAGAIN/EBUSY.
  uint32_t to_submit = Unsubmitted();
  if (to_submit == 0) return 0;
  __atomic_store_n(sq_tail_, sq_tail_local_, __ATOMIC_RELEASE);
  uint32_t done = 0;
  while (done < to_submit) {
    int rc = SysIoUringEnter(fd_.get(), to_submit - done, 0, 0);
    if (rc < 0) {
      if (errno == EINTR) continue;
      // EAGAIN/EBUSY: the kernel is short of memory or the CQ is overflowing;
      // the SQEs stay published and go with the next enter.
      if (errno == EAGAIN || errno == EBUSY) break;
      throw SysError{errno, "io_uring_enter"};
    }
    if (rc == 0) break;
    done += static_cast<uint32_t>(rc);
  }
  return done;
}

uint32_t Ring::Reap(const std::function<void(const io_uring_cqe&)>& fn) {
  uint32_t count = 0;
  for (;;) {
    uint32_t head = *cq_head_;
    uint32_t tail = __atomic_load_n(cq_tail_, __ATOMIC_ACQUIRE);
    if (head == tail) break;
    while (head != tail) {
      io_uring_cqe cqe = cqes_[head & cq_mask_];  // copy: the slot is reused after the head moves
      head += 1;
      __atomic_store_n(cq_head_, head, __ATOMIC_RELEASE);
      fn(cqe);
      count += 1;
    }
  }
  return count;
}

bool Ring::NeedsEnter() const {
  uint32_t flags = __atomic_load_n(sq_flags_, __ATOMIC_RELAXED);
  return (flags & (IORING_SQ_CQ_OVERFLOW | IORING_SQ_TASKRUN)) != 0;
}

void Ring::EnterGetEvents() {
  int rc;
  do {
    rc = SysIoUringEnter(fd_.get(), 0, 0, IORING_ENTER_GETEVENTS);
  } while (rc < 0 && errno == EINTR);
  if (rc < 0 && errno != EAGAIN && errno != EBUSY) throw SysError{errno, "io_uring_enter(GETEVENTS)"};
}

void Ring::RegisterEventfd(int efd) {
  if (SysIoUringRegister(fd_.get(), IORING_REGISTER_EVENTFD, &efd, 1) < 0) {
    throw SysError{errno, "io_uring_register(EVENTFD)"};
  }
}

void Ring::RegisterSparseBuffers(uint32_t count) {
  if (count <= buffer_slots_) return;
  // The kernel refuses a second table (EBUSY): sized once, by the first caller.
  if (buffer_slots_ != 0) throw SysError{EBUSY, "io_uring_register(BUFFERS2): a smaller table is registered"};
  io_uring_rsrc_register reg;
  memset(&reg, 0, sizeof reg);
  reg.nr = count;
  reg.flags = IORING_RSRC_REGISTER_SPARSE;
  if (SysIoUringRegister(fd_.get(), IORING_REGISTER_BUFFERS2, &reg, sizeof reg) < 0) {
    throw SysError{errno, "io_uring_register(BUFFERS2, sparse)"};
  }
  buffer_slots_ = count;
}

void Ring::UnregisterEventfd() {
  if (SysIoUringRegister(fd_.get(), IORING_UNREGISTER_EVENTFD, nullptr, 0) < 0) {
    throw SysError{errno, "io_uring_register(UNREGISTER_EVENTFD)"};
  }
}

}  // namespace ublk
