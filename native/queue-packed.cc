// UblkQueueWrap's side of the packed layout's native read path
// (packed-read.h): setPackedRead() and its counters.
#include <errno.h>
#include <fcntl.h>

#include "packed-tables.h"
#include "queue.h"
#include "write-apply.h"

namespace ublk {

// setPackedRead(tables, poolFd, dataOffset, segmentBytes, inlineReads): serve
// READs whose blocks the PackedTables resolve from the pool file (fragments in
// scratch, decoded into the tag's buffer) from the next request on. The path
// reads through its own duplicate of poolFd, closed with the queue; with
// inlineReads (a pool in memory) by pread on this thread, else on the ring.
Napi::Value UblkQueueWrap::SetPackedRead(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "UblkQueue is closed");
  if (direct_ != nullptr || packed_ != nullptr) throw Napi::Error::New(env, "setPackedRead: a native path is already set");
  if (zero_copy_) throw Napi::Error::New(env, "setPackedRead: the packed read path decodes into the per-tag buffers (no zero copy)");
  if (info.Length() < 4 || !info[0].IsObject() || !info[1].IsNumber() || !info[2].IsNumber() || !info[3].IsNumber()) {
    throw Napi::TypeError::New(env, "setPackedRead(tables, poolFd, dataOffset, segmentBytes, inlineReads)");
  }
  Napi::Object tables_obj = info[0].As<Napi::Object>();
  PackedTables* tables = PackedTablesWrap::Unwrap(tables_obj)->tables();
  int caller_fd = info[1].As<Napi::Number>().Int32Value();
  double data_offset = info[2].As<Napi::Number>().DoubleValue();
  double segment_bytes = info[3].As<Napi::Number>().DoubleValue();
  if (caller_fd < 0) throw Napi::RangeError::New(env, "setPackedRead: bad fd");
  if (!(data_offset >= 0) || data_offset > 9007199254740991.0) throw Napi::RangeError::New(env, "setPackedRead: bad dataOffset");
  if (!(segment_bytes > 0) || segment_bytes > 4294967295.0) throw Napi::RangeError::New(env, "setPackedRead: bad segmentBytes");
  Fd pool(fcntl(caller_fd, F_DUPFD_CLOEXEC, 0));
  if (pool.get() < 0) throw MakeErrnoError(env, errno, "setPackedRead: fcntl F_DUPFD_CLOEXEC of the pool file");
  PackedReadConfig config;
  config.data_offset = static_cast<uint64_t>(data_offset);
  config.segment_bytes = static_cast<uint64_t>(segment_bytes);
  config.max_request_bytes = max_io_buf_bytes_;
  config.inline_reads = info.Length() > 4 && info[4].ToBoolean().Value();
  packed_tables_ref_ = Napi::Persistent(tables_obj);
  packed_ = std::make_unique<PackedReadPath>(this, depth_, tables, std::move(pool), config);
  return env.Undefined();
}

Napi::Value UblkQueueWrap::PackedReadStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (packed_ == nullptr) return env.Null();
  const PackedReadCounters& c = packed_->counters();
  return MakeCounters(env, {
      {"requests", c.requests},
      {"blocks", c.blocks},
      {"toJs", c.to_js},
      {"misses", c.misses},
      {"ioFailures", c.io_failures},
      {"verifyFailures", c.verify_failures},
      {"inflight", packed_->inflight()},
  });
}

// setPackedWrite(writeApply, onWrites): serve one-block WRITEs through the
// engine's WriteApply (fast-write.h) from the next request on; onWrites() is
// called before the next batch is delivered whenever some were served.
Napi::Value UblkQueueWrap::SetPackedWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "UblkQueue is closed");
  if (direct_ != nullptr || packed_write_ != nullptr) throw Napi::Error::New(env, "setPackedWrite: a native path is already set");
  if (zero_copy_) throw Napi::Error::New(env, "setPackedWrite: the packed write path reads the per-tag buffers (no zero copy)");
  if (info.Length() < 2 || !info[0].IsObject() || !info[1].IsFunction()) throw Napi::TypeError::New(env, "setPackedWrite(writeApply, onWrites)");
  Napi::Object wa = info[0].As<Napi::Object>();
  packed_write_ = WriteApplyWrap::Unwrap(wa);
  packed_write_ref_ = Napi::Persistent(wa);
  on_writes_ = Napi::Persistent(info[1].As<Napi::Function>());
  return env.Undefined();
}

Napi::Value UblkQueueWrap::PackedWriteStats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (packed_write_ == nullptr) return env.Null();
  return MakeCounters(env, {{"requests", writes_served_}});
}

// A 4 KiB WRITE (not FUA) applied and journaled in the addon, then committed;
// false: nothing changed and the tag is still in the kernel's state for JS.
bool UblkQueueWrap::ServePackedWrite(Napi::Env env, uint16_t tag) {
  const ublksrv_io_desc& iod = Iod(tag);
  if ((iod.op_flags & 0xff) != kIoOpWrite || (iod.op_flags & kIoFlagFua) != 0 || iod.nr_sectors != 8 || iod.start_sector % 8 != 0) {
    return false;
  }
  if (!packed_write_->ServeWrite(iod.start_sector / 8, bufs_[tag], true)) return false;
  writes_served_ += 1;
  writes_to_report_ = true;
  ring_owner_->ring(env).MarkReady(this);
  Transition(tag, TagState::kInKernel, TagState::kNative);
  // With no SQE to be had, JS serves the write again: applying it twice is
  // applying the same data twice (its record is in the journal either way).
  DirectDone(env, tag, 4096);
  return true;
}

}  // namespace ublk
