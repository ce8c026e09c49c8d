#include "io-ring.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <cassert>
#include <cmath>
#include <string>

namespace ublk {

namespace {

// linux/fs.h from 6.12 on; older build headers lack it (the kernel's value).
#ifndef BLOCK_URING_CMD_DISCARD
#define BLOCK_URING_CMD_DISCARD _IO(0x12, 0)
#endif

// One file operation: resolves its promise with cqe->res, or rejects with an
// errno Error naming the call, fd and range. The message is formatted only on
// failure: this object is created for every I/O.
struct OpDesc {
  const char* call;  // "read", "write", "fsync", "fdatasync", "fallocate", "discard"
  int32_t fd;
  uint64_t offset;
  uint64_t length;
  uint32_t mode;  // fallocate mode
};

std::string Describe(const OpDesc& d) {
  std::string what = std::string(d.call) + " fd " + std::to_string(d.fd);
  if (std::string(d.call) == "fallocate") what += " mode " + std::to_string(d.mode);
  if (d.length > 0) {
    what += " at " + std::to_string(d.offset) + " (" + std::to_string(d.length) + " bytes)";
  }
  return what;
}

class PromiseOp : public Completion {
 public:
  PromiseOp(Napi::Env env, IoRingWrap* owner, const OpDesc& desc)
      : deferred_(Napi::Promise::Deferred::New(env)), owner_(owner), desc_(desc) {
    owner_->Hold();
  }
  void KeepAlive(Napi::Object buffer) { buffer_ = Napi::Persistent(buffer); }
  Napi::Promise promise() const { return deferred_.Promise(); }
  // Never submitted (no SQE could be had): free it; its promise was not returned.
  void Discard() {
    IoRingWrap* owner = owner_;
    delete this;
    owner->Release();
  }

  void OnCqe(Napi::Env env, int32_t res) override {
    if (res < 0) {
      deferred_.Reject(MakeErrnoError(env, -res, Describe(desc_)).Value());
    } else {
      deferred_.Resolve(Napi::Number::New(env, res));
    }
    IoRingWrap* owner = owner_;
    delete this;  // releases the buffer reference
    owner->Release();
  }

 private:
  Napi::Promise::Deferred deferred_;
  IoRingWrap* owner_;
  OpDesc desc_;
  Napi::ObjectReference buffer_;
};

io_uring_sqe* AcquireSqe(EventRing& ring, PromiseOp* op) {
  try {
    return ring.Sqe();
  } catch (...) {
    op->Discard();
    throw;
  }
}

// Queues `op` as one SQE that `fill` describes (opcode, fd and arguments).
template <typename Fill>
Napi::Value Submit(EventRing& ring, PromiseOp* op, int32_t fd, uint8_t opcode, Fill fill) {
  io_uring_sqe* sqe = AcquireSqe(ring, op);
  sqe->opcode = opcode;
  sqe->fd = fd;
  fill(sqe);
  ring.Track(sqe, op);
  return op->promise();
}

int32_t ArgFd(const Napi::CallbackInfo& info, size_t i) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), "fd must be a number");
  return info[i].As<Napi::Number>().Int32Value();
}

uint64_t ArgU64(const Napi::CallbackInfo& info, size_t i, const char* name) {
  if (!info[i].IsNumber()) throw Napi::TypeError::New(info.Env(), std::string(name) + " must be a number");
  double v = info[i].As<Napi::Number>().DoubleValue();
  if (!(v >= 0) || v > 9007199254740991.0 || std::floor(v) != v) {
    throw Napi::RangeError::New(info.Env(), std::string(name) + " must be a safe non-negative integer");
  }
  return static_cast<uint64_t>(v);
}

}  // namespace

Napi::Function IoRingWrap::Init(Napi::Env env) {
  return DefineClass(env, "IoRing",
                     {
                         InstanceMethod<&IoRingWrap::Read>("read"),
                         InstanceMethod<&IoRingWrap::Write>("write"),
                         InstanceMethod<&IoRingWrap::Fsync>("fsync"),
                         InstanceMethod<&IoRingWrap::Fallocate>("fallocate"),
                         InstanceMethod<&IoRingWrap::Discard>("discard"),
                         InstanceMethod<&IoRingWrap::Inflight>("inflight"),
                         InstanceMethod<&IoRingWrap::Close>("close"),
                     });
}

IoRingWrap::IoRingWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<IoRingWrap>(info) {
  Napi::Env env = info.Env();
  Ring::Options options;
  options.entries = info[0].As<Napi::Number>().Uint32Value();
  options.cq_entries = info[1].As<Napi::Number>().Uint32Value();
  options.flags = info[2].As<Napi::Number>().Uint32Value();
  if ((options.flags & IORING_SETUP_DEFER_TASKRUN) != 0) {
    throw Napi::Error::New(env, "IORING_SETUP_DEFER_TASKRUN is not supported: the eventfd fires before the CQE");
  }
  try {
    ring_ = std::make_unique<EventRing>(env, options);
  } catch (const SysError& e) {
    throw MakeErrnoError(env, e.err, e.what);
  }
}

IoRingWrap::~IoRingWrap() = default;

EventRing& IoRingWrap::ring(Napi::Env env) {
  if (ring_ == nullptr || ring_->closed()) throw Napi::Error::New(env, "IoRing is closed");
  return *ring_;
}

