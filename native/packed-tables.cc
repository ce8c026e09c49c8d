#include "packed-tables.h"

#include <algorithm>
#include <cassert>
#include <cstring>
#include <string>

#include "typed-args.h"

namespace ublk {

namespace {

// src/engine/slot-table.ts and src/engine/meta-cache.ts.
constexpr uint32_t kWays = 8;
constexpr uint8_t kEmpty = 0;
constexpr uint8_t kReferenced = 2;
constexpr uint32_t kKeyWords = 2;  // both tables: a u64 as (low, high)
constexpr uint32_t kMapValueWords = 3;
constexpr uint32_t kExtentValueWords = 8;
constexpr uint32_t kTagExtent = 1;

// SlotTable.setOf: the same mix, range-reduced by a multiply.
uint32_t SetOf(uint32_t k0, uint32_t k1, uint32_t sets) {
  uint32_t h = 0x9e3779b9u;
  for (uint32_t w : {k0, k1}) {
    h = (h ^ w) * 0x85ebca6bu;
    h ^= h >> 13;
  }
  h *= 0xc2b2ae35u;
  h ^= h >> 16;
  return static_cast<uint32_t>((static_cast<uint64_t>(h) * sets) >> 32);
}

}  // namespace

int PackedTables::Locate(View& t, uint32_t key_words, uint32_t k0, uint32_t k1) {
  assert(key_words == kKeyWords);
  uint32_t sets = t.capacity / kWays;
  if (sets == 0) return -1;
  uint32_t base = SetOf(k0, k1, sets) * kWays;
  for (uint32_t slot = base; slot < base + kWays; ++slot) {
    if (t.state[slot] == kEmpty) continue;
    const uint32_t* k = t.keys + static_cast<size_t>(slot) * key_words;
    if (k[0] == k0 && k[1] == k1) {
      t.state[slot] = kReferenced;  // as a JS hit: CLOCK keeps what is read
      return static_cast<int>(slot);
    }
  }
  return -1;
}

void PackedTables::Prefetch(const View& t, uint64_t key, uint32_t value_words) {
  uint32_t sets = t.capacity / kWays;
  if (sets == 0) return;
  size_t base = static_cast<size_t>(SetOf(static_cast<uint32_t>(key), static_cast<uint32_t>(key >> 32), sets)) * kWays;
  __builtin_prefetch(t.state + base);
  __builtin_prefetch(t.keys + base * kKeyWords);  // a set's keys: 64 bytes
  __builtin_prefetch(t.values + base * value_words);
}

bool PackedTables::LookupMap(uint64_t lba, uint64_t* extent_id) {
  int slot = Locate(maps_, kKeyWords, static_cast<uint32_t>(lba), static_cast<uint32_t>(lba >> 32));
  if (slot < 0) return false;
  const uint32_t* v = maps_.values + static_cast<size_t>(slot) * kMapValueWords;
  if (v[0] != kTagExtent) return false;  // a same-fill block: the JS path expands it
  *extent_id = (static_cast<uint64_t>(v[1]) << 32) | v[2];
  return true;
}

bool PackedTables::LookupExtent(uint64_t id, ExtentLocation* out) {
  int slot = Locate(extents_, kKeyWords, static_cast<uint32_t>(id), static_cast<uint32_t>(id >> 32));
  if (slot < 0) return false;
  const uint32_t* v = extents_.values + static_cast<size_t>(slot) * kExtentValueWords;
  out->id = id;
  out->segment = v[0];
  out->offset = v[1];
  out->stored_bytes = v[2] & 0xffff;
  out->codec_id = v[2] >> 16;
  // Words 4..7 hold the fingerprint as u32le words: on this little-endian
  // host they are its 16 bytes in order.
  static_assert(__BYTE_ORDER__ == __ORDER_LITTLE_ENDIAN__, "the fingerprint words are little-endian");
  memcpy(out->fingerprint, v + 4, sizeof(out->fingerprint));
  return true;
}

void PackedTables::SetResident(uint32_t segment, const uint8_t* data, size_t bytes) {
  auto it = std::find_if(resident_.begin(), resident_.end(), [segment](const ResidentSegment& r) { return r.segment == segment; });
  if (it != resident_.end()) resident_.erase(it);
  if (data != nullptr) resident_.push_back({segment, data, bytes});
}

const uint8_t* PackedTables::Resident(uint32_t segment, size_t* bytes) const {
  for (const ResidentSegment& r : resident_) {
    if (r.segment != segment) continue;
    *bytes = r.bytes;
    return r.data;
  }
  *bytes = 0;
  return nullptr;
}

uint64_t PackedTables::BeginRead() {
  started_ += 1;
  inflight_.insert(started_);
  return started_;
}

bool PackedTables::EndRead(uint64_t seq) {
  auto it = inflight_.find(seq);
  if (it == inflight_.end()) return false;
  inflight_.erase(it);
  return true;
}

// ---------------------------------------------------------------- JS class

Napi::Function PackedTablesWrap::Init(Napi::Env env) {
  return DefineClass(env, "PackedTables",
                     {
                         InstanceMethod<&PackedTablesWrap::Attach>("attach"),
                         InstanceMethod<&PackedTablesWrap::AttachMapped>("attachMapped"),
                         InstanceMethod<&PackedTablesWrap::Unmapped>("unmapped"),
                         InstanceMethod<&PackedTablesWrap::SetResident>("setResident"),
                         InstanceMethod<&PackedTablesWrap::SetEnabled>("setEnabled"),
                         InstanceMethod<&PackedTablesWrap::Started>("started"),
                         InstanceMethod<&PackedTablesWrap::BusyUpTo>("busyUpTo"),
                         InstanceMethod<&PackedTablesWrap::Inflight>("inflight"),
                         InstanceMethod<&PackedTablesWrap::Lookup>("lookup"),
                         InstanceMethod<&PackedTablesWrap::BeginForTest>("beginForTest"),
                         InstanceMethod<&PackedTablesWrap::EndForTest>("endForTest"),
                     });
}

PackedTablesWrap::PackedTablesWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<PackedTablesWrap>(info) {}

namespace {

template <typename T>
T* ArrayOf(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t min_length, const char* what) {
  return TypedArg<T>(env, v, type, min_length, "attach", what);
}

}  // namespace

// attach(kind, keys, values, state): kind 0 the map table, 1 the extent table.
Napi::Value PackedTablesWrap::Attach(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 4 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "attach(kind, keys, values, state)");
  uint32_t kind = info[0].As<Napi::Number>().Uint32Value();
  if (kind > 1) throw Napi::RangeError::New(env, "attach: kind must be 0 (maps) or 1 (extents)");
  if (!info[3].IsTypedArray()) throw Napi::TypeError::New(env, "attach: state must be a Uint8Array");
  size_t capacity = info[3].As<Napi::TypedArray>().ElementLength();
  if (capacity == 0 || capacity % kWays != 0 || capacity > 0xffffffffu) {
    throw Napi::RangeError::New(env, "attach: capacity must be a positive multiple of 8");
  }
  uint32_t vw = kind == 0 ? kMapValueWords : kExtentValueWords;
  PackedTables::View view;
  view.keys = ArrayOf<uint32_t>(env, info[1], napi_uint32_array, capacity * kKeyWords, "keys");
  view.values = ArrayOf<uint32_t>(env, info[2], napi_uint32_array, capacity * vw, "values");
  view.state = ArrayOf<uint8_t>(env, info[3], napi_uint8_array, capacity, "state");
  view.capacity = static_cast<uint32_t>(capacity);
  for (uint32_t i = 0; i < 3; ++i) refs_[kind][i] = Napi::Persistent(info[1 + i].As<Napi::Object>());
  tables_.Attach(static_cast<PackedTables::Kind>(kind), view);
  return env.Undefined();
}

