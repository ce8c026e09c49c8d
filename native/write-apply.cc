#include "write-apply.h"

#include <cstring>
#include <string>

#include "codec-batch.h"
#include "typed-args.h"
#include "word-tables.h"

namespace ublk {

using namespace words;  // NOLINT: the table mirrors' constants and probes

namespace {

// src/pool/fragment.ts, src/util/limits.ts, src/compress/codec.ts, src/pool/segment-record.ts
constexpr uint32_t kFragmentHeaderBytes = 16;
constexpr uint32_t kFragmentAlign = 16;
constexpr uint16_t kFragmentMagic = 0x5546;
constexpr uint32_t kBlockBytes = 4096;
constexpr uint32_t kCompressedBytesMax = 3584;
constexpr uint32_t kCodecRaw = 0;
constexpr uint32_t kCodecLz4 = 1;
constexpr uint8_t kSegSealed = 2;


void PutBe16(uint8_t* p, uint16_t v) {
  p[0] = static_cast<uint8_t>(v >> 8);
  p[1] = static_cast<uint8_t>(v);
}

void PutBe32(uint8_t* p, uint32_t v) {
  p[0] = static_cast<uint8_t>(v >> 24);
  p[1] = static_cast<uint8_t>(v >> 16);
  p[2] = static_cast<uint8_t>(v >> 8);
  p[3] = static_cast<uint8_t>(v);
}

uint32_t FragmentBytes(uint32_t stored) {
  return (kFragmentHeaderBytes + stored + kFragmentAlign - 1) / kFragmentAlign * kFragmentAlign;
}

template <typename T>
T* ArrayArg(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t min_length, const char* what, size_t* length = nullptr) {
  return TypedArg<T>(env, v, type, min_length, "write apply", what, length);
}

}  // namespace

Napi::Function WriteApplyWrap::Init(Napi::Env env) {
  return DefineClass(env, "WriteApply",
                     {
                         InstanceMethod<&WriteApplyWrap::AttachPending>("attachPending"),
                         InstanceMethod<&WriteApplyWrap::AttachCache>("attachCache"),
                         InstanceMethod<&WriteApplyWrap::AttachMapped>("attachMapped"),
                         InstanceMethod<&WriteApplyWrap::AttachSegments>("attachSegments"),
                         InstanceMethod<&WriteApplyWrap::SetBatch>("setBatch"),
                         InstanceMethod<&WriteApplyWrap::Apply>("apply"),
                         InstanceMethod<&WriteApplyWrap::AttachFastWrite>("attachFastWrite"),
                         InstanceMethod<&WriteApplyWrap::AttachFilter>("attachFilter"),
                         InstanceMethod<&WriteApplyWrap::OpenGate>("openGate"),
                         InstanceMethod<&WriteApplyWrap::WriteOne>("writeOne"),
                     });
}

WriteApplyWrap::WriteApplyWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<WriteApplyWrap>(info) {}

namespace {

WordTable TableArgs(const Napi::CallbackInfo& info, uint32_t kind, bool power_of_two, Napi::ObjectReference* refs) {
  Napi::Env env = info.Env();
  WordTable t;
  if (!info[4].IsTypedArray()) return t;  // detached
  size_t capacity = 0;
  t.state = ArrayArg<uint8_t>(env, info[4], napi_uint8_array, 1, "state", &capacity);
  if (capacity > 0xffffffffu || (power_of_two && (capacity & (capacity - 1)) != 0) || (!power_of_two && capacity % kWays != 0)) {
    throw Napi::RangeError::New(env, "write apply: bad table capacity");
  }
  t.keys = ArrayArg<uint32_t>(env, info[2], napi_uint32_array, capacity * kKeyWords[kind], "keys");
  t.values = ArrayArg<uint32_t>(env, info[3], napi_uint32_array, capacity * kValueWords[kind], "values");
  t.capacity = static_cast<uint32_t>(capacity);
  for (uint32_t i = 0; i < 3; ++i) refs[i] = Napi::Persistent(info[2 + i].As<Napi::Object>());
  return t;
}

uint32_t KindArg(const Napi::CallbackInfo& info, uint32_t at) {
  if (!info[at].IsNumber() || info[at].As<Napi::Number>().Uint32Value() > kDedup) {
    throw Napi::RangeError::New(info.Env(), "write apply: kind must be 0 (maps), 1 (extents) or 2 (dedup)");
  }
  return info[at].As<Napi::Number>().Uint32Value();
}

}  // namespace

// attachPending(layer, kind, keys, values, state): a PendingTable's arrays
// (layer 0 the current overlay, 1 the frozen one); state undefined detaches.
Napi::Value WriteApplyWrap::AttachPending(const Napi::CallbackInfo& info) {
  if (info.Length() < 5 || !info[0].IsNumber()) throw Napi::TypeError::New(info.Env(), "attachPending(layer, kind, keys, values, state)");
  uint32_t layer = info[0].As<Napi::Number>().Uint32Value();
  if (layer > 1) throw Napi::RangeError::New(info.Env(), "attachPending: layer must be 0 or 1");
  uint32_t kind = KindArg(info, 1);
  pending_[layer][kind] = TableArgs(info, kind, true, pending_refs_[layer][kind]);
  return info.Env().Undefined();
}

// attachCache(_, kind, keys, values, state): a MetaCache SlotTable's arrays.
Napi::Value WriteApplyWrap::AttachCache(const Napi::CallbackInfo& info) {
  if (info.Length() < 5) throw Napi::TypeError::New(info.Env(), "attachCache(0, kind, keys, values, state)");
  uint32_t kind = KindArg(info, 1);
  cache_[kind] = TableArgs(info, kind, false, cache_refs_[kind]);
  return info.Env().Undefined();
}

// attachMapped(bits, blocks, complete): the engine's MappedBits bitmap (written here).
Napi::Value WriteApplyWrap::AttachMapped(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "attachMapped(bits, blocks, complete)");
  double blocks = info[1].As<Napi::Number>().DoubleValue();
  if (!(blocks >= 0) || blocks > 9007199254740991.0) throw Napi::RangeError::New(env, "attachMapped: bad blocks");
  mapped_ = ArrayArg<uint8_t>(env, info[0], napi_uint8_array, static_cast<size_t>((static_cast<uint64_t>(blocks) + 7) / 8), "bits");
  mapped_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  mapped_blocks_ = static_cast<uint64_t>(blocks);
  mapped_complete_ = info[2].ToBoolean().Value();
  return env.Undefined();
}

