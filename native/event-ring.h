// A Ring driven by the Node event loop: an eventfd registered on the ring is
// watched with uv_poll on the main thread. Per wake-up every CQE is reaped and
// dispatched to its Completion (user_data is the Completion pointer), then
// every BatchSink that received something delivers once to JS, all inside one
// callback scope (so promise reactions run right after), and finally every
// SQE queued meanwhile is submitted with one io_uring_enter.
#ifndef UBLK_NATIVE_EVENT_RING_H_
#define UBLK_NATIVE_EVENT_RING_H_

#include <napi.h>
#include <uv.h>

#include <initializer_list>
#include <memory>
#include <string>
#include <utility>
#include <vector>

#include "ring.h"

namespace ublk {

class Completion {
 public:
  virtual ~Completion() = default;
  // Called on the main thread inside a HandleScope and CallbackScope.
  virtual void OnCqe(Napi::Env env, int32_t res) = 0;
};

// Something that collects completions during a reap and delivers them to JS
// once at the end of it (a ublk queue's batch).
class BatchSink {
 public:
  virtual ~BatchSink() = default;
  virtual void Deliver(Napi::Env env) = 0;
};

class EventRing {
 public:
  EventRing(Napi::Env env, const Ring::Options& options);
  ~EventRing();
  EventRing(const EventRing&) = delete;
  EventRing& operator=(const EventRing&) = delete;

  // A zeroed SQE; submits queued ones first when the SQ is full (a failure
  // there throws a Napi::Error with errno). The caller must fill it and call
  // Track() before returning to the event loop.
  io_uring_sqe* Sqe();
  // Binds the SQE to its completion and schedules the submission.
  void Track(io_uring_sqe* sqe, Completion* completion);
  // Sends every queued SQE now.
  void Flush();
  // The sink's Deliver() runs once at the end of the current reap.
  void MarkReady(BatchSink* sink);
  void ForgetSink(BatchSink* sink);

  uint32_t inflight() const { return inflight_; }
  // false: operations in flight no longer keep the process alive (a command
  // the caller gave up on, e.g. after a timeout, must not block exit).
  void SetKeepAlive(bool keep_alive);
  bool closed() const { return ring_ == nullptr || close_pending_; }
  // Stops watching, unregisters the eventfd, unmaps and closes the ring.
  // Precondition: nothing in flight (the kernel would write into freed memory).
  void Close();
  Ring& ring() { return *ring_; }

 private:
  static void OnPoll(uv_poll_t* handle, int status, int events);
  static void OnIdle(uv_idle_t* handle);
  void Wake();
  void ReapAll(Napi::Env env);
  void UpdateRef();
  void Teardown();

  Napi::Env env_;
  std::unique_ptr<Ring> ring_;
  Fd eventfd_;
  uv_poll_t* poll_ = nullptr;  // freed in its close callback
  uv_idle_t* idle_ = nullptr;
  bool idle_active_ = false;
  bool in_wake_ = false;
  bool close_pending_ = false;  // Close() called from inside a wake-up
  bool referenced_ = false;
  bool keep_alive_ = true;
  uint32_t inflight_ = 0;
  Napi::AsyncContext async_context_;
  std::vector<BatchSink*> ready_;
};

// Converts a SysError or an errno into a JS Error with errno (positive), code
// (errno name) and a message saying what failed.
Napi::Error MakeErrnoError(Napi::Env env, int err, const std::string& what);

// A JS object of named counters (each a Number): what the stats() calls return.
Napi::Object MakeCounters(Napi::Env env, std::initializer_list<std::pair<const char*, uint64_t>> counters);

}  // namespace ublk

#endif  // UBLK_NATIVE_EVENT_RING_H_
