// The ublk control device: commands are URING_CMDs in 128-byte SQEs on a
// small ring of their own, completing through the event loop (START_DEV,
// DEL_DEV and END_USER_RECOVERY can sleep in the kernel for a long time while
// our queues must keep serving). The ioctl-encoded opcode goes first; for
// nr <= 0x12 any error but -EBUSY is retried once with the legacy number
// (kernels before 6.4 know only those).
#include <errno.h>
#include <fcntl.h>
#include <unistd.h>

#include <cassert>
#include <cstring>
#include <string>

#include "ctrl.h"
#include "uapi/ublk_cmd.h"

namespace ublk {

namespace {

enum class Payload { kNone, kFeatures, kDevInfo, kParamsIn, kParamsOut };

struct CmdSpec {
  const char* name;
  uint32_t nr;
  bool read_only;  // _IOR rather than _IOWR
  Payload payload;
};

constexpr CmdSpec kCmds[] = {
    {"GET_FEATURES", kCmdGetFeatures, true, Payload::kFeatures},
    {"ADD_DEV", kCmdAddDev, false, Payload::kDevInfo},
    {"SET_PARAMS", kCmdSetParams, false, Payload::kParamsIn},
    {"GET_PARAMS", kCmdGetParams, true, Payload::kParamsOut},
    {"GET_DEV_INFO", kCmdGetDevInfo, true, Payload::kDevInfo},
    {"START_DEV", kCmdStartDev, false, Payload::kNone},
    {"STOP_DEV", kCmdStopDev, false, Payload::kNone},
    {"DEL_DEV", kCmdDelDev, false, Payload::kNone},
    {"START_USER_RECOVERY", kCmdStartUserRecovery, false, Payload::kNone},
    {"END_USER_RECOVERY", kCmdEndUserRecovery, false, Payload::kNone},
    {"UPDATE_SIZE", kCmdUpdateSize, false, Payload::kNone},
};

const CmdSpec* FindCmd(const std::string& name) {
  for (const CmdSpec& c : kCmds) {
    if (name == c.name) return &c;
  }
  return nullptr;
}

void FillCtrlSqe(io_uring_sqe* sqe, int ctrl_fd, const CmdSpec& spec, bool legacy, uint32_t dev_id,
                 uint64_t data0, uint64_t addr, uint16_t len) {
  sqe->opcode = IORING_OP_URING_CMD;
  sqe->fd = ctrl_fd;
  sqe->cmd_op = legacy ? spec.nr : CtrlIoctl(spec.nr, spec.read_only);
  auto* cmd = reinterpret_cast<ublksrv_ctrl_cmd*>(reinterpret_cast<uint8_t*>(sqe) + 48);
  cmd->dev_id = dev_id;
  cmd->queue_id = 0xFFFF;  // ADD_DEV rejects anything else
  cmd->len = len;
  cmd->addr = addr;
  cmd->data[0] = data0;
}

uint32_t GetU32(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (!v.IsNumber()) throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a number");
  return v.As<Napi::Number>().Uint32Value();
}

uint64_t GetU64(Napi::Object o, const char* key) {
  Napi::Value v = o.Get(key);
  if (v.IsBigInt()) {
    bool lossless = true;
    return v.As<Napi::BigInt>().Uint64Value(&lossless);
  }
  if (v.IsNumber()) return static_cast<uint64_t>(v.As<Napi::Number>().DoubleValue());
  throw Napi::TypeError::New(o.Env(), std::string(key) + " must be a bigint or number");
}

Napi::Object DevInfoToJs(Napi::Env env, const ublksrv_ctrl_dev_info& d) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("nrHwQueues", d.nr_hw_queues);
  o.Set("queueDepth", d.queue_depth);
  o.Set("state", d.state);
  o.Set("maxIoBufBytes", d.max_io_buf_bytes);
  o.Set("devId", d.dev_id);
  o.Set("ublksrvPid", d.ublksrv_pid);
  o.Set("flags", Napi::BigInt::New(env, d.flags));
  o.Set("ublksrvFlags", Napi::BigInt::New(env, d.ublksrv_flags));
  o.Set("ownerUid", d.owner_uid);
  o.Set("ownerGid", d.owner_gid);
  return o;
}

Napi::Object ParamsToJs(Napi::Env env, const ublk_params& p) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("types", p.types);
  if (p.types & kParamTypeBasic) {
    Napi::Object b = Napi::Object::New(env);
    b.Set("attrs", p.basic.attrs);
    b.Set("logicalBsShift", p.basic.logical_bs_shift);
    b.Set("physicalBsShift", p.basic.physical_bs_shift);
    b.Set("ioOptShift", p.basic.io_opt_shift);
    b.Set("ioMinShift", p.basic.io_min_shift);
    b.Set("maxSectors", p.basic.max_sectors);
    b.Set("chunkSectors", p.basic.chunk_sectors);
    b.Set("devSectors", static_cast<double>(p.basic.dev_sectors));
    b.Set("virtBoundaryMask", static_cast<double>(p.basic.virt_boundary_mask));
    o.Set("basic", b);
  }
  if (p.types & kParamTypeDiscard) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("discardAlignment", p.discard.discard_alignment);
    d.Set("discardGranularity", p.discard.discard_granularity);
    d.Set("maxDiscardSectors", p.discard.max_discard_sectors);
    d.Set("maxWriteZeroesSectors", p.discard.max_write_zeroes_sectors);
    d.Set("maxDiscardSegments", p.discard.max_discard_segments);
    o.Set("discard", d);
  }
  if (p.types & kParamTypeDevt) {
    Napi::Object d = Napi::Object::New(env);
    d.Set("charMajor", p.devt.char_major);
    d.Set("charMinor", p.devt.char_minor);
    d.Set("diskMajor", p.devt.disk_major);
    d.Set("diskMinor", p.devt.disk_minor);
    o.Set("devt", d);
  }
  return o;
}