// attachMapped(bits, blocks, complete): the engine's MappedBits bitmap.
Napi::Value PackedTablesWrap::AttachMapped(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 3 || !info[1].IsNumber()) throw Napi::TypeError::New(env, "attachMapped(bits, blocks, complete)");
  double blocks = info[1].As<Napi::Number>().DoubleValue();
  if (!(blocks >= 0) || blocks > 9007199254740991.0) throw Napi::RangeError::New(env, "attachMapped: bad blocks");
  size_t bytes = static_cast<size_t>((static_cast<uint64_t>(blocks) + 7) / 8);
  const uint8_t* bits = ArrayOf<uint8_t>(env, info[0], napi_uint8_array, bytes, "bits");
  mapped_ref_ = Napi::Persistent(info[0].As<Napi::Object>());
  tables_.AttachMapped(bits, static_cast<uint64_t>(blocks), info[2].ToBoolean().Value());
  return env.Undefined();
}

Napi::Value PackedTablesWrap::Unmapped(const Napi::CallbackInfo& info) {
  double lba = info[0].As<Napi::Number>().DoubleValue();
  return Napi::Boolean::New(info.Env(), lba >= 0 && tables_.IsClear(static_cast<uint64_t>(lba)));
}

// setResident(segment, buffer | undefined): the segment's RAM copy (its
// whole length), or undefined once it left RAM.
Napi::Value PackedTablesWrap::SetResident(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 1 || !info[0].IsNumber()) throw Napi::TypeError::New(env, "setResident(segment, buffer?)");
  uint32_t segment = info[0].As<Napi::Number>().Uint32Value();
  if (info.Length() > 1 && info[1].IsBuffer()) {
    Napi::Buffer<uint8_t> buf = info[1].As<Napi::Buffer<uint8_t>>();
    resident_refs_[segment] = Napi::Persistent(buf.As<Napi::Object>());
    tables_.SetResident(segment, buf.Data(), buf.Length());
  } else {
    tables_.SetResident(segment, nullptr, 0);
    resident_refs_.erase(segment);
  }
  return env.Undefined();
}