// attachSegments(liveBytes, fillBytes, state, segmentBytes): the SegmentTable's arrays.
Napi::Value WriteApplyWrap::AttachSegments(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[3].IsNumber()) throw Napi::TypeError::New(env, "attachSegments(live, fill, state, segmentBytes)");
  size_t count = 0;
  seg_state_ = ArrayArg<uint8_t>(env, info[2], napi_uint8_array, 0, "segment state", &count);
  live_ = ArrayArg<uint32_t>(env, info[0], napi_uint32_array, count, "live bytes");
  fill_ = ArrayArg<uint32_t>(env, info[1], napi_uint32_array, count, "fill bytes");
  segments_ = static_cast<uint32_t>(count);
  segment_bytes_ = info[3].As<Napi::Number>().Uint32Value();
  for (uint32_t i = 0; i < 3; ++i) seg_refs_[i] = Napi::Persistent(info[i].As<Napi::Object>());
  return env.Undefined();
}

// setBatch(data, lbas, blockOf, count, fps, fills, indexed, slotOf, sizes,
//          staging, index, codecId, io, out): the batch the next apply() calls
// work on. Entry k (k < count) writes block blockOf[k] of `data` to lbas[k];
// fps/fills/indexed are the scan's and the dedup lookups' answers per block,
// slotOf/sizes/staging the batch compression's (BatchEncoder), `index`
// whether new extents enter the dedup index, codecId the engine's codec for
// new blocks (a block the batch did not compress is compressed here, as
// BatchEncoder.encodeInto does); io and out as the Io words say. One call per
// batch: apply() may be called again after each block JavaScript applies.
Napi::Value WriteApplyWrap::SetBatch(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 14 || !info[3].IsNumber() || !info[11].IsNumber()) throw Napi::TypeError::New(env, "setBatch: 14 arguments");
  Batch b;
  b.count = info[3].As<Napi::Number>().Uint32Value();
  b.data = ArrayArg<uint8_t>(env, info[0], napi_uint8_array, 0, "data", &b.data_blocks);
  b.data_blocks /= kBlockBytes;
  b.lbas = ArrayArg<double>(env, info[1], napi_float64_array, b.count, "lbas");
  b.block_of = ArrayArg<uint32_t>(env, info[2], napi_uint32_array, b.count, "blockOf");
  b.fps = ArrayArg<uint8_t>(env, info[4], napi_uint8_array, 0, "fps", &b.fps_n);
  b.fills = ArrayArg<uint8_t>(env, info[5], napi_uint8_array, 0, "fills", &b.fills_n);
  b.indexed = ArrayArg<double>(env, info[6], napi_float64_array, b.fills_n, "indexed");
  b.slot_of = ArrayArg<uint32_t>(env, info[7], napi_uint32_array, 0, "slotOf", &b.slots_n);
  b.sizes = ArrayArg<uint32_t>(env, info[8], napi_uint32_array, 0, "sizes", &b.sizes_n);
  b.staging = ArrayArg<uint8_t>(env, info[9], napi_uint8_array, 0, "staging", &b.staging_n);
  b.index = info[10].ToBoolean().Value();
  b.codec_id = info[11].As<Napi::Number>().Uint32Value();
  b.io = ArrayArg<double>(env, info[12], napi_float64_array, kIoWords, "io");
  b.out = ArrayArg<uint32_t>(env, info[13], napi_uint32_array, 0, "out", &b.out_n);
  if (b.count > b.data_blocks) throw Napi::RangeError::New(env, "setBatch: count exceeds data");
  batch_ = b;
  // Kept alive (and in place) while the batch is current.
  for (uint32_t i = 0; i < kBatchRefs; ++i) {
    uint32_t arg = i < 3 ? i : i + 1;  // skip count
    batch_refs_[i] = info[arg].IsObject() ? Napi::Persistent(info[arg].As<Napi::Object>()) : Napi::ObjectReference();
  }
  return env.Undefined();
}

