#include "write-apply.h"

#include <cstring>
#include <string>

#include "codec-batch.h"

namespace ublk {

namespace {

// src/engine/pending-table.ts
constexpr uint8_t kEmpty = 0;
constexpr uint8_t kLive = 1;
constexpr uint8_t kDeleted = 2;
// src/engine/slot-table.ts
constexpr uint32_t kWays = 8;
constexpr uint8_t kReferenced = 2;
// src/engine/record-words.ts
constexpr uint32_t kKeyWords[3] = {2, 2, 4};
constexpr uint32_t kValueWords[3] = {3, 8, 2};
constexpr uint32_t kMaps = 0;
constexpr uint32_t kExtents = 1;
constexpr uint32_t kDedup = 2;
constexpr uint32_t kTagExtent = 1;
// src/pool/fragment.ts, src/util/limits.ts, src/compress/codec.ts, src/pool/segment-record.ts
constexpr uint32_t kFragmentHeaderBytes = 16;
constexpr uint32_t kFragmentAlign = 16;
constexpr uint16_t kFragmentMagic = 0x5546;
constexpr uint32_t kBlockBytes = 4096;
constexpr uint32_t kCompressedBytesMax = 3584;
constexpr uint32_t kCodecRaw = 0;
constexpr uint32_t kCodecLz4 = 1;
constexpr uint8_t kSegSealed = 2;

// The io array (Float64Array), read and written by Apply.
enum Io : uint32_t {
  kNextExtentId = 0,  // in/out
  kExtentCount,       // in/out
  kMappedBlocks,      // in/out
  kOpenSegment,       // in (-1: none)
  kOpenFill,          // in/out
  kCompressed,        // out: blocks stored compressed
  kRaw,               // out: blocks stored raw
  kTouched,           // out: segments whose live bytes went down, at out[0, n)
  kFreed,             // out: sealed segments left empty (to free), from out's end backwards
  kNewMaps,           // out: new entries in the current overlay's tables
  kNewExtents,
  kNewDedup,
  kIoWords,
};

uint32_t PendingSlotOf(const uint32_t* k) {
  uint32_t h = (k[0] ^ (k[1] * 0x85ebca6bu)) * 0x9e3779b1u;
  h ^= h >> 15;
  return (h * 0x27d4eb2fu) ^ (h >> 13);
}

// PendingTable.probe without inserting: the slot holding `key`, or -1.
int PendingFind(const WordTable& t, uint32_t kw, const uint32_t* key) {
  if (t.capacity == 0) return -1;
  uint32_t mask = t.capacity - 1;
  for (uint32_t slot = PendingSlotOf(key) & mask;; slot = (slot + 1) & mask) {
    if (t.state[slot] == kEmpty) return -1;
    if (memcmp(t.keys + static_cast<size_t>(slot) * kw, key, kw * 4) == 0) return static_cast<int>(slot);
  }
}

// PendingTable.upsert, the table having room (JS reserved it): the key's slot, `fresh` when new.
uint32_t PendingUpsert(WordTable& t, uint32_t kw, const uint32_t* key, bool* fresh) {
  uint32_t mask = t.capacity - 1;
  for (uint32_t slot = PendingSlotOf(key) & mask;; slot = (slot + 1) & mask) {
    uint32_t* k = t.keys + static_cast<size_t>(slot) * kw;
    if (t.state[slot] == kEmpty) {
      memcpy(k, key, kw * 4);
      *fresh = true;
      return slot;
    }
    if (memcmp(k, key, kw * 4) == 0) {
      *fresh = false;
      return slot;
    }
  }
}

// SlotTable.setOf.
uint32_t SetOf(const uint32_t* key, uint32_t kw, uint32_t sets) {
  uint32_t h = 0x9e3779b9u;
  for (uint32_t i = 0; i < kw; ++i) {
    h = (h ^ key[i]) * 0x85ebca6bu;
    h ^= h >> 13;
  }
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return static_cast<uint32_t>((static_cast<uint64_t>(h) * sets) >> 32);
}

// SlotTable.locate: the slot holding `key`, or -1.
int CacheLocate(const WordTable& t, uint32_t kw, const uint32_t* key) {
  uint32_t sets = t.capacity / kWays;
  if (sets == 0) return -1;
  uint32_t base = SetOf(key, kw, sets) * kWays;
  for (uint32_t slot = base; slot < base + kWays; ++slot) {
    if (t.state[slot] == kEmpty) continue;
    if (memcmp(t.keys + static_cast<size_t>(slot) * kw, key, kw * 4) == 0) return static_cast<int>(slot);
  }
  return -1;
}

void NumberKey(uint64_t n, uint32_t* key) {
  key[0] = static_cast<uint32_t>(n);
  key[1] = static_cast<uint32_t>(n >> 32);
}

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
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(env, std::string("write apply: ") + what + " has the wrong array type");
  }
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() < min_length) throw Napi::RangeError::New(env, std::string("write apply: ") + what + " is too short");
  if (length != nullptr) *length = ta.ElementLength();
  // ArrayBuffer() moves a small on-heap array off the heap: the pointer stays valid.
  return reinterpret_cast<T*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

