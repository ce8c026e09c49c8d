#include "extent-map.h"

#include <errno.h>
#include <fcntl.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>
#include <sys/stat.h>
#include <unistd.h>

#include <cstring>

#include "event-ring.h"

namespace ublk {

namespace {

constexpr uint64_t kBlock = 4096;
constexpr uint32_t kExtentsPerCall = 256;
// Flags that still leave an extent a plain run of this file's data blocks.
// Anything else (unknown, delalloc, encoded, encrypted, not aligned, inline,
// tail, unwritten, shared) takes the file path.
constexpr uint32_t kHarmlessFlags = FIEMAP_EXTENT_LAST | FIEMAP_EXTENT_MERGED;

bool Overlaps(uint64_t b1, uint64_t e1, uint64_t b2, uint64_t e2) { return b1 < e2 && b2 < e1; }

}  // namespace

bool ExtentMap::Lookup(uint64_t off, uint64_t len, uint64_t* phys) const {
  auto it = runs_.upper_bound(off);
  if (it == runs_.begin()) return false;
  --it;
  if (off + len > it->second.end) return false;
  *phys = it->second.phys + (off - it->first);
  return true;
}

bool ExtentMap::IsOf(int fd) const {
  struct stat mine {}, theirs {};
  if (fstat(file_fd(), &mine) < 0 || fstat(fd, &theirs) < 0) return false;
  return mine.st_dev == theirs.st_dev && mine.st_ino == theirs.st_ino;
}

bool ExtentMap::IsBlocked(uint64_t begin, uint64_t end) const {
  for (const Range& r : blocked_) {
    if (Overlaps(begin, end, r.begin, r.end)) return true;
  }
  return false;
}

int ExtentMap::Refresh(uint64_t off, uint64_t len, bool sync) {
  if (!enabled_) return 0;
  const uint64_t end = len > UINT64_MAX - off ? UINT64_MAX : off + len;
  std::vector<uint8_t> storage(sizeof(struct fiemap) + kExtentsPerCall * sizeof(struct fiemap_extent));
  auto* fm = reinterpret_cast<struct fiemap*>(storage.data());
  struct Found {
    uint64_t begin, end, phys;
  };
  std::vector<Found> found;
  uint64_t start = off;
  while (start < end) {
    memset(storage.data(), 0, storage.size());
    fm->fm_start = start;
    fm->fm_length = end - start;
    fm->fm_flags = sync ? FIEMAP_FLAG_SYNC : 0;
    fm->fm_extent_count = kExtentsPerCall;
    if (ioctl(file_fd(), FS_IOC_FIEMAP, fm) < 0) return -errno;
    if (fm->fm_mapped_extents == 0) break;
    bool last = false;
    for (uint32_t i = 0; i < fm->fm_mapped_extents; ++i) {
      const struct fiemap_extent& e = fm->fm_extents[i];
      start = e.fe_logical + e.fe_length;
      if (e.fe_flags & FIEMAP_EXTENT_LAST) last = true;
      if ((e.fe_flags & ~kHarmlessFlags) != 0 || e.fe_length == 0) continue;
      // Clip to the asked range, then to whole 4 KiB blocks of the file.
      uint64_t b = e.fe_logical < off ? off : e.fe_logical;
      uint64_t x = start > end ? end : start;
      b = (b + kBlock - 1) / kBlock * kBlock;
      x = x / kBlock * kBlock;
      if (b >= x) continue;
      found.push_back(Found{b, x, e.fe_physical + (b - e.fe_logical)});
    }
    if (last) break;
  }
  // Installed only now, after the last FIEMAP call and before returning.
  for (const Found& f : found) {
    if (!IsBlocked(f.begin, f.end)) Insert(f.begin, f.end, f.phys);
  }
  return 0;
}

void ExtentMap::Insert(uint64_t begin, uint64_t end, uint64_t phys) {
  Cut(begin, end);
  auto it = runs_.emplace(begin, Run{end, phys}).first;
  if (it != runs_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end == begin && prev->second.phys + (begin - prev->first) == phys) {
      prev->second.end = end;
      runs_.erase(it);
      it = prev;
    }
  }
  auto next = std::next(it);
  if (next != runs_.end() && next->first == it->second.end &&
      it->second.phys + (next->first - it->first) == next->second.phys) {
    it->second.end = next->second.end;
    runs_.erase(next);
  }
}