// Fills params from {basic?, discard?}; returns the bytes to pass (through
// the last sub-struct present, so every kernel generation accepts it).
uint16_t ParamsFromJs(Napi::Object o, ublk_params* p) {
  memset(p, 0, sizeof *p);
  uint16_t len = 8;
  Napi::Value bv = o.Get("basic");
  if (bv.IsObject()) {
    Napi::Object b = bv.As<Napi::Object>();
    p->types |= kParamTypeBasic;
    p->basic.attrs = GetU32(b, "attrs");
    p->basic.logical_bs_shift = static_cast<uint8_t>(GetU32(b, "logicalBsShift"));
    p->basic.physical_bs_shift = static_cast<uint8_t>(GetU32(b, "physicalBsShift"));
    p->basic.io_opt_shift = static_cast<uint8_t>(GetU32(b, "ioOptShift"));
    p->basic.io_min_shift = static_cast<uint8_t>(GetU32(b, "ioMinShift"));
    p->basic.max_sectors = GetU32(b, "maxSectors");
    p->basic.chunk_sectors = GetU32(b, "chunkSectors");
    p->basic.dev_sectors = GetU64(b, "devSectors");
    p->basic.virt_boundary_mask = GetU64(b, "virtBoundaryMask");
    len = offsetof(ublk_params, discard);
  }
  Napi::Value dv = o.Get("discard");
  if (dv.IsObject()) {
    Napi::Object d = dv.As<Napi::Object>();
    p->types |= kParamTypeDiscard;
    p->discard.discard_alignment = GetU32(d, "discardAlignment");
    p->discard.discard_granularity = GetU32(d, "discardGranularity");
    p->discard.max_discard_sectors = GetU32(d, "maxDiscardSectors");
    p->discard.max_write_zeroes_sectors = GetU32(d, "maxWriteZeroesSectors");
    p->discard.max_discard_segments = static_cast<uint16_t>(GetU32(d, "maxDiscardSegments"));
    len = offsetof(ublk_params, devt);
  }
  p->len = len;
  return len;
}