void IoRingWrap::Hold() {
  if (holds_++ == 0) Ref();
}

void IoRingWrap::Release() {
  assert(holds_ > 0);
  if (--holds_ == 0) Unref();
}

Napi::Value IoRingWrap::SubmitRw(const Napi::CallbackInfo& info, bool is_write) {
  Napi::Env env = info.Env();
  EventRing& ring = this->ring(env);
  int32_t fd = ArgFd(info, 0);
  if (!info[1].IsTypedArray()) throw Napi::TypeError::New(env, "buf must be a Uint8Array");
  auto buf = info[1].As<Napi::Uint8Array>();
  uint64_t offset = ArgU64(info, 2, "offset");
  uint32_t rw_flags = is_write ? info[3].As<Napi::Number>().Uint32Value() : 0;
  if (buf.ByteLength() > 0x7ffff000u) throw Napi::RangeError::New(env, "buffer too large for one I/O");
  auto* op = new PromiseOp(env, this, OpDesc{is_write ? "write" : "read", fd, offset, buf.ByteLength(), 0});
  op->KeepAlive(buf);
  return Submit(ring, op, fd, is_write ? IORING_OP_WRITE : IORING_OP_READ, [&](io_uring_sqe* sqe) {
    sqe->addr = reinterpret_cast<uint64_t>(buf.Data());
    sqe->len = static_cast<uint32_t>(buf.ByteLength());
    sqe->off = offset;
    sqe->rw_flags = rw_flags;
  });
}

Napi::Value IoRingWrap::Read(const Napi::CallbackInfo& info) { return SubmitRw(info, false); }

Napi::Value IoRingWrap::Write(const Napi::CallbackInfo& info) { return SubmitRw(info, true); }

Napi::Value IoRingWrap::Fsync(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EventRing& ring = this->ring(env);
  int32_t fd = ArgFd(info, 0);
  bool datasync = info[1].ToBoolean().Value();
  auto* op = new PromiseOp(env, this, OpDesc{datasync ? "fdatasync" : "fsync", fd, 0, 0, 0});
  return Submit(ring, op, fd, IORING_OP_FSYNC,
                [&](io_uring_sqe* sqe) { sqe->fsync_flags = datasync ? IORING_FSYNC_DATASYNC : 0; });
}

Napi::Value IoRingWrap::Fallocate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EventRing& ring = this->ring(env);
  int32_t fd = ArgFd(info, 0);
  uint32_t mode = info[1].As<Napi::Number>().Uint32Value();
  uint64_t offset = ArgU64(info, 2, "offset");
  uint64_t length = ArgU64(info, 3, "length");
  auto* op = new PromiseOp(env, this, OpDesc{"fallocate", fd, offset, length, mode});
  // IORING_OP_FALLOCATE: mode in len, length in addr (io_uring's own encoding).
  return Submit(ring, op, fd, IORING_OP_FALLOCATE, [&](io_uring_sqe* sqe) {
    sqe->off = offset;
    sqe->addr = length;
    sqe->len = mode;
  });
}

Napi::Value IoRingWrap::Discard(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  EventRing& ring = this->ring(env);
  int32_t fd = ArgFd(info, 0);
  uint64_t offset = ArgU64(info, 1, "offset");
  uint64_t length = ArgU64(info, 2, "length");
  auto* op = new PromiseOp(env, this, OpDesc{"discard", fd, offset, length, 0});
  // blkdev_uring_cmd: start in addr, length in addr3. Kernels before 6.12
  // answer EOPNOTSUPP (no uring_cmd on block devices); the caller falls back.
  return Submit(ring, op, fd, IORING_OP_URING_CMD, [&](io_uring_sqe* sqe) {
    sqe->cmd_op = BLOCK_URING_CMD_DISCARD;
    sqe->addr = offset;
    sqe->addr3 = length;
  });
}

Napi::Value IoRingWrap::Inflight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), ring_ == nullptr ? 0 : ring_->inflight());
}

Napi::Value IoRingWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (ring_ == nullptr) return env.Undefined();
  if (ring_->inflight() > 0) {
    throw Napi::Error::New(env, "IoRing.close: " + std::to_string(ring_->inflight()) + " operations in flight");
  }
  if (!ring_->closed()) ring_->Close();  // deferred to the end of the wake-up when inside one
  return env.Undefined();
}

Napi::Value BlkDiscard(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = ArgFd(info, 0);
  uint64_t range[2] = {ArgU64(info, 1, "offset"), ArgU64(info, 2, "length")};
  if (ioctl(fd, BLKDISCARD, range) < 0) {
    throw MakeErrnoError(env, errno, Describe(OpDesc{"ioctl BLKDISCARD", fd, range[0], range[1], 0}));
  }
  return env.Undefined();
}

Napi::Value BlockDeviceBytes(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int32_t fd = ArgFd(info, 0);
  uint64_t bytes = 0;
  if (ioctl(fd, BLKGETSIZE64, &bytes) < 0) {
    throw MakeErrnoError(env, errno, "ioctl BLKGETSIZE64 fd " + std::to_string(fd));
  }
  return Napi::Number::New(env, static_cast<double>(bytes));
}

}  // namespace ublk