void ExtentMap::Drop(uint64_t off, uint64_t len) {
  stats_.drops += 1;
  Cut(off, off + len);
}

void ExtentMap::Cut(uint64_t b, uint64_t e) {
  auto it = runs_.lower_bound(b);
  if (it != runs_.begin()) {
    auto prev = std::prev(it);
    if (prev->second.end > b) it = prev;
  }
  while (it != runs_.end() && it->first < e) {
    uint64_t rb = it->first;
    Run r = it->second;
    it = runs_.erase(it);
    if (rb < b) runs_.emplace(rb, Run{b, r.phys});
    if (r.end > e) runs_.emplace(e, Run{r.end, r.phys + (e - rb)});
  }
}

void ExtentMap::DropPageCache() const {
  // Clean pages only; a failure leaves them, and they are never read raw.
  (void)posix_fadvise(file_fd(), 0, 0, POSIX_FADV_DONTNEED);
}

void ExtentMap::Clear() {
  runs_.clear();
  enabled_ = false;
}

void ExtentMap::Unblock(uint64_t off, uint64_t len) {
  for (auto it = blocked_.begin(); it != blocked_.end(); ++it) {
    if (it->begin == off && it->end == off + len) {
      blocked_.erase(it);
      return;
    }
  }
}

bool ExtentMap::RawOverlaps(uint64_t off, uint64_t len) const {
  for (const Range& r : raw_) {
    if (Overlaps(off, off + len, r.begin, r.end)) return true;
  }
  return false;
}

void ExtentMap::Park(RawWaiter* waiter, uint16_t tag, uint64_t off, uint64_t len) {
  stats_.parked += 1;
  parked_.push_back(Parked{waiter, tag, Range{off, off + len}});
}

void ExtentMap::RawEnd(Napi::Env env, uint64_t off, uint64_t len) {
  for (auto it = raw_.begin(); it != raw_.end(); ++it) {
    if (it->begin == off && it->end == off + len) {
      raw_.erase(it);
      break;
    }
  }
  if (raw_.empty() && drain_hook_) drain_hook_();
  if (parked_.empty()) return;
  std::vector<Parked> ready;
  for (auto it = parked_.begin(); it != parked_.end();) {
    if (!RawOverlaps(it->range.begin, it->range.end - it->range.begin)) {
      ready.push_back(*it);
      it = parked_.erase(it);
    } else {
      ++it;
    }
  }
  for (const Parked& p : ready) p.waiter->Unparked(env, p.tag);
}

ExtentMapStats ExtentMap::stats() const {
  ExtentMapStats s = stats_;
  s.extents = runs_.size();
  s.mapped_bytes = 0;
  for (const auto& [begin, run] : runs_) s.mapped_bytes += run.end - begin;
  s.raw_inflight = raw_.size();
  return s;
}

void ExtentMap::CountRefresh(uint64_t len) {
  stats_.refreshes += 1;
  stats_.refreshed_bytes += len;
}

// ---- JS handle ----

Napi::Function ExtentMapWrap::Init(Napi::Env env) {
  return DefineClass(env, "DirectMap",
                     {
                         InstanceMethod<&ExtentMapWrap::Remap>("remap"),
                         InstanceMethod<&ExtentMapWrap::RemapRange>("remapRange"),
                         InstanceMethod<&ExtentMapWrap::Stats>("stats"),
                         InstanceMethod<&ExtentMapWrap::Clear>("clear"),
                     });
}

