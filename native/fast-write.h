// One-block WRITEs served in the addon (src/engine/native-writes.ts): while
// the engine's mutex is free, JavaScript opens a gate and hands over the
// write state (next extent id, counts, the open segment, the journal's
// position) in a shared Float64Array; a 4 KiB write whose block is new
// (not same-filled, the dedup filter and the tables say no copy exists) and
// whose old value the tables hold is applied here (write-apply.cc's Plan
// and Commit), its journal record written with pwrite(2), and completed. So
// is a block whose dedup entry the tables hold, when its extent's bytes are
// in the open segment (the verify compare) or dedup does not verify: it
// shares that extent.
// What JavaScript keeps per block (the touched bits, the dedup filter, the
// counters, the segments touched and freed) is listed here and taken by
// JavaScript before it runs anything else (the queue calls it once per
// wake-up). JavaScript closes the gate before any exclusive section, so
// nothing here runs between the awaits of a commit, a compaction or a write.
#ifndef UBLK_NATIVE_FAST_WRITE_H_
#define UBLK_NATIVE_FAST_WRITE_H_

#include <cstddef>
#include <cstdint>
#include <vector>

#include "ring.h"

namespace ublk {

// The shared words (src/engine/native-writes.ts FW).
enum FastWord : uint32_t {
  kFwGate = 0,        // 1: the addon may apply (JS holds no exclusive section)
  kFwBudget,          // blocks it may still add before JS checks space again
  kFwRun,             // 12 words: the apply step's io words (write-apply.h Io), its counts
                      // accumulated until JS takes them
  kFwBlocks = kFwRun + 12,  // out: blocks applied since JS last took them (lists' length)
  kFwFilterComplete,  // the dedup filter holds every H key of the store
  kFwIndex,           // new extents enter the dedup index (dedup is not off)
  kFwCodec,
  kFwJournal,         // 0: no journal; 1: records may be written here; 2: JS must write them
  kFwJournalActive,   // the file appended to (0 or 1)
  kFwJournalSeq,      // in/out: the last sequence recorded
  kFwJournalUsed,     // in/out: bytes in the active file
  kFwJournalCapacity,
  kFwJournalFailedAt, // out: a record that could not be written started here (-1: none)
  kFwJournalErrno,
  kFwVerify,          // a dedup hit is shared only after the byte compare (dedup=verify)
  kFwDedupHits,       // out, accumulated like kFwBlocks: blocks that shared an extent
  // out, never reset: one-block writes left to JavaScript, by reason (the
  // stats show them: a write declined here is served slower, under the mutex)
  kFwDeclinedClosed,    // the gate is closed, or the budget or the lists are used up
  kFwDeclinedJournal,   // the journal is not ready here, or its active file is full
  kFwDeclinedFill,      // a same-filled block (JavaScript maps it without an extent)
  kFwDeclinedFilter,    // the filter cannot rule out a stored copy (a lookup is needed)
  kFwDeclinedDup,       // a dedup candidate whose bytes are not at hand to compare
  kFwDeclinedPlan,      // the old value is not in the tables, or the open segment is full
  kFwDeclinedRecord,    // the journal record could not be written
  kFwWords,
};

// The journal's one-block record (src/engine/write-journal.ts): header and block.
constexpr size_t kJournalHeaderBytes = 64;
constexpr size_t kJournalRecordBytes = kJournalHeaderBytes + 4096;

// Encodes a one-block write record of sequence `seq` into out[0, kJournalRecordBytes);
// `hash` is the block's XXH128 (canonical form).
void EncodeJournalRecord(uint8_t* out, uint64_t seq, uint64_t lba, const uint8_t* block, const uint8_t* hash);

// The dedup filter's layers (src/engine/dedup-filter.ts), read in place.
struct FilterLayer {
  const uint32_t* bits = nullptr;
  uint32_t mask = 0;  // bit count - 1
};

// True unless no layer may hold `fingerprint` (16 bytes): DedupFilter.isCertainlyNew's negation.
bool FilterMayHold(const std::vector<FilterLayer>& layers, const uint8_t* fingerprint);

// pwrite(2) of all `n` bytes at `at`; 0 or an errno (EIO for a write that made no progress).
int WriteAll(int fd, const uint8_t* buf, size_t n, uint64_t at);

}  // namespace ublk

#endif  // UBLK_NATIVE_FAST_WRITE_H_
