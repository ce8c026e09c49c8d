// WriteApplyWrap's one-block write path (fast-write.h): attaching the shared
// words, lists, dedup filter and journal files, the gate, and ServeWrite.
#include "fast-write.h"

#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cstring>
#include <string>

#include "codec-batch.h"
#include "event-ring.h"
#include "typed-args.h"
#include "write-apply.h"

namespace ublk {

namespace {

using namespace words;  // NOLINT: the table mirrors' constants and probes

// src/pool/fragment.ts
constexpr uint32_t kFragmentHeaderBytes = 16;
constexpr uint16_t kFragmentMagic = 0x5546;
constexpr uint32_t kBlockBytes = 4096;

uint32_t GetBe16(const uint8_t* p) { return (uint32_t{p[0]} << 8) | p[1]; }
uint32_t GetBe32(const uint8_t* p) { return (uint32_t{p[0]} << 24) | (uint32_t{p[1]} << 16) | (uint32_t{p[2]} << 8) | p[3]; }

constexpr uint32_t kJournalMagic = 0x4a435531;  // "1UCJ" little-endian
constexpr uint8_t kJournalKindWrite = 1;
constexpr size_t kJournalHashedBytes = 48;

void PutLe32(uint8_t* p, uint32_t v) {
  for (int i = 0; i < 4; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

void PutLe64(uint8_t* p, uint64_t v) {
  for (int i = 0; i < 8; ++i) p[i] = static_cast<uint8_t>(v >> (8 * i));
}

// DedupFilter's hashes(): two 32-bit hashes of the fingerprint's little-endian words.
void FilterHashes(const uint8_t* fp, uint32_t* h1, uint32_t* h2) {
  uint32_t a = 0x243f6a88u;
  uint32_t b = 0x85a308d3u;
  for (int o = 0; o < 16; o += 4) {
    uint32_t w = static_cast<uint32_t>(fp[o]) | static_cast<uint32_t>(fp[o + 1]) << 8 | static_cast<uint32_t>(fp[o + 2]) << 16 |
                 static_cast<uint32_t>(fp[o + 3]) << 24;
    a = (a ^ w) * 0xcc9e2d51u;
    a ^= a >> 15;
    b = (b ^ w) * 0x1b873593u;
    b ^= b >> 13;
  }
  *h1 = (a ^ (a >> 16)) * 0x85ebca6bu;
  *h2 = ((b ^ (b >> 16)) * 0xc2b2ae35u) | 1u;
}

constexpr int kFilterHashes = 4;

template <typename T>
T* FastArg(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t min_length, const char* what, size_t* length = nullptr) {
  return TypedArg<T>(env, v, type, min_length, "fast write", what, length);
}

}  // namespace

void EncodeJournalRecord(uint8_t* out, uint64_t seq, uint64_t lba, const uint8_t* block, const uint8_t* hash) {
  memset(out, 0, kJournalHeaderBytes);
  PutLe32(out, kJournalMagic);
  out[4] = kJournalKindWrite;
  PutLe64(out + 8, seq);
  PutLe64(out + 16, lba);
  PutLe32(out + 24, 1);
  PutLe32(out + 28, 4096);
  memcpy(out + 32, hash, 16);
  HashBytes(out, kJournalHashedBytes, out + kJournalHashedBytes);
  memcpy(out + kJournalHeaderBytes, block, 4096);
}

bool FilterMayHold(const std::vector<FilterLayer>& layers, const uint8_t* fingerprint) {
  uint32_t h1 = 0;
  uint32_t h2 = 0;
  FilterHashes(fingerprint, &h1, &h2);
  for (const FilterLayer& l : layers) {
    uint32_t h = h1;
    bool all = true;
    for (int i = 0; i < kFilterHashes && all; ++i) {
      uint32_t bit = h & l.mask;
      all = (l.bits[bit >> 5] & (1u << (bit & 31))) != 0;
      h += h2;
    }
    if (all) return true;
  }
  return false;
}

int WriteAll(int fd, const uint8_t* buf, size_t n, uint64_t at) {
  for (size_t done = 0; done < n;) {
    ssize_t w = pwrite(fd, buf + done, n - done, static_cast<off_t>(at + done));
    if (w < 0 && errno == EINTR) continue;
    if (w < 0) return errno;
    if (w == 0) return EIO;
    done += static_cast<size_t>(w);
  }
  return 0;
}

// attachFastWrite(words, lbas, fps, kinds, out, journalFd0, journalFd1): the
// shared words (kFwWords), the lists of applied blocks (lbas.length entries;
// fps 16 bytes each; kinds), the segments touched / freed (out), and the
// journal files (-1: none; duplicated here, closed with this object).
Napi::Value WriteApplyWrap::AttachFastWrite(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 7 || !info[5].IsNumber() || !info[6].IsNumber()) {
    throw Napi::TypeError::New(env, "attachFastWrite(words, lbas, fps, kinds, out, journalFd0, journalFd1)");
  }
  Fast f;
  size_t capacity = 0;
  f.words = FastArg<double>(env, info[0], napi_float64_array, kFwWords, "words");
  f.lbas = FastArg<double>(env, info[1], napi_float64_array, 1, "lbas", &capacity);
  f.fps = FastArg<uint8_t>(env, info[2], napi_uint8_array, capacity * 16, "fps");
  f.kinds = FastArg<uint8_t>(env, info[3], napi_uint8_array, capacity, "kinds");
  f.out = FastArg<uint32_t>(env, info[4], napi_uint32_array, 2 * capacity, "out", &f.out_n);
  f.capacity = static_cast<uint32_t>(capacity);
  for (int i = 0; i < 2; ++i) {
    int fd = info[5 + i].As<Napi::Number>().Int32Value();
    if (fd < 0) continue;
    f.journal[i] = Fd(fcntl(fd, F_DUPFD_CLOEXEC, 0));
    if (f.journal[i].get() < 0) throw MakeErrnoError(env, errno, "attachFastWrite: fcntl F_DUPFD_CLOEXEC of journal file " + std::to_string(i));
  }
  f.filter = std::move(fast_.filter);
  fast_ = std::move(f);
  for (int i = 0; i < 5; ++i) fast_refs_[i] = Napi::Persistent(info[i].As<Napi::Object>());
  return env.Undefined();
}

// attachFilter(layers): the dedup filter's layers (Uint32Arrays of a power-of-two length).
Napi::Value WriteApplyWrap::AttachFilter(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsArray()) throw Napi::TypeError::New(env, "attachFilter(layers)");
  Napi::Array layers = info[0].As<Napi::Array>();
  std::vector<FilterLayer> view;
  std::vector<Napi::ObjectReference> refs;
  for (uint32_t i = 0; i < layers.Length(); ++i) {
    size_t words = 0;
    FilterLayer l;
    l.bits = FastArg<uint32_t>(env, layers.Get(i), napi_uint32_array, 1, "filter layer", &words);
    if ((words & (words - 1)) != 0 || words > (1u << 26)) throw Napi::RangeError::New(env, "attachFilter: a layer's length is not a power of two");
    l.mask = static_cast<uint32_t>(words * 32 - 1);
    view.push_back(l);
    refs.push_back(Napi::Persistent(layers.Get(i).As<Napi::Object>()));
  }
  fast_.filter = std::move(view);
  filter_refs_ = std::move(refs);
  return env.Undefined();
}

// openGate(openBuf): the open segment's buffer (null: none), then the gate opens
// (JavaScript wrote the words first).
Napi::Value WriteApplyWrap::OpenGate(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (fast_.words == nullptr) throw Napi::Error::New(env, "openGate: attachFastWrite first");
  fast_.open = nullptr;
  fast_.open_n = 0;
  open_ref_.Reset();
  if (info.Length() > 0 && info[0].IsTypedArray()) {
    fast_.open = FastArg<uint8_t>(env, info[0], napi_uint8_array, 0, "openBuf", &fast_.open_n);
    open_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  }
  fast_.words[kFwGate] = 1;
  return env.Undefined();
}

// writeOne(lba, data, record) -> applied: ServeWrite, with the journal record
// written here only when `record` (as the queue does; else the caller writes it).
Napi::Value WriteApplyWrap::WriteOne(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "writeOne(lba, data, record)");
  double lba = info[0].As<Napi::Number>().DoubleValue();
  const uint8_t* data = FastArg<uint8_t>(env, info[1], napi_uint8_array, 4096, "data");
  if (!(lba >= 0) || lba > 9007199254740991.0) throw Napi::RangeError::New(env, "writeOne: bad lba");
  bool record = info.Length() > 2 && info[2].ToBoolean().Value();
  return Napi::Boolean::New(env, ServeWrite(static_cast<uint64_t>(lba), data, record));
}

