// The direct-mapped path's extent map: which parts of the backing file are
// proven, by FIEMAP, to be plain data blocks of this file at a known offset
// of the block device under the filesystem. Shared by every queue of a
// device (they all run on the main thread). See docs/direct-paths.md.
//
// The rules it enforces:
// - Only extents FIEMAP reports as written, not shared, not inline, not
//   encoded/encrypted, not delayed and not unwritten are mapped, clipped to
//   whole 4 KiB blocks.
// - A range whose extents the file path may change or whose page cache the
//   file path may fill (a punch, a request handed to JS) is dropped from the
//   map and "blocked" until that request ends: no refresh maps it meanwhile.
// - A refresh is one FIEMAP call installed before returning (the same tick),
//   so nothing this process does can slip between the two.
// - A punch waits ("parks") while raw-device I/O over its range is in
//   flight: the blocks must not be freed under a raw write.
#ifndef UBLK_NATIVE_EXTENT_MAP_H_
#define UBLK_NATIVE_EXTENT_MAP_H_

#include <napi.h>

#include <cstdint>
#include <functional>
#include <map>
#include <memory>
#include <utility>
#include <vector>

#include "ring.h"

namespace ublk {

// Woken when no raw I/O overlaps its parked range any more.
class RawWaiter {
 public:
  virtual ~RawWaiter() = default;
  virtual void Unparked(Napi::Env env, uint16_t tag) = 0;
};

struct ExtentMapStats {
  uint64_t extents = 0;        // runs in the map now
  uint64_t mapped_bytes = 0;   // bytes they cover
  uint64_t refreshes = 0;      // FIEMAP calls after allocating writes
  uint64_t refreshed_bytes = 0;
  uint64_t drops = 0;          // ranges taken out (punches, hand-offs)
  uint64_t parked = 0;         // punches that waited for raw I/O
  uint64_t raw_inflight = 0;
};

class ExtentMap {
 public:
  // Takes its own descriptors (duplicates the caller made): a caller that
  // closes its fds cannot leave the map with numbers another open reused.
  ExtentMap(Fd file, Fd dev) : file_(std::move(file)), dev_(std::move(dev)) {}
  ExtentMap(const ExtentMap&) = delete;
  ExtentMap& operator=(const ExtentMap&) = delete;

  int file_fd() const { return file_.get(); }
  int dev_fd() const { return dev_.get(); }
  // True when `fd` is open on the same file as the map's (same inode).
  bool IsOf(int fd) const;

  // The device offset of [off, off+len) when one mapped run holds all of it.
  bool Lookup(uint64_t off, uint64_t len, uint64_t* phys) const;
  // Maps what FIEMAP proves in [off, off+len), except blocked ranges.
  // Returns 0 or -errno (the map is unchanged on error).
  int Refresh(uint64_t off, uint64_t len, bool sync);
  void Drop(uint64_t off, uint64_t len);
  // Empties the map and keeps it empty (refreshes do nothing) until Enable().
  void Clear();
  void Enable() { enabled_ = true; }
  // The file's clean cached pages: after the JS path read through its buffered descriptor.
  void DropPageCache() const;
  void CountRefresh(uint64_t len);

  void Block(uint64_t off, uint64_t len) { blocked_.push_back(Range{off, off + len}); }
  void Unblock(uint64_t off, uint64_t len);

  void RawBegin(uint64_t off, uint64_t len) { raw_.push_back(Range{off, off + len}); }
  // Ends one raw I/O and wakes the parked punches it was holding back.
  void RawEnd(Napi::Env env, uint64_t off, uint64_t len);
  bool RawOverlaps(uint64_t off, uint64_t len) const;
  void Park(RawWaiter* waiter, uint16_t tag, uint64_t off, uint64_t len);

  ExtentMapStats stats() const;
  size_t raw_inflight() const { return raw_.size(); }
  // Called when the last raw I/O in flight ends.
  void SetDrainHook(std::function<void()> hook) { drain_hook_ = std::move(hook); }

 private:
  struct Range {
    uint64_t begin;
    uint64_t end;
  };
  struct Run {
    uint64_t end;   // logical, exclusive
    uint64_t phys;  // device offset of the run's first byte
  };
  struct Parked {
    RawWaiter* waiter;
    uint16_t tag;
    Range range;
  };

  void Insert(uint64_t begin, uint64_t end, uint64_t phys);
  void Cut(uint64_t begin, uint64_t end);
  bool IsBlocked(uint64_t begin, uint64_t end) const;

  Fd file_;
  Fd dev_;
  std::map<uint64_t, Run> runs_;  // keyed by logical start; disjoint
  std::vector<Range> blocked_;
  std::vector<Range> raw_;
  std::vector<Parked> parked_;
  ExtentMapStats stats_;
  bool enabled_ = true;
  std::function<void()> drain_hook_;
};

// JS handle: new DirectMap(fileFd, devFd, jsFd); remap() and remapRange(off, len)
// -> mapped bytes; stats(); clear().
class ExtentMapWrap : public Napi::ObjectWrap<ExtentMapWrap> {
 public:
  static Napi::Function Init(Napi::Env env);
  explicit ExtentMapWrap(const Napi::CallbackInfo& info);
  ExtentMap* map() { return map_.get(); }

 private:
  Napi::Value Remap(const Napi::CallbackInfo& info);
  Napi::Value RemapRange(const Napi::CallbackInfo& info);
  Napi::Value Stats(const Napi::CallbackInfo& info);
  Napi::Value Clear(const Napi::CallbackInfo& info);
  std::unique_ptr<ExtentMap> map_;
};

}  // namespace ublk

#endif  // UBLK_NATIVE_EXTENT_MAP_H_
