// FS_IOC_FIEMAP: the extents of an open file (logical, physical, length,
// flags), used by the direct layout to find where the file lives on disk.
#include <errno.h>
#include <linux/fiemap.h>
#include <linux/fs.h>
#include <sys/ioctl.h>

#include <cstring>
#include <vector>

#include "event-ring.h"
#include "fiemap.h"

namespace ublk {

namespace {
constexpr uint32_t kExtentsPerCall = 256;
constexpr size_t kMaxExtents = 1u << 24;  // bounds the loop on a pathological file
}  // namespace

// fiemap(fd, sync) -> Float64Array [logical, physical, length, flags] * n
Napi::Value Fiemap(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  int fd = info[0].As<Napi::Number>().Int32Value();
  bool sync = info[1].ToBoolean().Value();
  std::vector<uint8_t> storage(sizeof(struct fiemap) + kExtentsPerCall * sizeof(struct fiemap_extent));
  auto* fm = reinterpret_cast<struct fiemap*>(storage.data());
  std::vector<double> out;
  uint64_t start = 0;
  for (;;) {
    memset(storage.data(), 0, storage.size());
    fm->fm_start = start;
    fm->fm_length = FIEMAP_MAX_OFFSET - start;
    fm->fm_flags = sync ? FIEMAP_FLAG_SYNC : 0;
    fm->fm_extent_count = kExtentsPerCall;
    if (ioctl(fd, FS_IOC_FIEMAP, fm) < 0) {
      throw MakeErrnoError(env, errno, "ioctl FS_IOC_FIEMAP fd " + std::to_string(fd));
    }
    if (fm->fm_mapped_extents == 0) break;
    bool last = false;
    for (uint32_t i = 0; i < fm->fm_mapped_extents; ++i) {
      const struct fiemap_extent& e = fm->fm_extents[i];
      out.push_back(static_cast<double>(e.fe_logical));
      out.push_back(static_cast<double>(e.fe_physical));
      out.push_back(static_cast<double>(e.fe_length));
      out.push_back(static_cast<double>(e.fe_flags));
      start = e.fe_logical + e.fe_length;
      if (e.fe_flags & FIEMAP_EXTENT_LAST) last = true;
    }
    if (last || out.size() / 4 >= kMaxExtents) break;
  }
  Napi::Float64Array result = Napi::Float64Array::New(env, out.size());
  if (!out.empty()) memcpy(result.Data(), out.data(), out.size() * sizeof(double));
  return result;
}

}  // namespace ublk