// One control command in flight. Owns its IN/OUT buffer: it must outlive the
// kernel's use of it even when the JS side gave up waiting (timeout).
class CtrlOp : public Completion {
 public:
  CtrlOp(Napi::Env env, CtrlRingWrap* owner, const CmdSpec& spec, uint32_t dev_id, uint64_t data0)
      : deferred_(Napi::Promise::Deferred::New(env)), owner_(owner), spec_(spec), dev_id_(dev_id), data0_(data0) {
    memset(&buf_, 0, sizeof buf_);
    memset(&saved_, 0, sizeof saved_);
    owner_->Hold();
  }
  union Buf {
    uint64_t features;
    ublksrv_ctrl_dev_info info;
    ublk_params params;
  };
  Buf* buf() { return &buf_; }
  void set_len(uint16_t len) { len_ = len; }
  Napi::Promise promise() const { return deferred_.Promise(); }
  void Discard() {
    CtrlRingWrap* owner = owner_;
    delete this;
    owner->Release();
  }

  void Submit(EventRing& ring, int ctrl_fd) {
    saved_ = buf_;  // a legacy retry resends the original input
    io_uring_sqe* sqe = ring.Sqe();
    uint64_t addr = len_ > 0 ? reinterpret_cast<uint64_t>(&buf_) : 0;
    FillCtrlSqe(sqe, ctrl_fd, spec_, legacy_, dev_id_, data0_, addr, len_);
    ring.Track(sqe, this);
  }

  void OnCqe(Napi::Env env, int32_t res) override {
    if (res < 0 && !legacy_ && res != -EBUSY && spec_.nr <= kLegacyCmdMax && !owner_->closed()) {
      legacy_ = true;
      buf_ = saved_;
      try {
        Submit(owner_->ring(), owner_->ctrl_fd());
        return;
      } catch (const Napi::Error&) {
        legacy_ = false;  // could not resend: report the original error below
      }
    }
    if (res < 0) {
      std::string what = std::string("ublk ") + spec_.name + " (dev " +
                         (dev_id_ == 0xFFFFFFFFu ? std::string("new") : std::to_string(dev_id_)) + ")";
      deferred_.Reject(MakeErrnoError(env, -res, what).Value());
    } else {
      deferred_.Resolve(Decode(env));
    }
    CtrlRingWrap* owner = owner_;
    delete this;
    owner->Release();
  }

 private:
  Napi::Value Decode(Napi::Env env) {
    switch (spec_.payload) {
      case Payload::kFeatures:
        return Napi::BigInt::New(env, buf_.features);
      case Payload::kDevInfo:
        return DevInfoToJs(env, buf_.info);
      case Payload::kParamsOut:
        return ParamsToJs(env, buf_.params);
      default:
        return env.Undefined();
    }
  }

  Napi::Promise::Deferred deferred_;
  CtrlRingWrap* owner_;
  const CmdSpec& spec_;
  uint32_t dev_id_;
  uint64_t data0_;
  bool legacy_ = false;
  uint16_t len_ = 0;
  Buf buf_;
  Buf saved_;
};

}  // namespace

Napi::Function CtrlRingWrap::Init(Napi::Env env) {
  return DefineClass(env, "CtrlRing",
                     {
                         InstanceMethod<&CtrlRingWrap::Command>("command"),
                         InstanceMethod<&CtrlRingWrap::Close>("close"),
                         InstanceMethod<&CtrlRingWrap::AllowExit>("unref"),
                     });
}

CtrlRingWrap::CtrlRingWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<CtrlRingWrap>(info) {
  Napi::Env env = info.Env();
  std::string path = info[0].As<Napi::String>().Utf8Value();
  int fd = open(path.c_str(), O_RDWR | O_CLOEXEC);
  if (fd < 0) throw MakeErrnoError(env, errno, "open " + path);
  fd_ = Fd(fd);
  Ring::Options options;
  options.entries = 32;
  options.flags = IORING_SETUP_SQE128;  // control commands need the 80-byte cmd area
  try {
    ring_ = std::make_unique<EventRing>(env, options);
  } catch (const SysError& e) {
    throw MakeErrnoError(env, e.err, e.what);
  }
}

