// JS class UblkQueue: one ublk hardware queue served on an IoRing by the main
// thread. Owns the queue's read-only descriptor mmap, one page-aligned io
// buffer per tag, and the per-tag ownership state.
//
// The cdev is used as a plain fd in each URING_CMD, not registered as a fixed
// file: the ring is shared with the target's file I/O and outlives the queue,
// and a fixed-file slot would keep /dev/ublkcN referenced (DEL_DEV would wait
// for the ring to close). In-flight commands hold their own file reference
// only until their CQE, so unmapping the descriptors and closing the fd after
// every tag aborted releases the device (verified in the guest e2e).
#ifndef UBLK_NATIVE_QUEUE_H_
#define UBLK_NATIVE_QUEUE_H_

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "direct-path.h"
#include "event-ring.h"
#include "io-ring.h"
#include "packed-read.h"
#include "uapi/ublk_cmd.h"

namespace ublk {

class WriteApplyWrap;

// Exactly one side owns a tag: the kernel from FETCH/COMMIT_AND_FETCH until
// its CQE, JS from the batch that delivered it until commit(). ABORT (-ENODEV)
// ends a tag for good: it is never re-issued. With a direct path set, the
// native side owns a tag (kNative) while its backing I/O is in flight; so
// does the packed read path (packed-read.h) while its pool reads are.
enum class TagState : uint8_t { kIdle = 0, kInKernel = 1, kOwnedByJs = 2, kAborted = 3, kNative = 4 };

class UblkQueueWrap : public Napi::ObjectWrap<UblkQueueWrap>, public BatchSink, public DirectHost {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit UblkQueueWrap(const Napi::CallbackInfo& info);
  ~UblkQueueWrap() override;

  void OnTagCqe(Napi::Env env, uint16_t tag, int32_t res);
  void Deliver(Napi::Env env) override;
  void DirectDone(Napi::Env env, uint16_t tag, int32_t result) override;
  void DirectToJs(Napi::Env env, uint16_t tag) override;

 private:
  class TagCompletion : public Completion {
   public:
    TagCompletion(UblkQueueWrap* queue, uint16_t tag) : queue_(queue), tag_(tag) {}
    void OnCqe(Napi::Env env, int32_t res) override { queue_->OnTagCqe(env, tag_, res); }

   private:
    UblkQueueWrap* queue_;
    uint16_t tag_;
  };

  Napi::Value FetchAll(const Napi::CallbackInfo& info);
  Napi::Value Commit(const Napi::CallbackInfo& info);
  Napi::Value GetTagState(const Napi::CallbackInfo& info);
  Napi::Value AbortedCount(const Napi::CallbackInfo& info);
  Napi::Value Close(const Napi::CallbackInfo& info);
  Napi::Value SetDirect(const Napi::CallbackInfo& info);
  Napi::Value DirectStats(const Napi::CallbackInfo& info);
  Napi::Value UserCopies(const Napi::CallbackInfo& info);
  Napi::Value SetDirectSize(const Napi::CallbackInfo& info);
  Napi::Value SetPackedRead(const Napi::CallbackInfo& info);
  Napi::Value PackedReadStats(const Napi::CallbackInfo& info);
  Napi::Value SetPackedWrite(const Napi::CallbackInfo& info);
  Napi::Value PackedWriteStats(const Napi::CallbackInfo& info);
  bool ServePackedWrite(Napi::Env env, uint16_t tag);

  void Transition(uint16_t tag, TagState from, TagState to);
  void IssueIoCmd(Napi::Env env, uint32_t nr, uint16_t tag, int32_t result);
  const ublksrv_io_desc& Iod(uint16_t tag) const;
  void AppendToBatch(uint16_t tag);
  void ToJs(Napi::Env env, uint16_t tag);
  int CopyIn(uint16_t tag);
  int CopyOut(uint16_t tag, int32_t bytes);
  int UserCopy(uint16_t tag, size_t len, bool to_pages);
  void DeliverDirectErrors(Napi::Env env);

  IoRingWrap* ring_owner_ = nullptr;
  Napi::ObjectReference ring_ref_;
  int cdev_fd_ = -1;  // owned by the device (one opener per /dev/ublkcN)
  uint16_t queue_id_ = 0;
  uint16_t depth_ = 0;
  uint32_t max_io_buf_bytes_ = 0;
  bool ioctl_encode_ = true;
  // Zero copy (UBLK_F_AUTO_BUF_REG with USER_COPY): the kernel registers each
  // request's pages as fixed buffer buf_index_base_ + tag of the ring, and no
  // data reaches bufs_ by itself. A request the JS target serves gets its
  // data by user copy (pread/pwrite of /dev/ublkcN) at the hand-off and at
  // commit(): JS sees the per-tag buffer exactly as without zero copy.
  bool zero_copy_ = false;
  uint32_t buf_index_base_ = 0;
  uint64_t user_copies_ = 0;
  bool closed_ = false;
  bool held_ = false;
  Mapping iods_;
  std::vector<uint8_t*> bufs_;  // freed by the Buffers' finalizers
  std::vector<TagState> states_;
  std::vector<TagCompletion> completions_;
  uint32_t in_kernel_ = 0;
  uint32_t aborted_ = 0;
  bool abort_reported_ = false;
  std::vector<std::pair<uint16_t, int32_t>> errors_;  // unexpected CQE results to report
  std::unique_ptr<DirectPath> direct_;  // the native request path, when set
  Napi::FunctionReference on_direct_errors_;
  Napi::ObjectReference direct_map_ref_;  // keeps the shared ExtentMap alive
  std::unique_ptr<PackedReadPath> packed_;  // the packed layout's native reads, when set
  Napi::ObjectReference packed_tables_ref_;  // keeps the shared PackedTables alive
  // The packed layout's one-block writes (fast-write.h), when set: the engine's
  // WriteApply, and JS told once per wake-up that some were applied.
  WriteApplyWrap* packed_write_ = nullptr;
  Napi::ObjectReference packed_write_ref_;
  Napi::FunctionReference on_writes_;
  bool writes_to_report_ = false;
  uint64_t writes_served_ = 0;

  // Batch views (JS typed arrays of length depth) and their raw pointers.
  Napi::ObjectReference batch_ref_;
  uint16_t* b_tags_ = nullptr;
  uint8_t* b_ops_ = nullptr;
  uint32_t* b_flags_ = nullptr;
  double* b_start_ = nullptr;
  uint32_t* b_nr_ = nullptr;
  uint32_t batch_count_ = 0;
  Napi::FunctionReference on_batch_;
  Napi::FunctionReference on_abort_;
  Napi::FunctionReference on_error_;
};

}  // namespace ublk

#endif  // UBLK_NATIVE_QUEUE_H_