// new DirectMap(fileFd, devFd, jsFd): the map serves on its own duplicates of
// fileFd and devFd (closed with it), so the caller may close its own at any
// time. jsFd (the JS path's buffered descriptor, or -1) gets no readahead:
// pages it would read ahead over mapped ranges would go stale under raw writes.
ExtentMapWrap::ExtentMapWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<ExtentMapWrap>(info) {
  Napi::Env env = info.Env();
  int file_fd = info[0].As<Napi::Number>().Int32Value();
  int dev_fd = info[1].As<Napi::Number>().Int32Value();
  int js_fd = info[2].As<Napi::Number>().Int32Value();
  if (file_fd < 0 || dev_fd < 0) throw Napi::RangeError::New(env, "DirectMap: bad fd");
  if (js_fd >= 0) {
    int rc = posix_fadvise(js_fd, 0, 0, POSIX_FADV_RANDOM);
    if (rc != 0) throw MakeErrnoError(env, rc, "posix_fadvise RANDOM of the backing file");
  }
  Fd file(fcntl(file_fd, F_DUPFD_CLOEXEC, 0));
  if (file.get() < 0) throw MakeErrnoError(env, errno, "DirectMap: fcntl F_DUPFD_CLOEXEC of the backing file");
  Fd dev(fcntl(dev_fd, F_DUPFD_CLOEXEC, 0));
  if (dev.get() < 0) throw MakeErrnoError(env, errno, "DirectMap: fcntl F_DUPFD_CLOEXEC of the raw device");
  map_ = std::make_unique<ExtentMap>(std::move(file), std::move(dev));
}

// remap(): writes the file's dirty pages back, drops its page cache (raw
// device I/O bypasses it: cached pages would go stale), and maps the whole
// file afresh. Only before the queues serve requests. -> mapped bytes.
Napi::Value ExtentMapWrap::Remap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = map_->file_fd();
  if (fdatasync(fd) < 0) throw MakeErrnoError(env, errno, "fdatasync of the backing file");
  int rc = posix_fadvise(fd, 0, 0, POSIX_FADV_DONTNEED);
  if (rc != 0) throw MakeErrnoError(env, rc, "posix_fadvise DONTNEED of the backing file");
  map_->Clear();
  map_->Enable();
  rc = map_->Refresh(0, UINT64_MAX, true);
  if (rc < 0) throw MakeErrnoError(env, -rc, "ioctl FS_IOC_FIEMAP of the backing file");
  return Napi::Number::New(env, static_cast<double>(map_->stats().mapped_bytes));
}

// remapRange(offset, length): the same for a range no request can reach yet
// (the part an online grow adds, before the kernel sees the new size): its
// dirty pages written back and dropped, then mapped. -> mapped bytes (all).
Napi::Value ExtentMapWrap::RemapRange(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsNumber() || !info[1].IsNumber()) {
    throw Napi::TypeError::New(env, "remapRange(offset, length)");
  }
  double off = info[0].As<Napi::Number>().DoubleValue();
  double len = info[1].As<Napi::Number>().DoubleValue();
  if (!(off >= 0) || !(len > 0) || off + len > 9007199254740991.0) {
    throw Napi::RangeError::New(env, "remapRange: bad range");
  }
  int fd = map_->file_fd();
  if (fdatasync(fd) < 0) throw MakeErrnoError(env, errno, "fdatasync of the backing file");
  int rc = posix_fadvise(fd, static_cast<off_t>(off), static_cast<off_t>(len), POSIX_FADV_DONTNEED);
  if (rc != 0) throw MakeErrnoError(env, rc, "posix_fadvise DONTNEED of the backing file");
  rc = map_->Refresh(static_cast<uint64_t>(off), static_cast<uint64_t>(len), true);
  if (rc < 0) throw MakeErrnoError(env, -rc, "ioctl FS_IOC_FIEMAP of the backing file");
  return Napi::Number::New(env, static_cast<double>(map_->stats().mapped_bytes));
}

Napi::Value ExtentMapWrap::Stats(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  ExtentMapStats s = map_->stats();
  return MakeCounters(env, {
      {"extents", s.extents},
      {"mappedBytes", s.mapped_bytes},
      {"refreshes", s.refreshes},
      {"refreshedBytes", s.refreshed_bytes},
      {"drops", s.drops},
      {"parked", s.parked},
      {"rawInflight", s.raw_inflight},
  });
}

// clear(): nothing is served raw any more (from the next request on), and
// file-path writes stop refreshing the map, until remap().
Napi::Value ExtentMapWrap::Clear(const Napi::CallbackInfo& info) {
  map_->Clear();
  return info.Env().Undefined();
}

}  // namespace ublk