// apply(start, openBuf) -> entries of the current batch applied from `start`;
// openBuf is the open segment's buffer (null: none is open).
Napi::Value WriteApplyWrap::Apply(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "apply(start, openBuf)");
  const Batch& b = batch_;
  uint32_t start = info[0].As<Napi::Number>().Uint32Value();
  uint32_t count = b.count;
  size_t open_n = 0;
  uint8_t* open = info[1].IsTypedArray() ? ArrayArg<uint8_t>(env, info[1], napi_uint8_array, 0, "openBuf", &open_n) : nullptr;
  if (b.io == nullptr || start > count) throw Napi::RangeError::New(env, "apply: no batch, or a bad start");
  for (const WordTable& t : pending_[0]) {
    if (t.capacity == 0) return Napi::Number::New(env, 0);  // not attached yet
  }
  double* io = b.io;
  // The counts are this call's.
  for (uint32_t i = kCompressed; i < kIoWords; ++i) io[i] = 0;
  run_ = LoadRun(io, open, open_n);
  uint32_t k = start;
  for (Step step; k < count && Plan(b, run_, k, &step); ++k) Commit(b, run_, step);
  StoreRun(run_, io);
  return Napi::Number::New(env, k - start);
}

// The newest value of `key` the addon may see: current overlay, frozen overlay, cache.
WriteApplyWrap::Found WriteApplyWrap::Lookup(uint32_t kind, const uint32_t* key) {
  Found f;
  for (const WordTable* t : {&pending_[0][kind], &pending_[1][kind]}) {
    int slot = PendingFind(*t, kKeyWords[kind], key);
    if (slot < 0) continue;
    f.table = t;
    f.slot = slot;
    f.absent = t->state[slot] == kDeleted;
    return f;
  }
  int slot = CacheLocate(cache_[kind], kKeyWords[kind], key);
  if (slot >= 0) {
    cache_[kind].state[slot] = kReferenced;  // as a JS hit: CLOCK keeps what is read
    f.table = &cache_[kind];
    f.slot = slot;
  }
  return f;
}