CtrlRingWrap::~CtrlRingWrap() = default;

void CtrlRingWrap::Hold() {
  if (holds_++ == 0) Ref();
}

void CtrlRingWrap::Release() {
  assert(holds_ > 0);
  if (--holds_ == 0) Unref();
}

Napi::Value CtrlRingWrap::Command(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed()) throw Napi::Error::New(env, "ublk control is closed");
  std::string name = info[0].As<Napi::String>().Utf8Value();
  const CmdSpec* spec = FindCmd(name);
  if (spec == nullptr) throw Napi::TypeError::New(env, "unknown ublk control command " + name);
  uint32_t dev_id = info[1].As<Napi::Number>().Uint32Value();
  uint64_t data0 = static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue());
  auto* op = new CtrlOp(env, this, *spec, dev_id, data0);
  try {
    switch (spec->payload) {
      case Payload::kFeatures:
        op->set_len(sizeof(uint64_t));  // GET_FEATURES wants exactly 8
        break;
      case Payload::kDevInfo:
        op->set_len(sizeof(ublksrv_ctrl_dev_info));
        if (spec->nr == kCmdAddDev) {
          Napi::Object p = info[3].As<Napi::Object>();
          ublksrv_ctrl_dev_info& d = op->buf()->info;
          d.dev_id = dev_id;
          d.nr_hw_queues = static_cast<uint16_t>(GetU32(p, "nrHwQueues"));
          d.queue_depth = static_cast<uint16_t>(GetU32(p, "queueDepth"));
          d.max_io_buf_bytes = GetU32(p, "maxIoBufBytes");
          d.flags = GetU64(p, "flags");
          d.ublksrv_flags = GetU64(p, "ublksrvFlags");
        }
        break;
      case Payload::kParamsIn:
        op->set_len(ParamsFromJs(info[3].As<Napi::Object>(), &op->buf()->params));
        break;
      case Payload::kParamsOut:
        op->buf()->params.len = sizeof(ublk_params);
        op->set_len(sizeof(ublk_params));
        break;
      case Payload::kNone:
        break;
    }
    op->Submit(*ring_, fd_.get());
  } catch (...) {
    op->Discard();  // never submitted and its promise never returned
    throw;
  }
  return op->promise();
}

Napi::Value EncodeCtrlSqe(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  const CmdSpec* spec = FindCmd(info[0].As<Napi::String>().Utf8Value());
  if (spec == nullptr) throw Napi::TypeError::New(env, "unknown ublk control command");
  Napi::Buffer<uint8_t> out = Napi::Buffer<uint8_t>::New(env, 128);
  memset(out.Data(), 0, 128);
  FillCtrlSqe(reinterpret_cast<io_uring_sqe*>(out.Data()), -1, *spec, info[5].ToBoolean().Value(),
              info[1].As<Napi::Number>().Uint32Value(),
              static_cast<uint64_t>(info[2].As<Napi::Number>().DoubleValue()),
              static_cast<uint64_t>(info[3].As<Napi::Number>().DoubleValue()),
              static_cast<uint16_t>(info[4].As<Napi::Number>().Uint32Value()));
  return out;
}

// Pending commands stop keeping the process alive (used after a timeout).
Napi::Value CtrlRingWrap::AllowExit(const Napi::CallbackInfo& info) {
  if (!closed()) ring_->SetKeepAlive(false);
  return info.Env().Undefined();
}

Napi::Value CtrlRingWrap::Close(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (closed()) return env.Undefined();
  if (ring_->inflight() > 0) {
    throw Napi::Error::New(env, "ublk control close: " + std::to_string(ring_->inflight()) + " commands in flight");
  }
  ring_->Close();
  fd_.Reset();
  return env.Undefined();
}

}  // namespace ublk
