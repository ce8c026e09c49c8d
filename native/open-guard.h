// Keeps other processes from changing the backing file under the
// direct-mapped path: a fanotify FAN_OPEN_PERM mark on the file makes every
// open by another process wait for our answer. Before answering we empty the
// extent map for good and let the raw-device I/O in flight finish, so by the
// time the other process holds a descriptor (to reflink, defragment,
// truncate or write the file) nothing goes to the raw device any more.
// Opens by this process are allowed at once. See docs/direct-paths.md.
#ifndef UBLK_NATIVE_OPEN_GUARD_H_
#define UBLK_NATIVE_OPEN_GUARD_H_

#include <napi.h>
#include <uv.h>

#include <vector>

#include "extent-map.h"

namespace ublk {

// new OpenGuard(path, directMap, onForeignOpen(pid)); .close()
class OpenGuardWrap : public Napi::ObjectWrap<OpenGuardWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit OpenGuardWrap(const Napi::CallbackInfo& info);
  ~OpenGuardWrap() override;

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  Napi::Value Close(const Napi::CallbackInfo& info);
  void ReadEvents(std::vector<int32_t>* foreign);
  void Answer(int event_fd);
  void AnswerHeld();
  void Shut();

  Napi::Env env_;
  int fan_fd_ = -1;
  uv_poll_t* poll_ = nullptr;
  ExtentMap* map_ = nullptr;
  Napi::ObjectReference map_ref_;
  Napi::FunctionReference on_foreign_;
  std::unique_ptr<Napi::AsyncContext> async_context_;
  std::vector<int> held_;  // opens waiting for raw I/O to drain
};

}  // namespace ublk

#endif  // UBLK_NATIVE_OPEN_GUARD_H_
