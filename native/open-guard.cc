#include "open-guard.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/fanotify.h>
#include <unistd.h>

#include "event-ring.h"

namespace ublk {

Napi::Function OpenGuardWrap::Init(Napi::Env env) {
  return DefineClass(env, "OpenGuard", {InstanceMethod<&OpenGuardWrap::Close>("close")});
}

OpenGuardWrap::OpenGuardWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<OpenGuardWrap>(info), env_(info.Env()) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  Napi::Object map = info[1].As<Napi::Object>();
  map_ = ExtentMapWrap::Unwrap(map)->map();
  map_ref_ = Napi::Persistent(map);
  on_foreign_ = Napi::Persistent(info[2].As<Napi::Function>());
  async_context_ = std::make_unique<Napi::AsyncContext>(env, "ublk:OpenGuard");
  fan_fd_ = fanotify_init(FAN_CLASS_CONTENT | FAN_CLOEXEC | FAN_NONBLOCK, O_RDONLY | O_LARGEFILE);
  if (fan_fd_ < 0) throw MakeErrnoError(env, errno, "fanotify_init");
  if (fanotify_mark(fan_fd_, FAN_MARK_ADD, FAN_OPEN_PERM, AT_FDCWD, path.c_str()) < 0) {
    int err = errno;
    Shut();
    throw MakeErrnoError(env, err, "fanotify_mark FAN_OPEN_PERM " + path);
  }
  uv_loop_t* loop = nullptr;
  if (napi_get_uv_event_loop(env, &loop) != napi_ok) {
    Shut();
    throw Napi::Error::New(env, "OpenGuard: no event loop");
  }
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, fan_fd_);
  if (rc == 0) rc = uv_poll_start(poll_, UV_READABLE, &OpenGuardWrap::OnPoll);
  if (rc != 0) {
    Shut();
    throw MakeErrnoError(env, -rc, "uv_poll on the fanotify descriptor");
  }
  poll_->data = this;
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));  // never what keeps the process alive
  map_->SetDrainHook([this] { AnswerHeld(); });
}

OpenGuardWrap::~OpenGuardWrap() { Shut(); }

void OpenGuardWrap::Shut() {
  if (map_ != nullptr) map_->SetDrainHook(nullptr);
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_), [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  // Closing the group allows every open still waiting for an answer; the
  // map is empty for good by then (it was cleared before anything was held).
  for (int fd : held_) close(fd);
  held_.clear();
  if (fan_fd_ >= 0) close(fan_fd_);
  fan_fd_ = -1;
}

void OpenGuardWrap::Answer(int event_fd) {
  struct fanotify_response response {};
  response.fd = event_fd;
  response.response = FAN_ALLOW;
  // A failed answer is answered by the kernel when the group closes; nothing to do here.
  (void)!write(fan_fd_, &response, sizeof(response));
  close(event_fd);
}

void OpenGuardWrap::AnswerHeld() {
  std::vector<int> held;
  held.swap(held_);
  for (int fd : held) Answer(fd);
}

void OpenGuardWrap::ReadEvents(std::vector<int32_t>* foreign) {
  alignas(struct fanotify_event_metadata) char buf[4096];
  for (;;) {
    ssize_t n = read(fan_fd_, buf, sizeof(buf));
    if (n < 0 && errno == EINTR) continue;
    if (n <= 0) return;  // EAGAIN: drained
    auto* ev = reinterpret_cast<struct fanotify_event_metadata*>(buf);
    for (; FAN_EVENT_OK(ev, n); ev = FAN_EVENT_NEXT(ev, n)) {
      if (ev->vers != FANOTIFY_METADATA_VERSION || ev->fd < 0) continue;
      if (ev->pid == getpid()) {
        Answer(ev->fd);
        continue;
      }
      foreign->push_back(ev->pid);
      map_->Clear();  // before the opener gets its descriptor, for good
      held_.push_back(ev->fd);
    }
  }
}

void OpenGuardWrap::OnPoll(uv_poll_t* handle, int status, int /*events*/) {
  auto* self = static_cast<OpenGuardWrap*>(handle->data);
  if (self == nullptr || self->fan_fd_ < 0 || status < 0) return;
  std::vector<int32_t> foreign;
  self->ReadEvents(&foreign);
  if (self->map_->raw_inflight() == 0) self->AnswerHeld();  // else when the last raw I/O ends
  if (foreign.empty()) return;
  Napi::Env env = self->env_;
  Napi::HandleScope scope(env);
  Napi::Array pids = Napi::Array::New(env, foreign.size());
  for (uint32_t i = 0; i < foreign.size(); ++i) pids[i] = Napi::Number::New(env, foreign[i]);
  self->on_foreign_.MakeCallback(env.Global(), {pids}, *self->async_context_);
}

Napi::Value OpenGuardWrap::Close(const Napi::CallbackInfo& info) {
  Shut();
  return info.Env().Undefined();
}

}  // namespace ublk
