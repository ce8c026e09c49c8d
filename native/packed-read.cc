#include "packed-read.h"

#include <errno.h>
#include <unistd.h>

#include <cassert>
#include <cstring>
#include <utility>

#include "codec-batch.h"

namespace ublk {

namespace {

constexpr uint32_t kSectorsPerBlock = 8;  // the device has 4 KiB logical blocks
constexpr uint32_t kBlockBytes = 4096;
constexpr uint32_t kHeaderBytes = 16;     // src/pool/fragment.ts
constexpr uint32_t kFragmentAlign = 16;   // FRAGMENT_ALIGN_BYTES
constexpr uint64_t kRunBytesMax = 1u << 20;  // as the JS read path's runs

// fragmentBytes(storedBytes): header and payload, padded.
uint32_t FragmentBytes(uint32_t stored) {
  return (kHeaderBytes + stored + kFragmentAlign - 1) / kFragmentAlign * kFragmentAlign;
}

}  // namespace

PackedReadPath::PackedReadPath(DirectHost* host, uint16_t depth, PackedTables* tables, Fd pool,
                               const PackedReadConfig& config)
    : host_(host), tables_(tables), pool_(std::move(pool)), config_(config), reads_(depth) {
  assert(pool_.get() >= 0 && config_.segment_bytes > 0);
  for (uint16_t tag = 0; tag < depth; ++tag) reads_[tag].tag = tag;
}

void PackedReadPath::CloseFile() {
  assert(inflight_ == 0);
  pool_.Reset();
}

bool PackedReadPath::Start(Napi::Env env, EventRing& ring, uint16_t tag, const ublksrv_io_desc& iod, uint8_t* buf) {
  assert(tag < reads_.size());
  if ((iod.op_flags & 0xff) != kIoOpRead) return false;
  // Whole blocks, else JS answers as it always did.
  if (iod.nr_sectors == 0 || iod.start_sector % kSectorsPerBlock != 0 || iod.nr_sectors % kSectorsPerBlock != 0 ||
      (static_cast<uint64_t>(iod.nr_sectors) << 9) > config_.max_request_bytes) {
    counters_.to_js += 1;
    return false;
  }
  TagRead& t = reads_[tag];
  assert(t.pending == 0);
  t.buf = buf;
  t.failed = false;
  if (!tables_->ready() || !Resolve(t, iod.start_sector / kSectorsPerBlock, iod.nr_sectors / kSectorsPerBlock)) {
    counters_.misses += 1;
    counters_.to_js += 1;
    return false;
  }
  PlanRuns(t);
  if (t.runs.empty()) {
    // Nothing to read from the pool (unmapped blocks, fragments in RAM): done now.
    t.seq = tables_->BeginRead();
    inflight_ += 1;
    Finish(env, t);
    return true;
  }
  // The locations were resolved now: reads the engine must wait for before it reuses their space.
  t.seq = tables_->BeginRead();
  if (config_.inline_reads) {
    // Done before Start returns: no other request can run in between.
    t.failed = !ReadInline(t);
    inflight_ += 1;
    Finish(env, t);
    return true;
  }
  t.pending = Submit(env, ring, t);
  if (t.pending == 0) {
    tables_->EndRead(t.seq);
    counters_.io_failures += 1;
    counters_.to_js += 1;
    return false;
  }
  inflight_ += 1;
  return true;
}

// Every block of [lba, lba + blocks) to a fragment in the pool file, or false.
// In passes, prefetching each table's sets before probing them.
bool PackedReadPath::Resolve(TagRead& t, uint64_t lba, uint32_t blocks) {
  t.frags.resize(blocks);
  for (uint32_t i = 0; i < blocks; ++i) tables_->PrefetchMap(lba + i);
  for (uint32_t i = 0; i < blocks; ++i) {
    Frag& f = t.frags[i];
    // Every field is set anew: the tag's frags are reused from its last request.
    f.mem = nullptr;
    f.zero = tables_->IsClear(lba + i);
    if (f.zero) continue;
    if (!tables_->LookupMap(lba + i, &f.loc.id)) return false;
    tables_->PrefetchExtent(f.loc.id);
  }
  for (Frag& f : t.frags) {
    if (f.zero) continue;
    if (!tables_->LookupExtent(f.loc.id, &f.loc)) return false;
    if (f.loc.stored_bytes == 0 || f.loc.stored_bytes > kBlockBytes) return false;
    f.bytes = FragmentBytes(f.loc.stored_bytes);
    if (f.loc.offset + static_cast<uint64_t>(f.bytes) > config_.segment_bytes) return false;
    // A segment still in RAM may not be in the file yet: its bytes come from the RAM copy.
    size_t resident_bytes = 0;
    const uint8_t* mem = tables_->Resident(f.loc.segment, &resident_bytes);
    if (mem != nullptr) {
      if (f.loc.offset + static_cast<uint64_t>(f.bytes) > resident_bytes) return false;
      f.mem = mem + f.loc.offset;
    }
  }
  return true;
}

// Groups the fragments in the pool file into runs of adjacent bytes of one
// segment, each with its place in scratch (grown, never shrunk: untouched
// pages cost nothing), and copies those in RAM into scratch now.
void PackedReadPath::PlanRuns(TagRead& t) {
  size_t nruns = 0;
  size_t total = 0;
  if (t.runs.size() < t.frags.size()) t.runs.resize(t.frags.size());
  RunOp* last = nullptr;
  for (Frag& f : t.frags) {
    if (f.zero) continue;
    if (f.mem != nullptr) {
      f.scratch_at = total;
      total += f.bytes;
      last = nullptr;
      continue;
    }
    bool joins = last != nullptr && last->segment == f.loc.segment && last->start + last->expect == f.loc.offset &&
                 last->expect + static_cast<uint64_t>(f.bytes) <= kRunBytesMax;
    if (joins) {
      f.scratch_at = last->scratch_at + last->expect;
      last->expect += f.bytes;
    } else {
      last = &t.runs[nruns++];
      last->path = this;
      last->read = &t;
      last->segment = f.loc.segment;
      last->start = f.loc.offset;
      last->expect = f.bytes;
      last->scratch_at = total;
      f.scratch_at = total;
    }
    total += f.bytes;
  }
  t.runs.resize(nruns);
  if (t.scratch_bytes < total) {
    t.scratch.reset(new uint8_t[total]);
    t.scratch_bytes = total;
  }
  // The RAM copy may be recycled for another segment once this call returns.
  // (An unmapped block's mem is null: Resolve resets it before anything else.)
  for (const Frag& f : t.frags) {
    if (f.mem != nullptr) memcpy(t.scratch.get() + f.scratch_at, f.mem, f.bytes);
  }
}

// Queues the runs' reads; returns how many were queued. Runs left without an
// SQE mark the read failed (JS serves it once the queued ones complete).
uint32_t PackedReadPath::Submit(Napi::Env env, EventRing& ring, TagRead& t) {
  uint32_t queued = 0;
  for (RunOp& r : t.runs) {
    io_uring_sqe* sqe = nullptr;
    try {
      sqe = ring.Sqe();
    } catch (const Napi::Error&) {
      t.failed = true;
      break;
    }
    sqe->opcode = IORING_OP_READ;
    sqe->fd = pool_.get();
    sqe->addr = reinterpret_cast<uint64_t>(t.scratch.get() + r.scratch_at);
    sqe->len = r.expect;
    sqe->off = config_.data_offset + static_cast<uint64_t>(r.segment) * config_.segment_bytes + r.start;
    ring.Track(sqe, &r);
    queued += 1;
  }
  return queued;
}

// The runs by pread(2) into scratch; false at the first failed or short read.
bool PackedReadPath::ReadInline(TagRead& t) const {
  for (const RunOp& r : t.runs) {
    uint8_t* at = t.scratch.get() + r.scratch_at;
    off_t off = static_cast<off_t>(config_.data_offset + static_cast<uint64_t>(r.segment) * config_.segment_bytes + r.start);
    ssize_t n = 0;
    do {
      n = pread(pool_.get(), at, r.expect, off);
    } while (n < 0 && errno == EINTR);
    if (n != static_cast<ssize_t>(r.expect)) return false;
  }
  return true;
}

void PackedReadPath::OnRun(Napi::Env env, TagRead& t, bool ok) {
  assert(t.pending > 0);
  if (!ok) t.failed = true;
  t.pending -= 1;
  if (t.pending == 0) Finish(env, t);
}

// Every run arrived: decode and verify each fragment into the io buffer and
// commit, or give the request to JS.
void PackedReadPath::Finish(Napi::Env env, TagRead& t) {
  assert(inflight_ > 0);
  inflight_ -= 1;
  bool ended = tables_->EndRead(t.seq);
  assert(ended);
  (void)ended;
  if (t.failed) {
    counters_.io_failures += 1;
    counters_.to_js += 1;
    host_->DirectToJs(env, t.tag);
    return;
  }
  for (size_t i = 0; i < t.frags.size(); ++i) {
    const Frag& f = t.frags[i];
    if (f.zero) {
      memset(t.buf + i * kBlockBytes, 0, kBlockBytes);
      continue;
    }
    const ExtentLocation& loc = f.loc;
    DecodeStatus st = DecodeStored(t.scratch.get() + f.scratch_at, f.bytes, loc.id, loc.codec_id, loc.stored_bytes,
                                   loc.fingerprint, t.buf + i * kBlockBytes);
    if (st != kDecodeOk) {
      // The JS path reads it again, and counts, reports and fails what it finds.
      counters_.verify_failures += 1;
      counters_.to_js += 1;
      host_->DirectToJs(env, t.tag);
      return;
    }
  }
  Decoded(env, t);
}

void PackedReadPath::Decoded(Napi::Env env, TagRead& t) {
  counters_.requests += 1;
  counters_.blocks += t.frags.size();
  host_->DirectDone(env, t.tag, static_cast<int32_t>(t.frags.size() * kBlockBytes));
}

}  // namespace ublk