// Sets `key` in the current overlay (value words, or deleted) and drops its cache entry.
void WriteApplyWrap::Put(uint32_t kind, const uint32_t* key, const uint32_t* value, uint32_t* fresh_count) {
  WordTable& t = pending_[0][kind];
  bool fresh = false;
  uint32_t slot = PendingUpsert(t, kKeyWords[kind], key, &fresh);
  if (fresh) *fresh_count += 1;
  t.state[slot] = value == nullptr ? kDeleted : kLive;
  if (value != nullptr) memcpy(t.values + static_cast<size_t>(slot) * kValueWords[kind], value, kValueWords[kind] * 4);
  int c = CacheLocate(cache_[kind], kKeyWords[kind], key);
  if (c >= 0) cache_[kind].state[c] = kEmpty;
}

// Entry k's step, decided before anything changes; false: JavaScript applies it.
bool WriteApplyWrap::Plan(const Batch& b, const Run& r, uint32_t k, Step* s) {
  s->block = b.block_of[k];
  double lba = b.lbas[k];
  if (s->block >= b.fills_n || s->block >= b.data_blocks || (s->block + 1) * 16 > b.fps_n || b.fills[s->block] != 0 ||
      !(lba >= 0)) {
    return false;
  }
  s->lba = static_cast<uint64_t>(lba);
  NumberKey(s->lba, s->lba_key);
  memcpy(s->fp_key, b.fps + static_cast<size_t>(s->block) * 16, 16);
  // A dedup candidate (pending, or found by the lookups before): JavaScript compares and
  // shares, or the one-block path does when the candidate's bytes are at hand.
  s->dup = false;
  if (b.index) {
    Found d = Lookup(kDedup, s->fp_key);
    if (b.share_dups && d.table != nullptr && !d.absent) {
      return PlanDup(b, r, d, s) && PlanOld(s) && r.touched + r.freed + 2 <= b.out_n;
    }
    if (d.table == &cache_[kDedup] || (d.table != nullptr && !d.absent)) return false;
    if (d.table == nullptr && b.indexed[s->block] >= 0) return false;
  }
  if (!PlanOld(s) || r.touched + r.freed + 2 > b.out_n) return false;
  return PlanStored(b, r, s);
}

// The LBA's old value, and what dropping its extent's reference changes.
bool WriteApplyWrap::PlanOld(Step* s) {
  s->old_none = mapped_complete_ && s->lba < mapped_blocks_ && (mapped_[s->lba >> 3] & (1u << (s->lba & 7))) == 0;
  s->old_extent = false;
  s->old_dedup_delete = false;
  if (s->old_none) return true;
  Found m = Lookup(kMaps, s->lba_key);
  if (m.table == nullptr) return false;
  s->old_none = m.absent;
  if (s->old_none || m.value(kValueWords[kMaps])[0] != kTagExtent) return true;
  const uint32_t* mv = m.value(kValueWords[kMaps]);
  s->old_extent = true;
  s->old_id = (static_cast<uint64_t>(mv[1]) << 32) | mv[2];
  NumberKey(s->old_id, s->old_key);
  Found e = Lookup(kExtents, s->old_key);
  if (e.table == nullptr || e.absent) return false;  // JS reports a missing extent
  memcpy(s->old_words, e.value(kValueWords[kExtents]), sizeof(s->old_words));
  if (s->old_words[3] == 0 || s->old_words[0] >= segments_) return false;
  if (s->old_words[3] > 1) return true;
  if (memcmp(s->old_words + 4, s->fp_key, 16) == 0) return false;  // its dedup entry is the one this block sets
  if (live_[s->old_words[0]] < FragmentBytes(s->old_words[2] & 0xffff)) return false;  // JS asserts
  Found d = Lookup(kDedup, s->old_words + 4);
  if (d.table == nullptr) return false;  // only the filter or LevelDB knows
  if (!d.absent) {
    const uint32_t* dv = d.value(kValueWords[kDedup]);
    s->old_dedup_delete = ((static_cast<uint64_t>(dv[0]) << 32) | dv[1]) == s->old_id;
  }
  return true;
}

