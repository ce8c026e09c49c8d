#include "event-ring.h"

#include <errno.h>
#include <string.h>
#include <sys/eventfd.h>
#include <unistd.h>

#include <algorithm>
#include <cassert>

namespace ublk {

namespace {
// Reap/deliver/flush rounds per eventfd wake-up (see Wake()).
constexpr int kRoundsPerWake = 8;
}  // namespace

Napi::Error MakeErrnoError(Napi::Env env, int err, const std::string& what) {
  assert(err > 0);
  std::string message = what + ": " + strerror(err);
  Napi::Error error = Napi::Error::New(env, message);
  error.Set("errno", Napi::Number::New(env, err));
  error.Set("code", Napi::String::New(env, uv_err_name(-err)));
  return error;
}

Napi::Object MakeCounters(Napi::Env env, std::initializer_list<std::pair<const char*, uint64_t>> counters) {
  Napi::Object o = Napi::Object::New(env);
  for (const auto& [key, value] : counters) o.Set(key, Napi::Number::New(env, static_cast<double>(value)));
  return o;
}

EventRing::EventRing(Napi::Env env, const Ring::Options& options)
    : env_(env), async_context_(env, "ublk-ring") {
  assert((options.flags & IORING_SETUP_DEFER_TASKRUN) == 0);  // eventfd would fire before the CQE exists
  ring_ = std::make_unique<Ring>(options);
  int efd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
  if (efd < 0) throw SysError{errno, "eventfd"};
  eventfd_ = Fd(efd);
  ring_->RegisterEventfd(efd);

  uv_loop_t* loop = nullptr;
  napi_status status = napi_get_uv_event_loop(env, &loop);
  assert(status == napi_ok && loop != nullptr);
  (void)status;
  poll_ = new uv_poll_t;
  int rc = uv_poll_init(loop, poll_, efd);
  if (rc != 0) {
    delete poll_;
    poll_ = nullptr;
    throw SysError{-rc, "uv_poll_init"};
  }
  poll_->data = this;
  rc = uv_poll_start(poll_, UV_READABLE, &EventRing::OnPoll);
  assert(rc == 0);
  idle_ = new uv_idle_t;
  rc = uv_idle_init(loop, idle_);
  assert(rc == 0);
  idle_->data = this;
  // Nothing in flight yet: an idle ring must not keep the process alive.
  uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
}

EventRing::~EventRing() {
  if (ring_ != nullptr) {
    in_wake_ = false;
    // Reached only when the owner is garbage-collected without close(); the
    // owner keeps itself alive while anything is in flight.
    assert(inflight_ == 0);
    Close();
  }
}

io_uring_sqe* EventRing::Sqe() {
  assert(ring_ != nullptr);
  io_uring_sqe* sqe = ring_->GetSqe();
  if (sqe == nullptr) {
    try {
      ring_->Submit();
    } catch (const SysError& e) {
      throw MakeErrnoError(env_, e.err, e.what);
    }
    sqe = ring_->GetSqe();
  }
  // Without SQPOLL an enter consumes every published SQE unless the kernel
  // is out of memory (EAGAIN): report that like any failed system call.
  if (sqe == nullptr) throw MakeErrnoError(env_, EAGAIN, "io_uring submission queue full");
  return sqe;
}

void EventRing::Track(io_uring_sqe* sqe, Completion* completion) {
  assert(completion != nullptr);
  sqe->user_data = reinterpret_cast<uint64_t>(completion);
  inflight_ += 1;
  UpdateRef();
  if (!in_wake_ && !idle_active_) {
    // Queued from outside a ring wake-up (a timer, another ring, the
    // threadpool): submit on the next loop turn, batched with anything else.
    uv_idle_start(idle_, &EventRing::OnIdle);
    idle_active_ = true;
  }
}

void EventRing::Flush() {
  if (ring_ != nullptr && ring_->Unsubmitted() > 0) ring_->Submit();
}

void EventRing::MarkReady(BatchSink* sink) {
  if (std::find(ready_.begin(), ready_.end(), sink) == ready_.end()) ready_.push_back(sink);
}

void EventRing::ForgetSink(BatchSink* sink) {
  ready_.erase(std::remove(ready_.begin(), ready_.end(), sink), ready_.end());
}

void EventRing::SetKeepAlive(bool keep_alive) {
  keep_alive_ = keep_alive;
  UpdateRef();
}

void EventRing::UpdateRef() {
  bool want = keep_alive_ && inflight_ > 0;
  if (want == referenced_ || poll_ == nullptr) return;
  if (want) {
    uv_ref(reinterpret_cast<uv_handle_t*>(poll_));
  } else {
    uv_unref(reinterpret_cast<uv_handle_t*>(poll_));
  }
  referenced_ = want;
}

void EventRing::OnIdle(uv_idle_t* handle) {
  auto* self = static_cast<EventRing*>(handle->data);
  uv_idle_stop(handle);
  self->idle_active_ = false;
  Napi::HandleScope scope(self->env_);
  try {
    self->Flush();
  } catch (const SysError& e) {
    napi_fatal_exception(self->env_, MakeErrnoError(self->env_, e.err, e.what).Value());
  }
}

void EventRing::OnPoll(uv_poll_t* handle, int status, int events) {
  auto* self = static_cast<EventRing*>(handle->data);
  self->Wake();
}

void EventRing::ReapAll(Napi::Env env) {
  for (;;) {
    if (ring_->NeedsEnter()) ring_->EnterGetEvents();
    uint32_t n = ring_->Reap([this, env](const io_uring_cqe& cqe) {
      if (close_pending_) return;  // cannot happen: close needs inflight == 0
      auto* completion = reinterpret_cast<Completion*>(cqe.user_data);
      assert(completion != nullptr);
      assert(inflight_ > 0);
      inflight_ -= 1;
      // One failing callback must not strand the CQEs behind it.
      try {
        completion->OnCqe(env, cqe.res);
      } catch (const Napi::Error& e) {
        napi_fatal_exception(env, e.Value());
      }
    });
    if (close_pending_ || (n == 0 && !ring_->NeedsEnter())) break;
  }
}

void EventRing::Wake() {
  uint64_t count;
  // Clear the eventfd first: a CQE posted after this read wakes us again.
  ssize_t got = read(eventfd_.get(), &count, sizeof count);
  (void)got;  // EAGAIN on a spurious wake-up is fine
  Napi::Env env = env_;
  Napi::HandleScope scope(env);
  // Completions often arrive during our own flush (file I/O served inline,
  // a commit answered at once): go round again instead of paying an epoll
  // wake-up for them. Bounded so other event-loop work still runs.
  for (int round = 0; round < kRoundsPerWake; ++round) {
    in_wake_ = true;
    {
      Napi::CallbackScope callback_scope(env, async_context_);
      try {
        ReapAll(env);
        std::vector<BatchSink*> ready;
        ready.swap(ready_);
        for (BatchSink* sink : ready) {
          try {
            sink->Deliver(env);
          } catch (const Napi::Error& e) {
            napi_fatal_exception(env, e.Value());
          }
        }
      } catch (const Napi::Error& e) {
        // A JS callback threw: report it like any uncaught exception.
        napi_fatal_exception(env, e.Value());
      } catch (const SysError& e) {
        napi_fatal_exception(env, MakeErrnoError(env, e.err, e.what).Value());
      }
    }  // closing the scope runs microtasks: their submissions join this flush
    in_wake_ = false;
    if (close_pending_) {
      Teardown();  // close() was called by a callback
      return;
    }
    try {
      Flush();
    } catch (const SysError& e) {
      napi_fatal_exception(env, MakeErrnoError(env, e.err, e.what).Value());
    }
    if (!ring_->CqReady() && !ring_->NeedsEnter()) break;
  }
  UpdateRef();
}

void EventRing::Close() {
  assert(ring_ != nullptr);
  assert(inflight_ == 0);
  if (in_wake_) {
    close_pending_ = true;  // the reap loop still uses the mappings
    return;
  }
  Teardown();
}

void EventRing::Teardown() {
  close_pending_ = false;
  if (poll_ != nullptr) {
    uv_poll_stop(poll_);
    uv_close(reinterpret_cast<uv_handle_t*>(poll_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_poll_t*>(h); });
    poll_ = nullptr;
  }
  if (idle_ != nullptr) {
    uv_idle_stop(idle_);
    uv_close(reinterpret_cast<uv_handle_t*>(idle_),
             [](uv_handle_t* h) { delete reinterpret_cast<uv_idle_t*>(h); });
    idle_ = nullptr;
  }
  ready_.clear();
  ring_.reset();  // unmaps SQ/CQ/SQEs and closes the ring fd
  eventfd_.Reset();
}

}  // namespace ublk
