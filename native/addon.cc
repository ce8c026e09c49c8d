// Module entry: registers the classes and functions src/native/index.ts wraps.
#include <errno.h>
#include <linux/io_uring.h>
#include <napi.h>
#include <sys/prctl.h>

#include <cstddef>

#include "codec-batch.h"
#include "ctrl.h"
#include "extent-map.h"
#include "fiemap.h"
#include "file-lock.h"
#include "io-ring.h"
#include "notify.h"
#include "open-guard.h"
#include "packed-read.h"
#include "packed-tables.h"
#include "queue.h"
#include "uapi/ublk_cmd.h"
#include "write-apply.h"

#ifndef PR_SET_IO_FLUSHER
#define PR_SET_IO_FLUSHER 57
#endif

namespace ublk {

namespace {

Napi::Value SetIoFlusher(const Napi::CallbackInfo& info) {
  if (prctl(PR_SET_IO_FLUSHER, 1, 0, 0, 0) != 0) throw MakeErrnoError(info.Env(), errno, "prctl(PR_SET_IO_FLUSHER)");
  return info.Env().Undefined();
}

#define OFF(obj, type, field) obj.Set(#field, Napi::Number::New(env, offsetof(type, field)))

Napi::Object Layout(Napi::Env env, size_t size, Napi::Object offsets) {
  Napi::Object o = Napi::Object::New(env);
  o.Set("size", Napi::Number::New(env, static_cast<double>(size)));
  o.Set("offsets", offsets);
  return o;
}

Napi::Value Abi(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  Napi::Object structs = Napi::Object::New(env);

  Napi::Object c = Napi::Object::New(env);
  OFF(c, ublksrv_ctrl_cmd, dev_id);
  OFF(c, ublksrv_ctrl_cmd, queue_id);
  OFF(c, ublksrv_ctrl_cmd, len);
  OFF(c, ublksrv_ctrl_cmd, addr);
  OFF(c, ublksrv_ctrl_cmd, data);
  OFF(c, ublksrv_ctrl_cmd, dev_path_len);
  structs.Set("ctrlCmd", Layout(env, sizeof(ublksrv_ctrl_cmd), c));

  Napi::Object d = Napi::Object::New(env);
  OFF(d, ublksrv_ctrl_dev_info, nr_hw_queues);
  OFF(d, ublksrv_ctrl_dev_info, queue_depth);
  OFF(d, ublksrv_ctrl_dev_info, state);
  OFF(d, ublksrv_ctrl_dev_info, max_io_buf_bytes);
  OFF(d, ublksrv_ctrl_dev_info, dev_id);
  OFF(d, ublksrv_ctrl_dev_info, ublksrv_pid);
  OFF(d, ublksrv_ctrl_dev_info, flags);
  OFF(d, ublksrv_ctrl_dev_info, ublksrv_flags);
  OFF(d, ublksrv_ctrl_dev_info, owner_uid);
  OFF(d, ublksrv_ctrl_dev_info, owner_gid);
  structs.Set("devInfo", Layout(env, sizeof(ublksrv_ctrl_dev_info), d));

  Napi::Object p = Napi::Object::New(env);
  OFF(p, ublk_params, len);
  OFF(p, ublk_params, types);
  OFF(p, ublk_params, basic);
  OFF(p, ublk_params, discard);
  OFF(p, ublk_params, devt);
  OFF(p, ublk_params, zoned);
  OFF(p, ublk_params, dma);
  OFF(p, ublk_params, seg);
  p.Set("basic.dev_sectors", Napi::Number::New(env, offsetof(ublk_params, basic) + offsetof(ublk_param_basic, dev_sectors)));
  p.Set("discard.max_discard_segments",
        Napi::Number::New(env, offsetof(ublk_params, discard) + offsetof(ublk_param_discard, max_discard_segments)));
  structs.Set("params", Layout(env, sizeof(ublk_params), p));

  Napi::Object iod = Napi::Object::New(env);
  OFF(iod, ublksrv_io_desc, op_flags);
  OFF(iod, ublksrv_io_desc, nr_sectors);
  OFF(iod, ublksrv_io_desc, start_sector);
  OFF(iod, ublksrv_io_desc, addr);
  structs.Set("ioDesc", Layout(env, sizeof(ublksrv_io_desc), iod));

  Napi::Object ioc = Napi::Object::New(env);
  OFF(ioc, ublksrv_io_cmd, q_id);
  OFF(ioc, ublksrv_io_cmd, tag);
  OFF(ioc, ublksrv_io_cmd, result);
  OFF(ioc, ublksrv_io_cmd, addr);
  structs.Set("ioCmd", Layout(env, sizeof(ublksrv_io_cmd), ioc));

  Napi::Object sqe = Napi::Object::New(env);
  OFF(sqe, io_uring_sqe, opcode);
  OFF(sqe, io_uring_sqe, fd);
  OFF(sqe, io_uring_sqe, cmd_op);
  OFF(sqe, io_uring_sqe, addr);
  OFF(sqe, io_uring_sqe, len);
  OFF(sqe, io_uring_sqe, user_data);
  OFF(sqe, io_uring_sqe, buf_index);
  OFF(sqe, io_uring_sqe, cmd);
  sqe.Set("IORING_OP_URING_CMD", Napi::Number::New(env, IORING_OP_URING_CMD));
  structs.Set("sqe", Layout(env, sizeof(io_uring_sqe), sqe));

  struct Named { const char* name; uint32_t nr; bool read_only; };
  const Named ctrl[] = {
      {"GET_QUEUE_AFFINITY", kCmdGetQueueAffinity, true}, {"GET_DEV_INFO", kCmdGetDevInfo, true},
      {"ADD_DEV", kCmdAddDev, false}, {"DEL_DEV", kCmdDelDev, false}, {"START_DEV", kCmdStartDev, false},
      {"STOP_DEV", kCmdStopDev, false}, {"SET_PARAMS", kCmdSetParams, false},
      {"GET_PARAMS", kCmdGetParams, true}, {"START_USER_RECOVERY", kCmdStartUserRecovery, false},
      {"END_USER_RECOVERY", kCmdEndUserRecovery, false}, {"GET_DEV_INFO2", kCmdGetDevInfo2, true},
      {"GET_FEATURES", kCmdGetFeatures, true},
  };
  Napi::Object ioctl = Napi::Object::New(env);
  Napi::Object legacy = Napi::Object::New(env);
  for (const Named& n : ctrl) {
    ioctl.Set(n.name, Napi::Number::New(env, CtrlIoctl(n.nr, n.read_only)));
    if (n.nr <= kLegacyCmdMax) legacy.Set(n.name, Napi::Number::New(env, n.nr));
  }
  ioctl.Set("FETCH_REQ", Napi::Number::New(env, IoIoctl(kIoFetchReq)));
  ioctl.Set("COMMIT_AND_FETCH_REQ", Napi::Number::New(env, IoIoctl(kIoCommitAndFetchReq)));
  ioctl.Set("NEED_GET_DATA", Napi::Number::New(env, IoIoctl(kIoNeedGetData)));
  legacy.Set("FETCH_REQ", Napi::Number::New(env, kIoFetchReq));
  legacy.Set("COMMIT_AND_FETCH_REQ", Napi::Number::New(env, kIoCommitAndFetchReq));

  // Zero copy: sqe->addr of FETCH/COMMIT for slot 5 with FALLBACK, and the
  // user-copy offset of queue 2, tag 3 (samples the test checks).
  Napi::Object zc = Napi::Object::New(env);
  zc.Set("autoBufRegAddr", Napi::Number::New(env, static_cast<double>(AutoBufRegAddr(5, kAutoBufRegFallback))));
  zc.Set("userCopyPos", Napi::Number::New(env, static_cast<double>(UserCopyPos(2, 3))));
  zc.Set("needRegBuf", Napi::Number::New(env, kIoFNeedRegBuf));
  zc.Set("readFixed", Napi::Number::New(env, IORING_OP_READ_FIXED));
  zc.Set("writeFixed", Napi::Number::New(env, IORING_OP_WRITE_FIXED));

  Napi::Object abi = Napi::Object::New(env);
  abi.Set("structs", structs);
  abi.Set("ioctl", ioctl);
  abi.Set("legacy", legacy);
  abi.Set("zeroCopy", zc);
  return abi;
}

}  // namespace

Napi::Object Init(Napi::Env env, Napi::Object exports) {
  exports.Set("IoRing", IoRingWrap::Init(env));
  exports.Set("CtrlRing", CtrlRingWrap::Init(env));
  exports.Set("UblkQueue", UblkQueueWrap::Init(env));
  exports.Set("FileLock", FileLockWrap::Init(env));
  exports.Set("fiemap", Napi::Function::New(env, Fiemap, "fiemap"));
  exports.Set("DirectMap", ExtentMapWrap::Init(env));
  exports.Set("OpenGuard", OpenGuardWrap::Init(env));
  exports.Set("PackedTables", PackedTablesWrap::Init(env));
  exports.Set("WriteApply", WriteApplyWrap::Init(env));
  exports.Set("packedReadProbe", Napi::Function::New(env, PackedReadProbe, "packedReadProbe"));
  exports.Set("packedReadProbeClose", Napi::Function::New(env, PackedReadProbeClose, "packedReadProbeClose"));
  exports.Set("encodeCtrlSqe", Napi::Function::New(env, EncodeCtrlSqe, "encodeCtrlSqe"));
  exports.Set("setIoFlusher", Napi::Function::New(env, SetIoFlusher, "setIoFlusher"));
  exports.Set("blkDiscard", Napi::Function::New(env, BlkDiscard, "blkDiscard"));
  exports.Set("blockDeviceBytes", Napi::Function::New(env, BlockDeviceBytes, "blockDeviceBytes"));
  exports.Set("abi", Napi::Function::New(env, Abi, "abi"));
  exports.Set("sdNotify", Napi::Function::New(env, SdNotify, "sdNotify"));
  InitCodecBatch(env, exports);
  return exports;
}

}  // namespace ublk

static Napi::Object InitAll(Napi::Env env, Napi::Object exports) { return ublk::Init(env, exports); }

NODE_API_MODULE(ublk_native, InitAll)
