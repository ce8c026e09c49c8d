// packedReadProbe: the packed read path's own code (lookups, pool reads on an
// IoRing, decode and verify) driven without ublk, for host tests: a READ of
// `blocks` blocks at `lba` lands in `out`, or the path says it would hand the
// request to JS. The probe's host stands in for the queue: it resolves a
// promise where the queue would commit or deliver to JS.
//
// As on a device, one path serves every probe of the same tables, ring and
// pool, and a read takes the lowest idle tag: back-to-back reads reuse tag 0
// and whatever per-tag state the path keeps, which is where a request can
// see what the previous request on its tag left behind.
#include <memory>
#include <vector>

#include <errno.h>
#include <fcntl.h>
#include <sys/stat.h>

#include "io-ring.h"
#include "packed-read.h"
#include "packed-tables.h"

namespace ublk {

namespace {

constexpr uint16_t kProbeDepth = 4;
// Larger reads go to JS, as requests over a queue's io buffer size do.
constexpr uint64_t kProbeMaxRequestBytes = 8u << 20;

class Probe : public DirectHost {
 public:
  Probe(Napi::Env env, Napi::Object tables_obj, PackedTables* tables, Napi::Object ring_obj, Fd pool,
        const PackedReadConfig& config, dev_t dev, ino_t ino)
      : tables(tables), ring(&Napi::ObjectWrap<IoRingWrap>::Unwrap(ring_obj)->ring(env)), config(config),
        dev(dev), ino(ino), waiting(kProbeDepth), out_refs(kProbeDepth),
        path(this, kProbeDepth, tables, std::move(pool), config) {
    // Held so that neither object (nor its address, the key) is reused while the probe lives.
    tables_ref = Napi::Persistent(tables_obj);
    ring_ref = Napi::Persistent(ring_obj);
  }
  void DirectDone(Napi::Env env, uint16_t tag, int32_t result) override { Settle(tag, Napi::Number::New(env, result)); }
  void DirectToJs(Napi::Env env, uint16_t tag) override { Settle(tag, Napi::String::New(env, "js")); }

  void Settle(uint16_t tag, Napi::Value v) {
    std::unique_ptr<Napi::Promise::Deferred> d = std::move(waiting[tag]);
    out_refs[tag].Reset();
    if (d) d->Resolve(v);
  }
  // The lowest tag with no read in progress, or -1.
  int IdleTag() const {
    for (uint16_t t = 0; t < kProbeDepth; ++t) {
      if (!waiting[t]) return t;
    }
    return -1;
  }

