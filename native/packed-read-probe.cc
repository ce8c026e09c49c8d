// packedReadProbe: the packed read path's own code (lookups, pool reads on an
// IoRing, decode and verify) driven without ublk, for host tests: a READ of
// `blocks` blocks at `lba` lands in `out`, or the path says it would hand the
// request to JS. The probe's host stands in for the queue: it resolves a
// promise where the queue would commit or deliver to JS.
#include <memory>
#include <vector>

#include <errno.h>
#include <fcntl.h>

#include "io-ring.h"
#include "packed-read.h"
#include "packed-tables.h"

namespace ublk {

namespace {

class Probe : public DirectHost {
 public:
  Probe(Napi::Env env, PackedTables* tables, Fd pool, const PackedReadConfig& config)
      : deferred(Napi::Promise::Deferred::New(env)), path(this, 1, tables, std::move(pool), config) {}
  void DirectDone(Napi::Env env, uint16_t, int32_t result) override { Settle(env, Napi::Number::New(env, result)); }
  void DirectToJs(Napi::Env env, uint16_t) override { Settle(env, Napi::String::New(env, "js")); }
  void Settle(Napi::Env env, Napi::Value v) {
    done = true;
    deferred.Resolve(v);
  }

  Napi::Promise::Deferred deferred;
  Napi::ObjectReference out_ref;
  Napi::ObjectReference ring_ref;
  PackedReadPath path;
  bool done = false;
};

// Probes whose reads ended; freed on the next call (never inside their own callback).
std::vector<std::unique_ptr<Probe>> probes;

}  // namespace

// packedReadProbe(tables, ring, poolFd, dataOffset, segmentBytes, lba, blocks, out,
//   inlineReads) -> Promise<bytes | 'js'>
Napi::Value PackedReadProbe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  for (size_t i = 0; i < probes.size();) {
    if (probes[i]->done && probes[i]->path.inflight() == 0) probes.erase(probes.begin() + static_cast<long>(i));
    else ++i;
  }
  PackedTables* tables = PackedTablesWrap::Unwrap(info[0].As<Napi::Object>())->tables();
  Napi::Object ring_obj = info[1].As<Napi::Object>();
  EventRing& ring = Napi::ObjectWrap<IoRingWrap>::Unwrap(ring_obj)->ring(env);
  int pool_fd = info[2].As<Napi::Number>().Int32Value();
  PackedReadConfig config;
  config.data_offset = static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue());
  config.segment_bytes = static_cast<uint64_t>(info[4].As<Napi::Number>().DoubleValue());
  uint64_t lba = static_cast<uint64_t>(info[5].As<Napi::Number>().DoubleValue());
  uint32_t blocks = info[6].As<Napi::Number>().Uint32Value();
  Napi::Buffer<uint8_t> out = info[7].As<Napi::Buffer<uint8_t>>();
  config.max_request_bytes = out.Length();
  config.inline_reads = info.Length() > 8 && info[8].ToBoolean().Value();
  if (blocks == 0 || out.Length() < static_cast<size_t>(blocks) * 4096 || config.segment_bytes == 0) {
    throw Napi::RangeError::New(env, "packedReadProbe: bad blocks, out or segmentBytes");
  }
  Fd pool(fcntl(pool_fd, F_DUPFD_CLOEXEC, 0));
  if (pool.get() < 0) throw MakeErrnoError(env, errno, "packedReadProbe: fcntl F_DUPFD_CLOEXEC");
  auto probe = std::make_unique<Probe>(env, tables, std::move(pool), config);
  probe->out_ref = Napi::Persistent(out.As<Napi::Object>());
  probe->ring_ref = Napi::Persistent(ring_obj);
  ublksrv_io_desc iod{};
  iod.op_flags = kIoOpRead;
  iod.nr_sectors = blocks * 8;
  iod.start_sector = lba * 8;
  Napi::Promise promise = probe->deferred.Promise();
  if (!probe->path.Start(env, ring, 0, iod, out.Data())) probe->Settle(env, Napi::String::New(env, "js"));
  probes.push_back(std::move(probe));
  return promise;
}

}  // namespace ublk