Napi::Value PackedTablesWrap::SetEnabled(const Napi::CallbackInfo& info) {
  tables_.set_enabled(info[0].ToBoolean().Value());
  return info.Env().Undefined();
}

Napi::Value PackedTablesWrap::Started(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tables_.started()));
}

Napi::Value PackedTablesWrap::BusyUpTo(const Napi::CallbackInfo& info) {
  double barrier = info[0].As<Napi::Number>().DoubleValue();
  return Napi::Boolean::New(info.Env(), barrier >= 0 && tables_.BusyUpTo(static_cast<uint64_t>(barrier)));
}

Napi::Value PackedTablesWrap::Inflight(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tables_.inflight()));
}

// lookup(lba) -> [extentId, segment, offset, storedBytes, codecId] the native
// path would read (from the pool file or a segment's RAM copy), or null (a
// miss, a fill, or not ready).
Napi::Value PackedTablesWrap::Lookup(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  double lba = info[0].As<Napi::Number>().DoubleValue();
  uint64_t id = 0;
  ExtentLocation loc;
  if (!tables_.ready() || !tables_.LookupMap(static_cast<uint64_t>(lba), &id) || !tables_.LookupExtent(id, &loc)) {
    return env.Null();
  }
  Napi::Array a = Napi::Array::New(env, 5);
  a[0u] = Napi::Number::New(env, static_cast<double>(loc.id));
  a[1u] = Napi::Number::New(env, loc.segment);
  a[2u] = Napi::Number::New(env, loc.offset);
  a[3u] = Napi::Number::New(env, loc.stored_bytes);
  a[4u] = Napi::Number::New(env, loc.codec_id);
  return a;
}

// For tests of the engine's drain: a native read that starts and ends on demand.
Napi::Value PackedTablesWrap::BeginForTest(const Napi::CallbackInfo& info) {
  return Napi::Number::New(info.Env(), static_cast<double>(tables_.BeginRead()));
}

Napi::Value PackedTablesWrap::EndForTest(const Napi::CallbackInfo& info) {
  bool ended = tables_.EndRead(static_cast<uint64_t>(info[0].As<Napi::Number>().DoubleValue()));
  if (!ended) throw Napi::Error::New(info.Env(), "endForTest: no such read in flight");
  return info.Env().Undefined();
}

}  // namespace ublk
