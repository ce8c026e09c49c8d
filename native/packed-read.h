// The native read path of the packed layout: a ublk READ whose every 4 KiB
// block resolves in the engine's clean-record tables (packed-tables.h) to a
// fragment already in the pool file is served without a JS call. Adjacent
// fragments of one segment are read with one read on the queue's ring into
// the tag's scratch, each fragment is checked against its record and decoded
// into the tag's io buffer (header, extent id, codec, XXH128: the checks of
// CodecDecode), and the request is committed.
//
// A block the engine's bitmap proves unmapped reads zeros here too, and a
// fragment in a segment still in RAM (its bytes may not be in the pool file
// yet) is copied from the engine's segment buffer when the request starts,
// as the JS path reads it from memory. Everything else goes to the JS
// target, which serves the request from scratch through the engine: any
// other operation, a block that misses (a same-fill block, a record not in
// the tables), and any failure (no SQE, a short or failed read, a fragment
// that does not verify). The JS path then reports what it finds itself: a damaged
// fragment is counted, logged and failed with EIO there, exactly as before.
#ifndef UBLK_NATIVE_PACKED_READ_H_
#define UBLK_NATIVE_PACKED_READ_H_

#include <napi.h>

#include <cstdint>
#include <memory>
#include <vector>

#include "direct-path.h"
#include "event-ring.h"
#include "packed-tables.h"
#include "uapi/ublk_cmd.h"

namespace ublk {

struct PackedReadConfig {
  uint64_t data_offset = 0;    // the pool's first segment, bytes into the file
  uint64_t segment_bytes = 0;
  uint64_t max_request_bytes = 0;  // the per-tag io buffer: larger requests go to JS
  // A pool in memory (tmpfs): read it by pread on this thread. A ring read of
  // a tmpfs file is always handed to an io-wq worker, which costs more than
  // the copy on the daemon's one CPU.
  bool inline_reads = false;
};

// Counters since setPackedRead(), read by JS on demand.
struct PackedReadCounters {
  uint64_t requests = 0;   // READs served natively
  uint64_t blocks = 0;     // their 4 KiB blocks
  uint64_t to_js = 0;      // requests handed to the JS path (any reason)
  uint64_t misses = 0;     // of to_js: a block the tables could not resolve
  uint64_t io_failures = 0;     // of to_js: a read failed, was short, or had no SQE
  uint64_t verify_failures = 0; // of to_js: a fragment did not verify
};

class PackedReadPath {
 public:
  // `pool`: the path's own descriptor of the pool file (a duplicate).
  PackedReadPath(DirectHost* host, uint16_t depth, PackedTables* tables, Fd pool, const PackedReadConfig& config);
  PackedReadPath(const PackedReadPath&) = delete;
  PackedReadPath& operator=(const PackedReadPath&) = delete;

  // Serves `tag` (owned by the native side from now on): queues its pool
  // reads. false: the JS path must serve it (nothing was queued, the host
  // was not called).
  bool Start(Napi::Env env, EventRing& ring, uint16_t tag, const ublksrv_io_desc& iod, uint8_t* buf);
  uint32_t inflight() const { return inflight_; }
  const PackedReadCounters& counters() const { return counters_; }
  // The host gave `tag` to JS after all (its commit could not be queued).
  void CountHandOff() { counters_.to_js += 1; }
  // The queue closed: nothing is in flight and Start() is never called again.
  void CloseFile();

 private:
  // One fragment to decode: its record (copied at Start: the table may
  // change while the read is in flight) and where its bytes land in scratch.
  struct Frag {
    bool zero = false;  // certainly unmapped: reads zeros, nothing to fetch
    // In a segment's RAM copy (valid only until Start returns: copied into scratch there).
    const uint8_t* mem = nullptr;
    ExtentLocation loc;
    size_t scratch_at = 0;
    uint32_t bytes = 0;  // fragmentBytes(stored_bytes)
  };
  struct TagRead;
  // One pool read: a run of adjacent fragments of one segment.
  class RunOp : public Completion {
   public:
    void OnCqe(Napi::Env env, int32_t res) override { path->OnRun(env, *read, res == static_cast<int32_t>(expect)); }
    PackedReadPath* path = nullptr;
    TagRead* read = nullptr;
    uint32_t segment = 0;
    uint64_t start = 0;   // bytes into the segment
    uint32_t expect = 0;  // bytes to read
    size_t scratch_at = 0;
  };
  struct TagRead {
    uint16_t tag = 0;
    uint8_t* buf = nullptr;
    std::vector<Frag> frags;
    std::vector<RunOp> runs;
    std::unique_ptr<uint8_t[]> scratch;
    size_t scratch_bytes = 0;
    uint32_t pending = 0;
    bool failed = false;
    uint64_t seq = 0;
  };

  bool Resolve(TagRead& t, uint64_t lba, uint32_t blocks);
  void PlanRuns(TagRead& t);
  uint32_t Submit(Napi::Env env, EventRing& ring, TagRead& t);
  bool ReadInline(TagRead& t) const;
  void OnRun(Napi::Env env, TagRead& t, bool ok);
  void Finish(Napi::Env env, TagRead& t);
  void Decoded(Napi::Env env, TagRead& t);

  DirectHost* host_;
  PackedTables* tables_;
  Fd pool_;
  PackedReadConfig config_;
  std::vector<TagRead> reads_;
  PackedReadCounters counters_;
  uint32_t inflight_ = 0;
};

// packedReadProbe(tables, ring, poolFd, dataOffset, segmentBytes, lba, blocks,
// out): the path driven without ublk, for host tests (packed-read-probe.cc).
Napi::Value PackedReadProbe(const Napi::CallbackInfo& info);
// packedReadProbeClose(tables): frees the probes of `tables` once idle.
Napi::Value PackedReadProbeClose(const Napi::CallbackInfo& info);

}  // namespace ublk

#endif  // UBLK_NATIVE_PACKED_READ_H_
