// UblkQueueWrap's side of the native 1:1 request path (direct-path.h): the
// hand-offs between the addon and the JS target, the user copies zero copy
// needs for the requests JS serves, setDirect() and its counters.
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <string>

#include "queue.h"

namespace ublk {

void UblkQueueWrap::DirectDone(Napi::Env env, uint16_t tag, int32_t result) {
  try {
    IssueIoCmd(env, kIoCommitAndFetchReq, tag, result);
  } catch (const Napi::Error&) {
    // No SQE to be had: JS serves the request again and commits it through
    // commit(), which reports a failure where it can be handled.
    if (direct_ != nullptr) direct_->HandOffTag(tag);
    if (packed_ != nullptr) packed_->CountHandOff();
    DirectToJs(env, tag);
    return;
  }
  Transition(tag, TagState::kNative, TagState::kInKernel);
  if (direct_ != nullptr && direct_->has_errors()) ring_owner_->ring(env).MarkReady(this);
}

void UblkQueueWrap::DirectToJs(Napi::Env env, uint16_t tag) { ToJs(env, tag); }

// Hands a tag the native side holds to the JS target, with a WRITE's data in
// its buffer on the zero-copy path.
void UblkQueueWrap::ToJs(Napi::Env env, uint16_t tag) {
  int err = zero_copy_ ? CopyIn(tag) : 0;
  if (err != 0) {
    // JS must not write a buffer that does not hold the data: fail the request.
    errors_.emplace_back(tag, -err);
    try {
      IssueIoCmd(env, kIoCommitAndFetchReq, tag, -EIO);
      if (direct_ != nullptr) direct_->JsDone(tag);
      Transition(tag, TagState::kNative, TagState::kInKernel);
    } catch (const Napi::Error&) {
      // No SQE either: the tag stays native and is lost, like an aborted one.
    }
    ring_owner_->ring(env).MarkReady(this);
    return;
  }
  Transition(tag, TagState::kNative, TagState::kOwnedByJs);
  AppendToBatch(tag);
  ring_owner_->ring(env).MarkReady(this);
}

// The request's pages of `tag` are where JS cannot see them: copy a WRITE's
// data into the per-tag buffer. 0 or a positive errno.
int UblkQueueWrap::CopyIn(uint16_t tag) {
  const ublksrv_io_desc& iod = Iod(tag);
  if ((iod.op_flags & 0xff) != kIoOpWrite) return 0;
  size_t len = static_cast<size_t>(iod.nr_sectors) << 9;
  if (len == 0 || len > max_io_buf_bytes_) return 0;  // JS refuses it without reading the buffer
  return UserCopy(tag, len, false);
}

// After JS served a READ of `tag`: its data to the request's pages.
int UblkQueueWrap::CopyOut(uint16_t tag, int32_t bytes) {
  const ublksrv_io_desc& iod = Iod(tag);
  if ((iod.op_flags & 0xff) != kIoOpRead) return 0;
  size_t len = static_cast<size_t>(bytes);
  if (len > max_io_buf_bytes_ || len > (static_cast<size_t>(iod.nr_sectors) << 9)) return EINVAL;
  return UserCopy(tag, len, true);
}

// User copy: `len` bytes between the per-tag buffer and the request's pages
// (pread/pwrite of /dev/ublkcN at the tag's offset). 0 or a positive errno.
int UblkQueueWrap::UserCopy(uint16_t tag, size_t len, bool to_pages) {
  off_t pos = static_cast<off_t>(UserCopyPos(queue_id_, tag));
  ssize_t n;
  do {
    n = to_pages ? pwrite(cdev_fd_, bufs_[tag], len, pos) : pread(cdev_fd_, bufs_[tag], len, pos);
  } while (n < 0 && errno == EINTR);
  user_copies_ += 1;
  if (n < 0) return errno;
  return static_cast<size_t>(n) == len ? 0 : EIO;
}

void UblkQueueWrap::DeliverDirectErrors(Napi::Env env) {
  std::vector<DirectError> errors = direct_->TakeErrors();
  Napi::Array list = Napi::Array::New(env, errors.size());
  for (uint32_t i = 0; i < errors.size(); ++i) {
    const DirectError& e = errors[i];
    Napi::Object o = Napi::Object::New(env);
    o.Set("op", Napi::Number::New(env, e.op));
    o.Set("startSector", Napi::Number::New(env, static_cast<double>(e.start_sector)));
    o.Set("nrSectors", Napi::Number::New(env, e.nr_sectors));
    o.Set("errno", Napi::Number::New(env, e.err));
    list[i] = o;
  }
  if (!on_direct_errors_.IsEmpty()) on_direct_errors_.Call({list});
}

// setDirect(fileFd, sizeBytes, onErrors, inlineRw, map?): serve READ/WRITE/
// FLUSH/DISCARD/WRITE_ZEROES natively on fileFd from the next request on
// (with inlineRw, reads and writes by pread/pwrite on this thread; with a
// DirectMap, reads and writes it maps on its raw device). The path serves on
// its own duplicate of fileFd (closed with the queue): the caller may close
// fileFd whenever it likes, and a reused fd number never receives guest data.
Napi::Value UblkQueueWrap::SetDirect(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "UblkQueue is closed");
  if (direct_ != nullptr || packed_ != nullptr) throw Napi::Error::New(env, "setDirect: a native path is already set");
  if (info.Length() < 3 || !info[0].IsNumber() || !info[1].IsNumber() || !info[2].IsFunction()) {
    throw Napi::TypeError::New(env, "setDirect(fileFd, sizeBytes, onErrors, inlineRw, map?)");
  }
  int caller_fd = info[0].As<Napi::Number>().Int32Value();
  double size = info[1].As<Napi::Number>().DoubleValue();
  if (caller_fd < 0) throw Napi::RangeError::New(env, "setDirect: bad fd");
  if (!(size > 0) || size > 9007199254740991.0) throw Napi::RangeError::New(env, "setDirect: bad size");
  DirectConfig config;
  config.size_bytes = static_cast<uint64_t>(size);
  config.inline_rw = info.Length() > 3 && info[3].ToBoolean().Value();
  if (config.inline_rw && zero_copy_) throw Napi::Error::New(env, "setDirect: inline copies cannot reach zero-copy pages");
  config.zero_copy = zero_copy_;
  config.buf_index_base = buf_index_base_;
  Napi::Object map;
  if (info.Length() > 4 && info[4].IsObject()) {
    map = info[4].As<Napi::Object>();
    config.map = ExtentMapWrap::Unwrap(map)->map();
    if (!config.map->IsOf(caller_fd)) throw Napi::Error::New(env, "setDirect: the map is of another file");
  }
  Fd file(fcntl(caller_fd, F_DUPFD_CLOEXEC, 0));
  if (file.get() < 0) throw MakeErrnoError(env, errno, "setDirect: fcntl F_DUPFD_CLOEXEC of the backing file");
  on_direct_errors_ = Napi::Persistent(info[2].As<Napi::Function>());
  if (!map.IsEmpty()) direct_map_ref_ = Napi::Persistent(map);
  direct_ = std::make_unique<DirectPath>(this, depth_, config, std::move(file));
  return env.Undefined();
}

// With zero copy, on either request path: the requests whose data went
// through the per-tag buffer by user copy (those JS served).
Napi::Value UblkQueueWrap::UserCopies(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(user_copies_));
}

Napi::Value UblkQueueWrap::DirectStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (direct_ == nullptr) return env.Null();
  const DirectCounters& c = direct_->counters();
  return MakeCounters(env, {
      {"reads", c.reads},
      {"writes", c.writes},
      {"flushes", c.flushes},
      {"discards", c.discards},
      {"writeZeroes", c.write_zeroes},
      {"readBytes", c.read_bytes},
      {"writeBytes", c.write_bytes},
      {"errors", c.errors},
      {"toJs", c.to_js},
      {"rawReads", c.raw_reads},
      {"rawWrites", c.raw_writes},
      {"zeroCopyReads", c.zero_copy_reads},
      {"zeroCopyWrites", c.zero_copy_writes},
      {"inflight", direct_->inflight()},
  });
}

}  // namespace ublk
