#include "queue.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <sys/mman.h>
#include <unistd.h>

#include <cassert>
#include <string>

namespace ublk {

namespace {

size_t PageSize() { return static_cast<size_t>(sysconf(_SC_PAGESIZE)); }

size_t RoundUp(size_t v, size_t to) { return (v + to - 1) / to * to; }

template <typename T>
T* TypedArrayData(Napi::Object batch, const char* key, size_t depth) {
  Napi::Value v = batch.Get(key);
  if (!v.IsTypedArray()) throw Napi::TypeError::New(batch.Env(), std::string("batch.") + key + " must be a typed array");
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() < depth || ta.ElementSize() != sizeof(T)) {
    throw Napi::TypeError::New(batch.Env(), std::string("batch.") + key + " has the wrong type or length");
  }
  uint8_t* base = static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset();
  return reinterpret_cast<T*>(base);
}

}  // namespace

Napi::Function UblkQueueWrap::Init(Napi::Env env) {
  return DefineClass(env, "UblkQueue",
                     {
                         InstanceMethod<&UblkQueueWrap::FetchAll>("fetchAll"),
                         InstanceMethod<&UblkQueueWrap::Commit>("commit"),
                         InstanceMethod<&UblkQueueWrap::GetTagState>("tagState"),
                         InstanceMethod<&UblkQueueWrap::AbortedCount>("abortedCount"),
                         InstanceMethod<&UblkQueueWrap::Close>("close"),
                         InstanceMethod<&UblkQueueWrap::SetDirect>("setDirect"),
                         InstanceMethod<&UblkQueueWrap::DirectStats>("directStats"),
                         InstanceMethod<&UblkQueueWrap::UserCopies>("userCopies"),
                         InstanceMethod<&UblkQueueWrap::SetDirectSize>("setDirectSize"),
                         InstanceMethod<&UblkQueueWrap::SetPackedRead>("setPackedRead"),
                         InstanceMethod<&UblkQueueWrap::PackedReadStats>("packedReadStats"),
                         InstanceMethod<&UblkQueueWrap::SetPackedWrite>("setPackedWrite"),
                         InstanceMethod<&UblkQueueWrap::PackedWriteStats>("packedWriteStats"),
                     });
}

