// The engine's typed-array record tables as the addon reads and writes them in
// place (native/write-apply.cc): the same layouts and probing as
//   - PendingTable (src/engine/pending-table.ts): open addressing, linear
//     probing, a power-of-two capacity, never more than half full;
//   - SlotTable (src/engine/slot-table.ts): sets of 8 ways, CLOCK bits;
// with the key and value words of src/engine/record-words.ts.
#ifndef UBLK_NATIVE_WORD_TABLES_H_
#define UBLK_NATIVE_WORD_TABLES_H_

#include <cstdint>
#include <cstring>

namespace ublk {

// A table of fixed-width u32 records: keys, values and a state byte per slot.
struct WordTable {
  uint32_t* keys = nullptr;
  uint32_t* values = nullptr;
  uint8_t* state = nullptr;
  uint32_t capacity = 0;
};

namespace words {

// PendingTable states; SlotTable's use kEmpty and kReferenced (1 is clean).
constexpr uint8_t kEmpty = 0;
constexpr uint8_t kLive = 1;
constexpr uint8_t kDeleted = 2;
constexpr uint8_t kReferenced = 2;
constexpr uint32_t kWays = 8;
// Record kinds, their key and value words.
constexpr uint32_t kMaps = 0;
constexpr uint32_t kExtents = 1;
constexpr uint32_t kDedup = 2;
constexpr uint32_t kKeyWords[3] = {2, 2, 4};
constexpr uint32_t kValueWords[3] = {3, 8, 2};
constexpr uint32_t kTagExtent = 1;

// PendingTable.hash.
inline uint32_t PendingSlotOf(const uint32_t* k) {
  uint32_t h = (k[0] ^ (k[1] * 0x85ebca6bu)) * 0x9e3779b1u;
  h ^= h >> 15;
  return (h * 0x27d4eb2fu) ^ (h >> 13);
}

// PendingTable.find: the slot holding `key`, or -1.
inline int PendingFind(const WordTable& t, uint32_t kw, const uint32_t* key) {
  if (t.capacity == 0) return -1;
  uint32_t mask = t.capacity - 1;
  for (uint32_t slot = PendingSlotOf(key) & mask;; slot = (slot + 1) & mask) {
    if (t.state[slot] == kEmpty) return -1;
    if (memcmp(t.keys + static_cast<size_t>(slot) * kw, key, kw * 4) == 0) return static_cast<int>(slot);
  }
}

// PendingTable.upsert, the table having room (JS reserved it): the key's slot, `fresh` when new.
inline uint32_t PendingUpsert(WordTable& t, uint32_t kw, const uint32_t* key, bool* fresh) {
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
inline uint32_t SetOf(const uint32_t* key, uint32_t kw, uint32_t sets) {
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
inline int CacheLocate(const WordTable& t, uint32_t kw, const uint32_t* key) {
  uint32_t sets = t.capacity / kWays;
  if (sets == 0) return -1;
  uint32_t base = SetOf(key, kw, sets) * kWays;
  for (uint32_t slot = base; slot < base + kWays; ++slot) {
    if (t.state[slot] == kEmpty) continue;
    if (memcmp(t.keys + static_cast<size_t>(slot) * kw, key, kw * 4) == 0) return static_cast<int>(slot);
  }
  return -1;
}

// The key of an LBA or extent id: low word, high word.
inline void NumberKey(uint64_t n, uint32_t* key) {
  key[0] = static_cast<uint32_t>(n);
  key[1] = static_cast<uint32_t>(n >> 32);
}

}  // namespace words
}  // namespace ublk

#endif  // UBLK_NATIVE_WORD_TABLES_H_