// A block whose fingerprint's dedup entry (d) names a live extent: it shares
// that extent (core.ts addReference), as write-path.ts findDuplicate would
// decide: with `verify`, only after the stored bytes, read from the open
// segment, decode to exactly this block (elsewhere: JavaScript reads them).
bool WriteApplyWrap::PlanDup(const Batch& b, const Run& r, const Found& d, Step* s) {
  const uint32_t* dv = d.value(kValueWords[kDedup]);
  s->dup_id = (static_cast<uint64_t>(dv[0]) << 32) | dv[1];
  NumberKey(s->dup_id, s->dup_key);
  Found e = Lookup(kExtents, s->dup_key);
  if (e.table == nullptr || e.absent) return false;
  memcpy(s->dup_words, e.value(kValueWords[kExtents]), sizeof(s->dup_words));
  const uint32_t* w = s->dup_words;
  if (w[3] == 0 || w[3] == 0xffffffffu || memcmp(w + 4, s->fp_key, 16) != 0) return false;
  if (b.verify) {
    uint32_t stored = w[2] & 0xffff;
    uint32_t codec = w[2] >> 16;
    if (r.open == nullptr || static_cast<double>(w[0]) != r.open_segment) return false;
    if (static_cast<uint64_t>(w[1]) + kFragmentHeaderBytes + stored > r.fill || r.fill > r.open_n) return false;
    const uint8_t* h = r.open + w[1];
    uint64_t id = (static_cast<uint64_t>(GetBe32(h + 8)) << 32) | GetBe32(h + 12);
    if (GetBe16(h) != kFragmentMagic || h[2] != codec || GetBe16(h + 4) != stored || id != s->dup_id) return false;
    const uint8_t* block = b.data + static_cast<size_t>(s->block) * kBlockBytes;
    if (MatchStoredBlock(codec, h + kFragmentHeaderBytes, stored, block) != 1) return false;
  }
  s->dup = true;
  return true;
}