// new UblkQueue(ring, cdevFd, queueId, depth, maxIoBufBytes, ioctlEncode,
//               batch, onBatch, onAbort, onError, zeroCopySlots)
// zeroCopySlots: 0, or the size of the ring's fixed-buffer table shared by
// every queue of the device (queue q uses slots q * depth .. q * depth + depth - 1).
UblkQueueWrap::UblkQueueWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<UblkQueueWrap>(info) {
  Napi::Env env = info.Env();
  Napi::Object ring_obj = info[0].As<Napi::Object>();
  ring_owner_ = Napi::ObjectWrap<IoRingWrap>::Unwrap(ring_obj);
  ring_owner_->ring(env);  // throws when closed
  ring_ref_ = Napi::Persistent(ring_obj);
  cdev_fd_ = info[1].As<Napi::Number>().Int32Value();
  queue_id_ = static_cast<uint16_t>(info[2].As<Napi::Number>().Uint32Value());
  uint32_t depth = info[3].As<Napi::Number>().Uint32Value();
  max_io_buf_bytes_ = info[4].As<Napi::Number>().Uint32Value();
  ioctl_encode_ = info[5].ToBoolean().Value();
  if (depth == 0 || depth > kMaxQueueDepth) throw Napi::RangeError::New(env, "queue depth must be 1..4096");
  if (max_io_buf_bytes_ == 0 || max_io_buf_bytes_ % PageSize() != 0) {
    throw Napi::RangeError::New(env, "maxIoBufBytes must be a positive multiple of the page size");
  }
  depth_ = static_cast<uint16_t>(depth);

  Napi::Object batch = info[6].As<Napi::Object>();
  b_tags_ = TypedArrayData<uint16_t>(batch, "tags", depth);
  b_ops_ = TypedArrayData<uint8_t>(batch, "ops", depth);
  b_flags_ = TypedArrayData<uint32_t>(batch, "opFlags", depth);
  b_start_ = TypedArrayData<double>(batch, "startSectors", depth);
  b_nr_ = TypedArrayData<uint32_t>(batch, "nrSectors", depth);
  batch_ref_ = Napi::Persistent(batch);
  on_batch_ = Napi::Persistent(info[7].As<Napi::Function>());
  on_abort_ = Napi::Persistent(info[8].As<Napi::Function>());
  on_error_ = Napi::Persistent(info[9].As<Napi::Function>());
  uint32_t zc_slots = info.Length() > 10 && info[10].IsNumber() ? info[10].As<Napi::Number>().Uint32Value() : 0;
  if (zc_slots != 0) {
    buf_index_base_ = static_cast<uint32_t>(queue_id_) * depth;
    if (buf_index_base_ + depth > zc_slots || zc_slots > 0x10000) {
      throw Napi::RangeError::New(env, "zeroCopySlots must cover every queue's tags (at most 65536)");
    }
    try {
      ring_owner_->ring(env).ring().RegisterSparseBuffers(zc_slots);
    } catch (const SysError& e) {
      throw MakeErrnoError(env, e.err, std::string(e.what) + " for zero copy");
    }
    zero_copy_ = true;
  }

  // Descriptors of queue q start at q * round_up(4096 * 24, PAGE) in the cdev.
  size_t page = PageSize();
  size_t len = RoundUp(depth * sizeof(ublksrv_io_desc), page);
  off_t off = static_cast<off_t>(kCmdBufOffset + queue_id_ * RoundUp(kMaxQueueDepth * sizeof(ublksrv_io_desc), page));
  void* addr = mmap(nullptr, len, PROT_READ, MAP_SHARED | MAP_POPULATE, cdev_fd_, off);
  if (addr == MAP_FAILED) {
    throw MakeErrnoError(env, errno, "mmap ublk descriptors of queue " + std::to_string(queue_id_));
  }
  iods_ = Mapping(addr, len);

  Napi::Array buffers = Napi::Array::New(env, depth);
  bufs_.resize(depth, nullptr);
  for (uint32_t tag = 0; tag < depth; ++tag) {
    void* mem = nullptr;
    int rc = posix_memalign(&mem, page, max_io_buf_bytes_);
    if (rc != 0) throw MakeErrnoError(env, rc, "allocate io buffer");
    bufs_[tag] = static_cast<uint8_t*>(mem);
    // The Buffer owns the memory: it is freed when JS drops the last
    // reference, never while a stale view could still read it.
    buffers[tag] = Napi::Buffer<uint8_t>::New(env, bufs_[tag], max_io_buf_bytes_,
                                              [](Napi::Env, uint8_t* data) { free(data); });
  }
  info.This().As<Napi::Object>().Set("buffers", buffers);
  states_.assign(depth, TagState::kIdle);
  completions_.reserve(depth);
  for (uint32_t tag = 0; tag < depth; ++tag) completions_.emplace_back(this, static_cast<uint16_t>(tag));
}

UblkQueueWrap::~UblkQueueWrap() {
  // Held (Ref) from fetchAll() until close(), so nothing is in the kernel here.
  assert(in_kernel_ == 0);
  assert(direct_ == nullptr || direct_->inflight() == 0);
  assert(packed_ == nullptr || packed_->inflight() == 0);
  EventRing* ring = ring_owner_ == nullptr ? nullptr : ring_owner_->ring_if_open();
  if (ring != nullptr) ring->ForgetSink(this);
}

const ublksrv_io_desc& UblkQueueWrap::Iod(uint16_t tag) const {
  assert(tag < depth_);  // the mmap holds exactly depth_ descriptors
  return reinterpret_cast<const ublksrv_io_desc*>(iods_.get())[tag];
}

void UblkQueueWrap::Transition(uint16_t tag, TagState from, TagState to) {
  assert(tag < depth_);
  assert(states_[tag] == from);
  (void)from;
  states_[tag] = to;
}