// A record found for a lookup: the table and slot it is in (slot -1: found nowhere the
// native step may look, so JavaScript must apply the block), or a certain absence.
struct Found {
  const WordTable* table = nullptr;
  int slot = -1;
  bool absent = false;  // certainly no value (a deleted pending record, an unmapped block)
  const uint32_t* value(uint32_t vw) const { return table->values + static_cast<size_t>(slot) * vw; }
};

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
  const uint8_t* data = b.data;
  size_t data_blocks = b.data_blocks;
  const double* lbas = b.lbas;
  const uint32_t* block_of = b.block_of;
  const uint8_t* fps = b.fps;
  size_t fps_n = b.fps_n;
  const uint8_t* fills = b.fills;
  size_t fills_n = b.fills_n;
  const double* indexed = b.indexed;
  const uint32_t* slot_of = b.slot_of;
  size_t slots_n = b.slots_n;
  const uint32_t* sizes = b.sizes;
  size_t sizes_n = b.sizes_n;
  const uint8_t* staging = b.staging;
  size_t staging_n = b.staging_n;
  bool index = b.index;
  uint32_t codec_id = b.codec_id;
  double* io = b.io;
  uint32_t* out = b.out;
  size_t out_n = b.out_n;

  for (const WordTable& t : pending_[0]) {
    if (t.capacity == 0) return Napi::Number::New(env, 0);  // not attached yet
  }
  uint64_t next_id = static_cast<uint64_t>(io[kNextExtentId]);
  double extent_count = io[kExtentCount];
  double mapped_blocks = io[kMappedBlocks];
  double open_segment = io[kOpenSegment];
  uint32_t fill = static_cast<uint32_t>(io[kOpenFill]);
  uint32_t compressed = 0, raw = 0, touched = 0, freed = 0, new_maps = 0, new_extents = 0, new_dedup = 0;
  // Touched segments go from the front of `out`, freed ones from the back.
  auto touch = [&](uint32_t seg) {
    for (uint32_t i = 0; i < touched; ++i) if (out[i] == seg) return;
    out[touched++] = seg;
  };
  WordTable (&cur)[3] = pending_[0];

  // The newest value of `key` outside JS's reach: current overlay, frozen overlay, cache.
  auto lookup = [&](uint32_t kind, const uint32_t* key) {
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
  };
  // Sets `key` in the current overlay (value words, or deleted) and drops its cache entry.
  auto put = [&](uint32_t kind, const uint32_t* key, const uint32_t* value, uint32_t* fresh_count) {
    bool fresh = false;
    uint32_t slot = PendingUpsert(cur[kind], kKeyWords[kind], key, &fresh);
    if (fresh) *fresh_count += 1;
    cur[kind].state[slot] = value == nullptr ? kDeleted : kLive;
    if (value != nullptr) memcpy(cur[kind].values + static_cast<size_t>(slot) * kValueWords[kind], value, kValueWords[kind] * 4);
    int c = CacheLocate(cache_[kind], kKeyWords[kind], key);
    if (c >= 0) cache_[kind].state[c] = kEmpty;
  };

  uint8_t scratch[kCompressOutBytes];
  uint32_t k = start;
  for (; k < count; ++k) {
    uint32_t b = block_of[k];
    double lba_d = lbas[k];
    if (b >= fills_n || b >= data_blocks || (b + 1) * 16 > fps_n || fills[b] != 0 || !(lba_d >= 0)) break;
    uint64_t lba = static_cast<uint64_t>(lba_d);
    const uint8_t* fp = fps + static_cast<size_t>(b) * 16;
    uint32_t fp_key[4];
    memcpy(fp_key, fp, 16);
    // A dedup candidate (pending, or found by the lookups before): JavaScript compares and shares.
    if (index) {
      Found d = lookup(kDedup, fp_key);
      if (d.table == &cache_[kDedup] || (d.table != nullptr && !d.absent)) break;
      if (d.table == nullptr && indexed[b] >= 0) break;
    }
    // The LBA's old value.
    uint32_t lba_key[2];
    NumberKey(lba, lba_key);
    bool old_none = mapped_complete_ && lba < mapped_blocks_ && (mapped_[lba >> 3] & (1u << (lba & 7))) == 0;
    Found m;
    if (!old_none) {
      m = lookup(kMaps, lba_key);
      if (m.table == nullptr) break;
      old_none = m.absent;
    }
    bool old_extent = !old_none && m.value(kValueWords[kMaps])[0] == kTagExtent;
    uint64_t old_id = 0;
    uint32_t old_words[8];
    uint32_t old_key[2];
    bool old_dedup_delete = false;
    if (old_extent) {
      const uint32_t* mv = m.value(kValueWords[kMaps]);
      old_id = (static_cast<uint64_t>(mv[1]) << 32) | mv[2];
      NumberKey(old_id, old_key);
      Found e = lookup(kExtents, old_key);
      if (e.table == nullptr || e.absent) break;  // JS reports a missing extent
      memcpy(old_words, e.value(kValueWords[kExtents]), sizeof(old_words));
      if (old_words[3] == 0 || old_words[0] >= segments_) break;
      if (old_words[3] == 1) {
        if (memcmp(old_words + 4, fp_key, 16) == 0) break;  // its dedup entry is the one this block sets
        if (live_[old_words[0]] < FragmentBytes(old_words[2] & 0xffff)) break;  // JS asserts
        Found d = lookup(kDedup, old_words + 4);
        if (d.table == nullptr) break;  // only the filter or LevelDB knows
        if (!d.absent) {
          const uint32_t* dv = d.value(kValueWords[kDedup]);
          old_dedup_delete = ((static_cast<uint64_t>(dv[0]) << 32) | dv[1]) == old_id;
        }
      }
    }
    if (touched + freed + 2 > out_n) break;
    // The stored form: compressed by the batch call, or here as BatchEncoder.encodeInto would.
    const uint8_t* block = data + static_cast<size_t>(b) * kBlockBytes;
    const uint8_t* payload = block;
    uint32_t stored = kBlockBytes;
    uint32_t codec = kCodecRaw;
    if (b < slots_n && slot_of[b] != 0) {
      uint32_t slot = slot_of[b] - 1;
      if (slot >= sizes_n) break;
      size_t at = static_cast<size_t>(slot) * kCompressedBytesMax;
      if (sizes[slot] > 0 && at + sizes[slot] <= staging_n) {
        payload = staging + at;
        stored = sizes[slot];
        codec = kCodecLz4;
      } else if (sizes[slot] > 0) {
        break;
      }
    } else if (codec_id == kCodecLz4) {
      size_t n = CompressBlock(block, scratch, kCompressedBytesMax);
      if (n > 0) {
        payload = scratch;
        stored = static_cast<uint32_t>(n);
        codec = kCodecLz4;
      }
    }
    // Room in the open segment (JavaScript seals it and opens the next).
    uint32_t frag = FragmentBytes(stored);
    if (open == nullptr || !(open_segment >= 0) || open_segment >= segments_ || fill + frag > segment_bytes_ ||
        fill + frag > open_n) {
      break;
    }

    // Everything is known: apply (the order of core.ts addExtent, setMap, dropReference).
    uint32_t seg = static_cast<uint32_t>(open_segment);
    uint64_t id = next_id++;
    uint8_t* h = open + fill;
    PutBe16(h, kFragmentMagic);
    h[2] = static_cast<uint8_t>(codec);
    h[3] = 0;
    PutBe16(h + 4, static_cast<uint16_t>(stored));
    PutBe16(h + 6, 0);
    PutBe32(h + 8, static_cast<uint32_t>(id >> 32));
    PutBe32(h + 12, static_cast<uint32_t>(id));
    memcpy(h + kFragmentHeaderBytes, payload, stored);
    memset(h + kFragmentHeaderBytes + stored, 0, frag - kFragmentHeaderBytes - stored);
    uint32_t at = fill;
    fill += frag;
    fill_[seg] = fill;
    live_[seg] += frag;
    uint32_t key[4];
    NumberKey(id, key);
    uint32_t ev[8] = {seg, at, (stored & 0xffff) | (codec << 16), 1, fp_key[0], fp_key[1], fp_key[2], fp_key[3]};
    put(kExtents, key, ev, &new_extents);
    extent_count += 1;
    if (index) {
      uint32_t dv[2] = {static_cast<uint32_t>(id >> 32), static_cast<uint32_t>(id)};
      put(kDedup, fp_key, dv, &new_dedup);
    }
    uint32_t mv[3] = {kTagExtent, static_cast<uint32_t>(id >> 32), static_cast<uint32_t>(id)};
    put(kMaps, lba_key, mv, &new_maps);
    if (lba < mapped_blocks_) mapped_[lba >> 3] |= static_cast<uint8_t>(1u << (lba & 7));
    if (old_none) mapped_blocks += 1;
    if (old_extent) {
      if (old_words[3] > 1) {
        old_words[3] -= 1;
        put(kExtents, old_key, old_words, &new_extents);
      } else {
        put(kExtents, old_key, nullptr, &new_extents);
        extent_count -= 1;
        if (old_dedup_delete) put(kDedup, old_words + 4, nullptr, &new_dedup);
        uint32_t old_seg = old_words[0];
        live_[old_seg] -= FragmentBytes(old_words[2] & 0xffff);
        touch(old_seg);
        if (live_[old_seg] == 0 && seg_state_[old_seg] == kSegSealed) out[out_n - 1 - freed++] = old_seg;
      }
    }
    if (codec == kCodecRaw) raw += 1;
    else compressed += 1;
  }

  io[kNextExtentId] = static_cast<double>(next_id);
  io[kExtentCount] = extent_count;
  io[kMappedBlocks] = mapped_blocks;
  io[kOpenFill] = fill;
  io[kCompressed] = compressed;
  io[kRaw] = raw;
  io[kTouched] = touched;
  io[kFreed] = freed;
  io[kNewMaps] = new_maps;
  io[kNewExtents] = new_extents;
  io[kNewDedup] = new_dedup;
  return Napi::Number::New(env, k - start);
}

}  // namespace ublk
