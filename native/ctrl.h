// JS class CtrlRing: /dev/ublk-control plus its SQE128 ring. See ctrl.cc.
#ifndef UBLK_NATIVE_CTRL_H_
#define UBLK_NATIVE_CTRL_H_

#include <napi.h>

#include <memory>

#include "event-ring.h"

namespace ublk {

class CtrlRingWrap : public Napi::ObjectWrap<CtrlRingWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit CtrlRingWrap(const Napi::CallbackInfo& info);
  ~CtrlRingWrap() override;

  void Hold();
  void Release();
  bool closed() const { return ring_ == nullptr || ring_->closed(); }
  EventRing& ring() { return *ring_; }
  int ctrl_fd() const { return fd_.get(); }

 private:
  Napi::Value Command(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value AllowExit(const Napi::CallbackInfo& info);

  Fd fd_;
  std::unique_ptr<EventRing> ring_;
  uint32_t holds_ = 0;
};

// encodeCtrlSqe(name, devId, data0, addr, len, legacy): the 128-byte SQE a
// command would use, with fd -1 (for encoding tests; needs no ublk).
Napi::Value EncodeCtrlSqe(const Napi::CallbackInfo& info);

}  // namespace ublk

#endif  // UBLK_NATIVE_CTRL_H_
