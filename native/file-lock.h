#ifndef UBLK_NATIVE_FILE_LOCK_H_
#define UBLK_NATIVE_FILE_LOCK_H_

#include <napi.h>

namespace ublk {

// A held flock(2) on a file or block device, released when the object is
// released from JS or garbage-collected (RAII on the descriptor).
class FileLockWrap : public Napi::ObjectWrap<FileLockWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit FileLockWrap(const Napi::CallbackInfo& info);
  ~FileLockWrap() override;

 private:
  Napi::Value Release(const Napi::CallbackInfo& info);
  Napi::Value Held(const Napi::CallbackInfo& info);
  void Close();

  int fd_ = -1;
};

}  // namespace ublk

#endif  // UBLK_NATIVE_FILE_LOCK_H_