// A planned dedup hit: the extent gains this LBA's reference, the map points at
// it, the old value's extent loses one (the order of addReference, setMap).
void WriteApplyWrap::CommitDup(const Batch& b, Run& r, const Step& s) {
  uint32_t words[8];
  memcpy(words, s.dup_words, sizeof(words));
  bool same = s.old_extent && s.old_id == s.dup_id;  // gains one, loses one
  if (!same) words[3] += 1;
  Put(kExtents, s.dup_key, words, &r.new_extents);
  uint32_t mv[3] = {kTagExtent, static_cast<uint32_t>(s.dup_id >> 32), static_cast<uint32_t>(s.dup_id)};
  Put(kMaps, s.lba_key, mv, &r.new_maps);
  if (s.lba < mapped_blocks_) mapped_[s.lba >> 3] |= static_cast<uint8_t>(1u << (s.lba & 7));
  if (s.old_none) r.mapped_blocks += 1;
  if (s.old_extent && !same) DropOld(b, r, s);
  r.dups += 1;
}

WriteApplyWrap::Run WriteApplyWrap::LoadRun(const double* io, uint8_t* open, size_t open_n) {
  Run r;
  r.next_id = static_cast<uint64_t>(io[kNextExtentId]);
  r.extent_count = io[kExtentCount];
  r.mapped_blocks = io[kMappedBlocks];
  r.open_segment = io[kOpenSegment];
  r.fill = static_cast<uint32_t>(io[kOpenFill]);
  r.open = open;
  r.open_n = open_n;
  r.compressed = static_cast<uint32_t>(io[kCompressed]);
  r.raw = static_cast<uint32_t>(io[kRaw]);
  r.touched = static_cast<uint32_t>(io[kTouched]);
  r.freed = static_cast<uint32_t>(io[kFreed]);
  r.new_maps = static_cast<uint32_t>(io[kNewMaps]);
  r.new_extents = static_cast<uint32_t>(io[kNewExtents]);
  r.new_dedup = static_cast<uint32_t>(io[kNewDedup]);
  return r;
}

void WriteApplyWrap::StoreRun(const Run& r, double* io) {
  io[kNextExtentId] = static_cast<double>(r.next_id);
  io[kExtentCount] = r.extent_count;
  io[kMappedBlocks] = r.mapped_blocks;
  io[kOpenFill] = r.fill;
  io[kCompressed] = r.compressed;
  io[kRaw] = r.raw;
  io[kTouched] = r.touched;
  io[kFreed] = r.freed;
  io[kNewMaps] = r.new_maps;
  io[kNewExtents] = r.new_extents;
  io[kNewDedup] = r.new_dedup;
}