void UblkQueueWrap::IssueIoCmd(Napi::Env env, uint32_t nr, uint16_t tag, int32_t result) {
  EventRing& ring = ring_owner_->ring(env);
  io_uring_sqe* sqe = ring.Sqe();
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = cdev_fd_;
  sqe->cmd_op = ioctl_encode_ ? IoIoctl(nr) : nr;
  auto* cmd = reinterpret_cast<ublksrv_io_cmd*>(reinterpret_cast<uint8_t*>(sqe) + 48);
  cmd->q_id = queue_id_;
  cmd->tag = tag;
  cmd->result = result;
  if (zero_copy_) {
    // Where the kernel registers the next request's pages; with FALLBACK a
    // failed registration delivers the request flagged NEED_REG_BUF instead
    // of failing it (the JS path then serves it by user copy).
    cmd->addr = 0;
    sqe->addr = AutoBufRegAddr(static_cast<uint16_t>(buf_index_base_ + tag), kAutoBufRegFallback);
  } else {
    cmd->addr = reinterpret_cast<uint64_t>(bufs_[tag]);
  }
  ring.Track(sqe, &completions_[tag]);
  in_kernel_ += 1;
}

Napi::Value UblkQueueWrap::FetchAll(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) throw Napi::Error::New(env, "UblkQueue is closed");
  for (uint16_t tag = 0; tag < depth_; ++tag) {
    if (states_[tag] != TagState::kIdle) throw Napi::Error::New(env, "fetchAll: tag already fetched");
  }
  if (!held_) {
    Ref();  // the kernel holds pointers into this object until every tag ends
    held_ = true;
  }
  for (uint16_t tag = 0; tag < depth_; ++tag) {
    IssueIoCmd(env, kIoFetchReq, tag, -1);  // throws before anything is queued
    Transition(tag, TagState::kIdle, TagState::kInKernel);
  }
  return env.Undefined();
}

Napi::Value UblkQueueWrap::Commit(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  uint32_t tag = info[0].As<Napi::Number>().Uint32Value();
  int32_t result = info[1].As<Napi::Number>().Int32Value();
  if (tag >= depth_) throw Napi::RangeError::New(env, "commit: tag out of range");
  if (states_[tag] != TagState::kOwnedByJs) {
    // A second commit, or a commit of a tag never delivered: a bug upstream.
    throw Napi::Error::New(env, "commit: tag " + std::to_string(tag) + " is not owned by JS (state " +
                                    std::to_string(static_cast<int>(states_[tag])) + ")");
  }
  if (zero_copy_ && result > 0) {
    int err = CopyOut(static_cast<uint16_t>(tag), result);
    if (err != 0) {
      errors_.emplace_back(static_cast<uint16_t>(tag), -err);
      ring_owner_->ring(env).MarkReady(this);
      result = -EIO;
    }
  }
  // Issue first: if no SQE can be had the tag stays with JS and commit() may be retried.
  IssueIoCmd(env, kIoCommitAndFetchReq, static_cast<uint16_t>(tag), result);
  if (direct_ != nullptr) direct_->JsDone(static_cast<uint16_t>(tag));
  Transition(static_cast<uint16_t>(tag), TagState::kOwnedByJs, TagState::kInKernel);
  return env.Undefined();
}

void UblkQueueWrap::OnTagCqe(Napi::Env env, uint16_t tag, int32_t res) {
  assert(in_kernel_ > 0);
  in_kernel_ -= 1;
  if (res == kIoResOk) {
    if (direct_ != nullptr) {
      Transition(tag, TagState::kInKernel, TagState::kNative);
      // DirectDone or DirectToJs follows, on the backing CQE or at once.
      if (direct_->Start(env, ring_owner_->ring(env), tag, Iod(tag), bufs_[tag])) return;
    } else if (packed_write_ != nullptr && ServePackedWrite(env, tag)) {
      return;
    } else if (packed_ != nullptr) {
      Transition(tag, TagState::kInKernel, TagState::kNative);
      // DirectDone or DirectToJs follows, once the pool reads complete.
      if (packed_->Start(env, ring_owner_->ring(env), tag, Iod(tag), bufs_[tag])) return;
    } else {
      Transition(tag, TagState::kInKernel, TagState::kNative);
    }
    ToJs(env, tag);
    return;
  } else {
    Transition(tag, TagState::kInKernel, TagState::kAborted);
    aborted_ += 1;
    if (res != kIoResAbort) errors_.emplace_back(tag, res);  // misuse, or NEED_GET_DATA we never asked for
  }
  ring_owner_->ring(env).MarkReady(this);
}

