// The apply step of new unique blocks in the addon
// (src/engine/native-apply.ts): for a run of blocks the JavaScript write path
// has classified and compressed, each new unique block gets its extent, its
// fragment in the open segment, its dedup entry and its map entry, and the
// extent it replaces loses a reference, all in the engine's own tables, read
// and written in place:
//   - the uncommitted records (MetaView's PendingTables, src/engine/pending-table.ts:
//     open addressing, linear probing), the current overlay's and the one a
//     commit in flight is writing (read only);
//   - the clean-record cache (MetaCache's SlotTables, src/engine/slot-table.ts):
//     read, and an entry dropped when its key changes, as MetaView does;
//   - the mapped-block bitmap, and the segments' live and fill bytes.
// The words of each record are those of src/engine/record-words.ts.
//
// A block is applied here only when everything it needs is in those tables
// and nothing unusual applies; the run stops at the first block that is not
// (a same-fill block, a dedup candidate, a record only LevelDB holds, no
// room in the open segment, ...), before
// changing anything for it, and JavaScript applies that block its own way.
// What the tables cannot hold comes back in `io`/`out`: the engine's
// counters, the segments touched and freed, the new pending entries. A batch
// is handed over once (setBatch); apply() runs from a given entry, and is
// called again after each block JavaScript applied itself.
#ifndef UBLK_NATIVE_WRITE_APPLY_H_
#define UBLK_NATIVE_WRITE_APPLY_H_

#include <napi.h>

#include <cstdint>
#include <vector>

#include "codec-batch.h"
#include "fast-write.h"
#include "ring.h"
#include "word-tables.h"

namespace ublk {

// The io words (a Float64Array): what a run of the apply step reads and brings
// back, for apply() (its io array) and for the one-block path (the words from
// kFwRun of fast-write.h's shared array).
enum Io : uint32_t {
  kNextExtentId = 0,  // in/out
  kExtentCount,       // in/out
  kMappedBlocks,      // in/out
  kOpenSegment,       // in (-1: none)
  kOpenFill,          // in/out
  kCompressed,        // out: blocks stored compressed (this and the words after it: counts)
  kRaw,               // out: blocks stored raw
  kTouched,           // out: segments whose live bytes went down, at out[0, n)
  kFreed,             // out: sealed segments left empty (to free), from out's end backwards
  kNewMaps,           // out: new entries in the current overlay's tables
  kNewExtents,
  kNewDedup,
  kIoWords,
};
static_assert(kFwBlocks == kFwRun + kIoWords, "the shared words hold the io words from kFwRun");

class WriteApplyWrap : public Napi::ObjectWrap<WriteApplyWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit WriteApplyWrap(const Napi::CallbackInfo& info);

  // A one-block write of `block` to `lba` applied here (fast-write.h), with its
  // journal record when `journal`; false: JavaScript serves it (nothing changed).
  bool ServeWrite(uint64_t lba, const uint8_t* block, bool journal);

 private:
  Napi::Value AttachPending(const Napi::CallbackInfo& info);
  Napi::Value AttachCache(const Napi::CallbackInfo& info);
  Napi::Value AttachMapped(const Napi::CallbackInfo& info);
  Napi::Value AttachSegments(const Napi::CallbackInfo& info);
  Napi::Value SetBatch(const Napi::CallbackInfo& info);
  Napi::Value Apply(const Napi::CallbackInfo& info);
  // fast-write.cc
  Napi::Value AttachFastWrite(const Napi::CallbackInfo& info);
  Napi::Value AttachFilter(const Napi::CallbackInfo& info);
  Napi::Value OpenGate(const Napi::CallbackInfo& info);
  Napi::Value WriteOne(const Napi::CallbackInfo& info);

  // The batch setBatch() described: its arrays, read (io and out written) by apply().
  struct Batch {
    const uint8_t* data = nullptr;
    size_t data_blocks = 0;
    const double* lbas = nullptr;
    const uint32_t* block_of = nullptr;
    uint32_t count = 0;
    const uint8_t* fps = nullptr;
    size_t fps_n = 0;
    const uint8_t* fills = nullptr;
    size_t fills_n = 0;
    const double* indexed = nullptr;
    const uint32_t* slot_of = nullptr;
    size_t slots_n = 0;
    const uint32_t* sizes = nullptr;
    size_t sizes_n = 0;
    const uint8_t* staging = nullptr;
    size_t staging_n = 0;
    bool index = false;
    // The one-block path (fast-write.cc): a block whose fingerprint has a dedup
    // entry shares that extent here (after the byte compare when `verify`).
    bool share_dups = false;
    bool verify = false;
    uint32_t codec_id = 0;
    double* io = nullptr;
    uint32_t* out = nullptr;
    size_t out_n = 0;
  };
  static constexpr uint32_t kBatchRefs = 13;  // setBatch's object arguments