// The block's journal record, appended to the active file; false (the failure
// noted for JavaScript, which cuts the file back) when it could not be written.
bool WriteApplyWrap::AppendRecord(uint64_t lba, const uint8_t* block, const uint8_t* fp) {
  double* w = fast_.words;
  int fd = fast_.journal[w[kFwJournalActive] == 1 ? 1 : 0].get();
  uint64_t at = static_cast<uint64_t>(w[kFwJournalUsed]);
  uint64_t seq = static_cast<uint64_t>(w[kFwJournalSeq]) + 1;
  EncodeJournalRecord(record_, seq, lba, block, fp);
  int err = fd < 0 ? EBADF : WriteAll(fd, record_, kJournalRecordBytes, at);
  if (err != 0) {
    w[kFwJournalFailedAt] = static_cast<double>(at);
    w[kFwJournalErrno] = err;
    w[kFwJournal] = 2;
    return false;
  }
  w[kFwJournalSeq] = static_cast<double>(seq);
  w[kFwJournalUsed] = static_cast<double>(at + kJournalRecordBytes);
  return true;
}

bool WriteApplyWrap::Decline(FastWord reason) {
  fast_.words[reason] += 1;
  return false;
}

bool WriteApplyWrap::ServeWrite(uint64_t lba, const uint8_t* block, bool journal) {
  double* w = fast_.words;
  if (w == nullptr) return false;
  uint32_t n = static_cast<uint32_t>(w[kFwBlocks]);
  if (w[kFwGate] != 1 || w[kFwBudget] < 1 || n >= fast_.capacity || lba >= mapped_blocks_) return Decline(kFwDeclinedClosed);
  // The record: none when the engine keeps no journal; JavaScript's own for writeOne.
  bool record = journal && w[kFwJournal] != 0;
  if (record && (w[kFwJournal] != 1 || w[kFwJournalUsed] + kJournalRecordBytes > w[kFwJournalCapacity])) {
    return Decline(kFwDeclinedJournal);
  }
  if (IsSameFillBlock(block)) return Decline(kFwDeclinedFill);
  uint8_t* fp = fast_.fps + static_cast<size_t>(n) * 16;
  FingerprintBlock(block, fp);
  bool index = w[kFwIndex] == 1;
  bool candidate = false;
  if (index) {
    // No dedup entry in the tables: the filter must vouch that the store has none.
    uint32_t key[4];
    memcpy(key, fp, sizeof(key));
    Found d = Lookup(kDedup, key);
    candidate = d.table != nullptr && !d.absent;
    if (!candidate && (w[kFwFilterComplete] != 1 || FilterMayHold(fast_.filter, fp))) return Decline(kFwDeclinedFilter);
  }
  const double lba_d = static_cast<double>(lba);
  const uint32_t first = 0;
  const uint8_t not_filled = 0;
  const double no_candidate = -1;
  Batch b;
  b.data = block;
  b.data_blocks = 1;
  b.lbas = &lba_d;
  b.block_of = &first;
  b.count = 1;
  b.fps = fp;
  b.fps_n = 16;
  b.fills = &not_filled;
  b.fills_n = 1;
  b.indexed = &no_candidate;
  b.index = index;
  b.share_dups = true;
  b.verify = w[kFwVerify] == 1;
  b.codec_id = static_cast<uint32_t>(w[kFwCodec]);
  b.out = fast_.out;
  b.out_n = fast_.out_n;
  Run r = LoadRun(w + kFwRun, fast_.open, fast_.open_n);
  r.dups = static_cast<uint32_t>(w[kFwDedupHits]);
  Step s;
  if (!Plan(b, r, 0, &s)) return Decline(candidate ? kFwDeclinedDup : kFwDeclinedPlan);
  if (record && !AppendRecord(lba, block, fp)) return Decline(kFwDeclinedRecord);
  Commit(b, r, s);
  StoreRun(r, w + kFwRun);
  w[kFwDedupHits] = r.dups;
  fast_.lbas[n] = lba_d;
  fast_.kinds[n] = s.dup ? 0 : 1;
  w[kFwBlocks] = n + 1;
  w[kFwBudget] -= 1;
  return true;
}

}  // namespace ublk