// The stored form (compressed by the batch call, or here as BatchEncoder.encodeInto
// would) and room for it in the open segment (else JavaScript seals it and opens the next).
bool WriteApplyWrap::PlanStored(const Batch& b, const Run& r, Step* s) {
  const uint8_t* block = b.data + static_cast<size_t>(s->block) * kBlockBytes;
  s->payload = block;
  s->stored = kBlockBytes;
  s->codec = kCodecRaw;
  if (s->block < b.slots_n && b.slot_of[s->block] != 0) {
    uint32_t slot = b.slot_of[s->block] - 1;
    if (slot >= b.sizes_n) return false;
    size_t at = static_cast<size_t>(slot) * kCompressedBytesMax;
    if (b.sizes[slot] > 0) {
      if (at + b.sizes[slot] > b.staging_n) return false;
      s->payload = b.staging + at;
      s->stored = b.sizes[slot];
      s->codec = kCodecLz4;
    }
  } else if (b.codec_id == kCodecLz4) {
    size_t n = CompressBlock(block, scratch_, kCompressedBytesMax);
    if (n > 0) {
      s->payload = scratch_;
      s->stored = static_cast<uint32_t>(n);
      s->codec = kCodecLz4;
    }
  }
  s->frag = FragmentBytes(s->stored);
  return r.open != nullptr && r.open_segment >= 0 && r.open_segment < segments_ && r.fill + s->frag <= segment_bytes_ &&
         r.fill + s->frag <= r.open_n;
}

// Applies a planned step: the order of core.ts addExtent, setMap, dropReference.
void WriteApplyWrap::Commit(const Batch& b, Run& r, const Step& s) {
  if (s.dup) return CommitDup(b, r, s);
  uint32_t seg = static_cast<uint32_t>(r.open_segment);
  uint64_t id = r.next_id++;
  uint8_t* h = r.open + r.fill;
  PutBe16(h, kFragmentMagic);
  h[2] = static_cast<uint8_t>(s.codec);
  h[3] = 0;
  PutBe16(h + 4, static_cast<uint16_t>(s.stored));
  PutBe16(h + 6, 0);
  PutBe32(h + 8, static_cast<uint32_t>(id >> 32));
  PutBe32(h + 12, static_cast<uint32_t>(id));
  memcpy(h + kFragmentHeaderBytes, s.payload, s.stored);
  memset(h + kFragmentHeaderBytes + s.stored, 0, s.frag - kFragmentHeaderBytes - s.stored);
  uint32_t at = r.fill;
  r.fill += s.frag;
  fill_[seg] = r.fill;
  live_[seg] += s.frag;
  uint32_t key[2];
  NumberKey(id, key);
  const uint32_t* fp = s.fp_key;
  uint32_t ev[8] = {seg, at, (s.stored & 0xffff) | (s.codec << 16), 1, fp[0], fp[1], fp[2], fp[3]};
  Put(kExtents, key, ev, &r.new_extents);
  r.extent_count += 1;
  if (b.index) {
    uint32_t dv[2] = {static_cast<uint32_t>(id >> 32), static_cast<uint32_t>(id)};
    Put(kDedup, s.fp_key, dv, &r.new_dedup);
  }
  uint32_t mv[3] = {kTagExtent, static_cast<uint32_t>(id >> 32), static_cast<uint32_t>(id)};
  Put(kMaps, s.lba_key, mv, &r.new_maps);
  if (s.lba < mapped_blocks_) mapped_[s.lba >> 3] |= static_cast<uint8_t>(1u << (s.lba & 7));
  if (s.old_none) r.mapped_blocks += 1;
  if (s.old_extent) DropOld(b, r, s);
  if (s.codec == kCodecRaw) r.raw += 1;
  else r.compressed += 1;
}

// The old extent loses this LBA's reference (core.ts dropReference).
void WriteApplyWrap::DropOld(const Batch& b, Run& r, const Step& s) {
  uint32_t words[8];
  memcpy(words, s.old_words, sizeof(words));
  if (words[3] > 1) {
    words[3] -= 1;
    Put(kExtents, s.old_key, words, &r.new_extents);
    return;
  }
  Put(kExtents, s.old_key, nullptr, &r.new_extents);
  r.extent_count -= 1;
  if (s.old_dedup_delete) Put(kDedup, words + 4, nullptr, &r.new_dedup);
  uint32_t seg = words[0];
  live_[seg] -= FragmentBytes(words[2] & 0xffff);
  // Touched segments go from the front of `out`, freed ones from the back.
  uint32_t* out = b.out;
  bool seen = false;
  for (uint32_t i = 0; i < r.touched; ++i) seen = seen || out[i] == seg;
  if (!seen) out[r.touched++] = seg;
  if (live_[seg] == 0 && seg_state_[seg] == kSegSealed) out[b.out_n - 1 - r.freed++] = seg;
}

}  // namespace ublk