void UblkQueueWrap::AppendToBatch(uint16_t tag) {
  // Each tag is delivered at most once per reap: it is re-armed only by a
  // commit, and commits are submitted after the reap.
  assert(batch_count_ < depth_);
  const ublksrv_io_desc& iod = Iod(tag);
  uint32_t i = batch_count_++;
  b_tags_[i] = tag;
  b_ops_[i] = static_cast<uint8_t>(iod.op_flags & 0xff);
  b_flags_[i] = iod.op_flags;
  b_start_[i] = static_cast<double>(iod.start_sector);  // FLUSH: 2^64-1
  b_nr_[i] = iod.nr_sectors;
}

void UblkQueueWrap::Deliver(Napi::Env env) {
  // Before the batch: JS takes what the writes served here changed first.
  if (writes_to_report_) {
    writes_to_report_ = false;
    on_writes_.Call({});
  }
  if (batch_count_ > 0) {
    uint32_t count = batch_count_;
    batch_count_ = 0;
    on_batch_.Call({Napi::Number::New(env, count)});
  }
  if (direct_ != nullptr && direct_->has_errors()) DeliverDirectErrors(env);
  std::vector<std::pair<uint16_t, int32_t>> errors;
  errors.swap(errors_);
  for (auto& e : errors) {
    int err = e.second < 0 ? -e.second : EPROTO;
    on_error_.Call({MakeErrnoError(env, err, "ublk io command of queue " + std::to_string(queue_id_) + " tag " +
                                                 std::to_string(e.first) + " (res " + std::to_string(e.second) + ")")
                        .Value()});
  }
  if (!abort_reported_ && aborted_ == depth_) {
    abort_reported_ = true;
    on_abort_.Call({});
  }
}

// setDirectSize(sizeBytes): the native path accepts requests up to the new
// size (an online grow, before UPDATE_SIZE; the backing holds it already).
// Never smaller: requests in flight may reach the old end.
Napi::Value UblkQueueWrap::SetDirectSize(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (direct_ == nullptr) throw Napi::Error::New(env, "setDirectSize: no direct path");
  double size = info.Length() > 0 && info[0].IsNumber() ? info[0].As<Napi::Number>().DoubleValue() : -1;
  if (!(size > 0) || size > 9007199254740991.0 || static_cast<uint64_t>(size) < direct_->size_bytes()) {
    throw Napi::RangeError::New(env, "setDirectSize: bad size (it never shrinks)");
  }
  direct_->SetSize(static_cast<uint64_t>(size));
  return env.Undefined();
}

Napi::Value UblkQueueWrap::GetTagState(const Napi::CallbackInfo& info) {
  uint32_t tag = info[0].As<Napi::Number>().Uint32Value();
  if (tag >= depth_) throw Napi::RangeError::New(info.Env(), "tag out of range");
  return Napi::Number::New(info.Env(), static_cast<int>(states_[tag]));
}

Napi::Value UblkQueueWrap::AbortedCount(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), aborted_);
}

Napi::Value UblkQueueWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed_) return env.Undefined();
  if (in_kernel_ > 0) {
    throw Napi::Error::New(env, "UblkQueue.close: " + std::to_string(in_kernel_) +
                                    " tags still in the kernel (stop the device and wait for abort)");
  }
  uint32_t native_inflight = (direct_ != nullptr ? direct_->inflight() : 0) + (packed_ != nullptr ? packed_->inflight() : 0);
  if (native_inflight > 0) {
    throw Napi::Error::New(env, "UblkQueue.close: " + std::to_string(native_inflight) + " native requests still in flight");
  }
  EventRing* ring = ring_owner_->ring_if_open();
  if (ring != nullptr) ring->ForgetSink(this);
  iods_.Reset();  // the mapping holds a reference on /dev/ublkcN
  if (direct_ != nullptr) direct_->CloseFile();  // nothing in flight, and no request can arrive now
  if (packed_ != nullptr) packed_->CloseFile();
  closed_ = true;
  if (held_) {
    held_ = false;
    Unref();
  }
  return env.Undefined();
}

}  // namespace ublk
