// The packed engine's clean-record tables as the native read path sees them:
// no copy, but the very arrays of MetaCache's map and extent SlotTables
// (src/engine/slot-table.ts, src/engine/meta-cache.ts), read in place. JS
// hands their typed arrays over after every (re)allocation; the hash, the
// set layout and the value words below mirror those files exactly (a host
// test compares lookups on both sides).
//
// The cache rule makes an entry safe to serve from: it is absent or equal to
// the value every JS lookup would answer (MetaView keeps keys with a pending
// overlay value out of it). Besides the tables: the segments still in RAM
// (their bytes may not be in the pool file yet: a read copies them from the
// engine's own segment buffer, as the JS path does), and the read
// sequence that lets the engine's ReadGuard wait for native reads in flight
// before it reuses or punches freed space.
#ifndef UBLK_NATIVE_PACKED_TABLES_H_
#define UBLK_NATIVE_PACKED_TABLES_H_

#include <napi.h>

#include <cstdint>
#include <map>
#include <set>
#include <vector>

namespace ublk {

// One resolved block: where its fragment is and what it must decode to.
struct ExtentLocation {
  uint64_t id = 0;
  uint32_t segment = 0;
  uint32_t offset = 0;        // bytes into the segment
  uint32_t stored_bytes = 0;  // payload bytes (1..4096)
  uint32_t codec_id = 0;
  uint8_t fingerprint[16] = {};
};

class PackedTables {
 public:
  // A SlotTable's arrays: keys (keyWords per slot), values (valueWords per
  // slot) and state (one byte per slot), `capacity` slots in sets of 8.
  struct View {
    uint32_t* keys = nullptr;
    uint32_t* values = nullptr;
    uint8_t* state = nullptr;
    uint32_t capacity = 0;
  };
  enum Kind : uint32_t { kMaps = 0, kExtents = 1 };

  void Attach(Kind kind, const View& view) { (kind == kMaps ? maps_ : extents_) = view; }
  // Both tables attached and lookups allowed.
  bool ready() const { return enabled_ && maps_.capacity != 0 && extents_.capacity != 0; }
  void set_enabled(bool on) { enabled_ = on; }

  // Starts loading the set `lba` (PrefetchMap) or extent `id` (PrefetchExtent)
  // would probe: a request resolves many blocks, and a set is usually not in
  // the CPU cache (the hash scatters neighbours), so their misses overlap.
  void PrefetchMap(uint64_t lba) const { Prefetch(maps_, lba, 3); }
  void PrefetchExtent(uint64_t id) const { Prefetch(extents_, id, 8); }
  // The extent id `lba` maps to; false for a miss, and for a fill value.
  bool LookupMap(uint64_t lba, uint64_t* extent_id);
  bool LookupExtent(uint64_t id, ExtentLocation* out);

  // MappedBits (src/engine/mapped-bits.ts): once complete, a clear bit means
  // the LBA was never written or was discarded: it reads zeros.
  void AttachMapped(const uint8_t* bits, uint64_t blocks, bool complete) {
    mapped_bits_ = bits;
    mapped_blocks_ = blocks;
    mapped_complete_ = complete;
  }
  bool IsClear(uint64_t lba) const {
    return enabled_ && mapped_complete_ && mapped_bits_ != nullptr && lba < mapped_blocks_ &&
           (mapped_bits_[lba >> 3] & (1u << (lba & 7))) == 0;
  }

  // `data` (`bytes` long): the segment's buffer in RAM from now on; nullptr:
  // it left RAM (its buffer may be reused for another segment at once).
  void SetResident(uint32_t segment, const uint8_t* data, size_t bytes);
  // The segment's buffer in RAM and its length, or nullptr when it is only in the pool file.
  const uint8_t* Resident(uint32_t segment, size_t* bytes) const;

  // Native reads: a sequence number per read, taken when its locations
  // were resolved. BusyUpTo(b): a read numbered <= b is still in flight.
  uint64_t BeginRead();
  bool EndRead(uint64_t seq);  // false: no such read in flight
  uint64_t started() const { return started_; }
  bool BusyUpTo(uint64_t barrier) const { return !inflight_.empty() && *inflight_.begin() <= barrier; }
  size_t inflight() const { return inflight_.size(); }

 private:
  int Locate(View& t, uint32_t key_words, uint32_t k0, uint32_t k1);
  static void Prefetch(const View& t, uint64_t key, uint32_t value_words);

  View maps_;
  View extents_;
  const uint8_t* mapped_bits_ = nullptr;
  uint64_t mapped_blocks_ = 0;
  bool mapped_complete_ = false;
  bool enabled_ = true;
  struct ResidentSegment {
    uint32_t segment;
    const uint8_t* data;
    size_t bytes;
  };
  std::vector<ResidentSegment> resident_;  // a handful: the open segment and sealed ones being written
  uint64_t started_ = 0;
  std::multiset<uint64_t> inflight_;
};

// JS class PackedTables: the shared object the engine attaches its tables to
// and every queue's native read path reads.
class PackedTablesWrap : public Napi::ObjectWrap<PackedTablesWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit PackedTablesWrap(const Napi::CallbackInfo& info);
  PackedTables* tables() { return &tables_; }

 private:
  Napi::Value Attach(const Napi::CallbackInfo& info);
  Napi::Value AttachMapped(const Napi::CallbackInfo& info);
  Napi::Value Unmapped(const Napi::CallbackInfo& info);
  Napi::Value SetResident(const Napi::CallbackInfo& info);
  Napi::Value SetEnabled(const Napi::CallbackInfo& info);
  Napi::Value Started(const Napi::CallbackInfo& info);
  Napi::Value BusyUpTo(const Napi::CallbackInfo& info);
  Napi::Value Inflight(const Napi::CallbackInfo& info);
  Napi::Value Lookup(const Napi::CallbackInfo& info);
  Napi::Value BeginForTest(const Napi::CallbackInfo& info);
  Napi::Value EndForTest(const Napi::CallbackInfo& info);

  PackedTables tables_;
  // The attached arrays, kept alive while the tables point into them.
  Napi::ObjectReference refs_[2][3];
  Napi::ObjectReference mapped_ref_;
  // The buffers of the segments in RAM, kept alive while the tables point into them.
  std::map<uint32_t, Napi::ObjectReference> resident_refs_;
};

}  // namespace ublk

#endif  // UBLK_NATIVE_PACKED_TABLES_H_
