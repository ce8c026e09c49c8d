// The JS class IoRing: an EventRing plus promise-returning backing-file I/O
// (read, write with optional RWF_DSYNC, fsync/fdatasync, fallocate, and
// discard of a block device range as BLOCK_URING_CMD_DISCARD). A ublk
// queue attaches to an IoRing so its commands share the ring and the
// io_uring_enter calls with the target's file I/O.
#ifndef UBLK_NATIVE_IO_RING_H_
#define UBLK_NATIVE_IO_RING_H_

#include <napi.h>

#include <memory>

#include "event-ring.h"

namespace ublk {

class IoRingWrap : public Napi::ObjectWrap<IoRingWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit IoRingWrap(const Napi::CallbackInfo& info);
  ~IoRingWrap() override;

  // The ring, or a thrown JS Error when closed.
  EventRing& ring(Napi::Env env);
  // The ring, or nullptr when closed (for destructors, which must not throw).
  EventRing* ring_if_open() { return ring_ == nullptr || ring_->closed() ? nullptr : ring_.get(); }
  // Keeps this JS object alive while anything is in flight on the ring.
  void Hold();
  void Release();

 private:
  Napi::Value Read(const Napi::CallbackInfo& info);
  Napi::Value Write(const Napi::CallbackInfo& info);
  Napi::Value Fsync(const Napi::CallbackInfo& info);
  Napi::Value Fallocate(const Napi::CallbackInfo& info);
  Napi::Value Discard(const Napi::CallbackInfo& info);
  Napi::Value Inflight(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SubmitRw(const Napi::CallbackInfo& info, bool is_write);

  std::unique_ptr<EventRing> ring_;
  uint32_t holds_ = 0;
};

// blkDiscard(fd, offset, length): the synchronous BLKDISCARD ioctl, for
// kernels whose block devices take no uring_cmd (before 6.12).
Napi::Value BlkDiscard(const Napi::CallbackInfo& info);
// blockDeviceBytes(fd): BLKGETSIZE64 of an open block device.
Napi::Value BlockDeviceBytes(const Napi::CallbackInfo& info);

}  // namespace ublk

#endif  // UBLK_NATIVE_IO_RING_H_