  PackedTables* tables;
  EventRing* ring;
  PackedReadConfig config;
  dev_t dev;
  ino_t ino;
  Napi::ObjectReference tables_ref;
  Napi::ObjectReference ring_ref;
  std::vector<std::unique_ptr<Napi::Promise::Deferred>> waiting;
  std::vector<Napi::ObjectReference> out_refs;
  PackedReadPath path;
};

std::vector<std::unique_ptr<Probe>> probes;
bool cleanup_registered = false;

// The probes hold references into the environment: drop them before it goes.
void DropProbes(void*) {
  probes.clear();
  cleanup_registered = false;
}

bool AllIdle(const Probe& p) {
  for (const auto& w : p.waiting) {
    if (w) return false;
  }
  return p.path.inflight() == 0;
}

}  // namespace

// packedReadProbe(tables, ring, poolFd, dataOffset, segmentBytes, lba, blocks, out,
//   inlineReads) -> Promise<bytes | 'js'>
Napi::Value PackedReadProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object tables_obj = info[0].As<Napi::Object>();
  PackedTables* tables = PackedTablesWrap::Unwrap(tables_obj)->tables();
  Napi::Object ring_obj = info[1].As<Napi::Object>();
  EventRing& ring = Napi::ObjectWrap<IoRingWrap>::Unwrap(ring_obj)->ring(env);
  int pool_fd = info[2].As<Napi::Number>().Int32Value();
  PackedReadConfig config;
  config.data_offset = static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue());
  config.segment_bytes = static_cast<uint64_t>(info[4].As<Napi::Number>().DoubleValue());
  config.max_request_bytes = kProbeMaxRequestBytes;
  uint64_t lba = static_cast<uint64_t>(info[5].As<Napi::Number>().DoubleValue());
  uint32_t blocks = info[6].As<Napi::Number>().Uint32Value();
  Napi::Buffer<uint8_t> out = info[7].As<Napi::Buffer<uint8_t>>();
  config.inline_reads = info.Length() > 8 && info[8].ToBoolean().Value();
  if (blocks == 0 || out.Length() < static_cast<size_t>(blocks) * 4096 || config.segment_bytes == 0) {
    throw Napi::RangeError::New(env, "packedReadProbe: bad blocks, out or segmentBytes");
  }
  struct stat st {};
  if (fstat(pool_fd, &st) != 0) throw MakeErrnoError(env, errno, "packedReadProbe: fstat pool");

  Probe* probe = nullptr;
  for (size_t i = 0; i < probes.size();) {
    Probe& p = *probes[i];
    bool same = p.tables == tables && p.ring == &ring && p.config.data_offset == config.data_offset &&
                p.config.segment_bytes == config.segment_bytes && p.config.inline_reads == config.inline_reads;
    if (same && p.dev == st.st_dev && p.ino == st.st_ino) {
      probe = &p;
      ++i;
    } else if (same && AllIdle(p)) {
      probes.erase(probes.begin() + static_cast<long>(i));  // the pool was reopened as another file
    } else {
      ++i;
    }
  }
  if (probe == nullptr) {
    if (!cleanup_registered) {
      napi_status status = napi_add_env_cleanup_hook(env, DropProbes, nullptr);
      if (status != napi_ok) throw Napi::Error::New(env, "packedReadProbe: napi_add_env_cleanup_hook failed");
      cleanup_registered = true;
    }
    Fd pool(fcntl(pool_fd, F_DUPFD_CLOEXEC, 0));
    if (pool.get() < 0) throw MakeErrnoError(env, errno, "packedReadProbe: fcntl F_DUPFD_CLOEXEC");
    probes.push_back(std::make_unique<Probe>(env, tables_obj, tables, ring_obj, std::move(pool), config, st.st_dev, st.st_ino));
    probe = probes.back().get();
  }
  int tag = probe->IdleTag();
  if (tag < 0) throw Napi::Error::New(env, "packedReadProbe: more reads at once than the probe's queue depth");
  auto deferred = std::make_unique<Napi::Promise::Deferred>(Napi::Promise::Deferred::New(env));
  Napi::Promise promise = deferred->Promise();
  probe->waiting[tag] = std::move(deferred);
  probe->out_refs[tag] = Napi::Persistent(out.As<Napi::Object>());
  ublksrv_io_desc iod{};
  iod.op_flags = kIoOpRead;
  iod.nr_sectors = blocks * 8;
  iod.start_sector = lba * 8;
  uint16_t t = static_cast<uint16_t>(tag);
  if (!probe->path.Start(env, ring, t, iod, out.Data())) probe->Settle(t, Napi::String::New(env, "js"));
  return promise;
}

// packedReadProbeClose(tables): frees the idle probes of `tables` (and their
// references to it and its ring); false when one still has a read in flight.
Napi::Value PackedReadProbeClose(const Napi::CallbackInfo& info) {
  PackedTables* tables = PackedTablesWrap::Unwrap(info[0].As<Napi::Object>())->tables();
  bool all = true;
  for (size_t i = 0; i < probes.size();) {
    if (probes[i]->tables != tables) {
      ++i;
    } else if (AllIdle(*probes[i])) {
      probes.erase(probes.begin() + static_cast<long>(i));
    } else {
      all = false;
      ++i;
    }
  }
  return Napi::Boolean::New(info.Env(), all);
}

}  // namespace ublk