  // A record a lookup found: the table and slot it is in (table null: found nowhere the
  // addon may look, so JavaScript applies the block), or a certain absence.
  struct Found {
    const WordTable* table = nullptr;
    int slot = -1;
    bool absent = false;  // a deleted pending record
    const uint32_t* value(uint32_t vw) const { return table->values + static_cast<size_t>(slot) * vw; }
  };
  // One entry's apply, decided before anything changes (Plan), then done (Commit).
  struct Step {
    uint32_t block = 0;
    uint64_t lba = 0;
    uint32_t lba_key[2] = {};
    uint32_t fp_key[4] = {};
    bool old_none = false;    // the LBA maps to nothing (unmapped or deleted)
    bool old_extent = false;  // the LBA maps to an extent: it loses a reference
    uint64_t old_id = 0;
    uint32_t old_key[2] = {};
    uint32_t old_words[8] = {};
    bool old_dedup_delete = false;  // the old extent goes, and the dedup index points at it
    bool dup = false;               // shares extent dup_id instead of storing the block
    uint64_t dup_id = 0;
    uint32_t dup_key[2] = {};
    uint32_t dup_words[8] = {};
    const uint8_t* payload = nullptr;
    uint32_t stored = 0;
    uint32_t codec = 0;
    uint32_t frag = 0;
  };
  // One apply() call's running state: what `io` brings in and takes back.
  struct Run {
    uint64_t next_id = 0;
    double extent_count = 0;
    double mapped_blocks = 0;
    double open_segment = -1;
    uint32_t fill = 0;
    uint8_t* open = nullptr;
    size_t open_n = 0;
    uint32_t compressed = 0, raw = 0, touched = 0, freed = 0, new_maps = 0, new_extents = 0, new_dedup = 0, dups = 0;
  };
  Found Lookup(uint32_t kind, const uint32_t* key);
  void Put(uint32_t kind, const uint32_t* key, const uint32_t* value, uint32_t* fresh_count);
  bool Plan(const Batch& b, const Run& r, uint32_t k, Step* s);
  bool PlanOld(Step* s);
  bool PlanStored(const Batch& b, const Run& r, Step* s);
  void Commit(const Batch& b, Run& r, const Step& s);
  void DropOld(const Batch& b, Run& r, const Step& s);
  bool PlanDup(const Batch& b, const Run& r, const Found& d, Step* s);
  void CommitDup(const Batch& b, Run& r, const Step& s);
  // A run from io words (counts from their values), and back.
  static Run LoadRun(const double* io, uint8_t* open, size_t open_n);
  static void StoreRun(const Run& r, double* io);
  bool AppendRecord(uint64_t lba, const uint8_t* block, const uint8_t* fp);
  // Counts a one-block write left to JavaScript under `reason`; false.
  bool Decline(FastWord reason);

  // [layer][kind]: layer 0 the current overlay, 1 the frozen one; kind 0 maps, 1 extents, 2 dedup.
  WordTable pending_[2][3];
  WordTable cache_[3];
  Napi::ObjectReference pending_refs_[2][3][3];
  Napi::ObjectReference cache_refs_[3][3];
  uint8_t* mapped_ = nullptr;
  uint64_t mapped_blocks_ = 0;
  bool mapped_complete_ = false;
  Napi::ObjectReference mapped_ref_;
  uint32_t* live_ = nullptr;
  uint32_t* fill_ = nullptr;
  uint8_t* seg_state_ = nullptr;
  uint32_t segments_ = 0;
  uint32_t segment_bytes_ = 0;
  Napi::ObjectReference seg_refs_[3];
  Batch batch_;
  Napi::ObjectReference batch_refs_[kBatchRefs];
  Run run_;
  uint8_t scratch_[kCompressOutBytes];  // a block compressed here

  // The one-block write path's state (fast-write.cc): the shared words, the
  // lists JavaScript takes (LBAs, fingerprints, segments touched / freed),
  // the open segment, the dedup filter and the journal files.
  struct Fast {
    double* words = nullptr;
    double* lbas = nullptr;
    uint8_t* fps = nullptr;
    uint8_t* kinds = nullptr;  // 1: a new extent (its fingerprint enters the filter), 0: a dedup hit
    uint32_t capacity = 0;  // entries of lbas / fps
    uint32_t* out = nullptr;
    size_t out_n = 0;
    uint8_t* open = nullptr;
    size_t open_n = 0;
    std::vector<FilterLayer> filter;
    Fd journal[2];
  };
  Fast fast_;
  Napi::ObjectReference fast_refs_[5];
  Napi::ObjectReference open_ref_;
  std::vector<Napi::ObjectReference> filter_refs_;
  uint8_t record_[kJournalRecordBytes];
};

}  // namespace ublk

#endif  // UBLK_NATIVE_WRITE_APPLY_H_
