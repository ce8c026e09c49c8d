// Whole-file locks for "one daemon per pool": flock(2) on the pool or backing
// file itself, so every path that reaches the same inode (symlink, hard link,
// bind mount) meets the same lock, and the kernel drops it when the holder
// dies. A block device is also opened O_EXCL, which claims the device itself
// (any node naming it, and refused while it is mounted).
//
//   new FileLock(path, { exclusive, create, mode, claimDevice })
//     create: O_CREAT|O_EXCL|O_NOFOLLOW with `mode` (a new file, never an
//     existing one); otherwise the path must exist. The lock is taken without
//     blocking: a held lock throws EWOULDBLOCK. Errors carry errno and code.
//   .dev .ino .rdev .isBlockDevice   what was locked (fstat of the descriptor)
//   .release()                       closes the descriptor (idempotent)
#include "file-lock.h"

#include <errno.h>
#include <fcntl.h>
#include <sys/file.h>
#include <sys/stat.h>
#include <unistd.h>

#include <string>

#include "event-ring.h"

namespace ublk {

namespace {

// Closes on every early exit until ownership moves to the wrapper.
class FdGuard {
 public:
  explicit FdGuard(int fd) : fd_(fd) {}
  ~FdGuard() {
    if (fd_ >= 0) ::close(fd_);
  }
  FdGuard(const FdGuard&) = delete;
  FdGuard& operator=(const FdGuard&) = delete;
  int get() const { return fd_; }
  int release() {
    int fd = fd_;
    fd_ = -1;
    return fd;
  }
  void reset(int fd) {
    if (fd_ >= 0) ::close(fd_);
    fd_ = fd;
  }

 private:
  int fd_;
};

bool OptBool(const Napi::Object& o, const char* name) {
  return o.Has(name) && o.Get(name).ToBoolean().Value();
}

}  // namespace

Napi::Function FileLockWrap::Init(Napi::Env env) {
  return DefineClass(env, "FileLock",
                     {InstanceMethod<&FileLockWrap::Release>("release"), InstanceMethod<&FileLockWrap::Held>("held")});
}

FileLockWrap::FileLockWrap(const Napi::CallbackInfo& info) : Napi::ObjectWrap<FileLockWrap>(info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsObject()) {
    throw Napi::TypeError::New(env, "FileLock(path, options)");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const Napi::Object opts = info[1].As<Napi::Object>();
  const bool exclusive = OptBool(opts, "exclusive");
  const bool create = OptBool(opts, "create");
  const bool claim_device = OptBool(opts, "claimDevice");
  if (opts.Has("mode") && !opts.Get("mode").IsNumber()) throw Napi::TypeError::New(env, "FileLock: mode must be a number");
  const mode_t mode = opts.Has("mode") ? opts.Get("mode").As<Napi::Number>().Uint32Value() & 07777 : 0600;

  // A new file is opened read-write (it is about to be sized); an existing
  // one read-only: the lock needs no write access and changes nothing.
  int flags = O_CLOEXEC | (create ? (O_RDWR | O_CREAT | O_EXCL | O_NOFOLLOW) : O_RDONLY);
  FdGuard fd(::open(path.c_str(), flags, mode));
  if (fd.get() < 0) throw MakeErrnoError(env, errno, "open " + path);
  struct stat st;
  if (::fstat(fd.get(), &st) != 0) throw MakeErrnoError(env, errno, "fstat " + path);
  if (create && ::fchmod(fd.get(), mode) != 0) throw MakeErrnoError(env, errno, "fchmod " + path);
  if (claim_device && S_ISBLK(st.st_mode)) {
    // O_EXCL on a block device is the kernel's exclusive claim: a second
    // claimant or a mount gets EBUSY whatever device node it uses.
    int excl = ::open(path.c_str(), O_RDONLY | O_CLOEXEC | O_EXCL);
    if (excl < 0) throw MakeErrnoError(env, errno, "open O_EXCL " + path);
    fd.reset(excl);
    if (::fstat(fd.get(), &st) != 0) throw MakeErrnoError(env, errno, "fstat " + path);
  }
  int rc;
  do {
    rc = ::flock(fd.get(), (exclusive ? LOCK_EX : LOCK_SH) | LOCK_NB);
  } while (rc != 0 && errno == EINTR);
  if (rc != 0) throw MakeErrnoError(env, errno, "flock " + path);
  Napi::Object self = info.This().As<Napi::Object>();
  self.Set("dev", Napi::Number::New(env, static_cast<double>(st.st_dev)));
  self.Set("ino", Napi::Number::New(env, static_cast<double>(st.st_ino)));
  self.Set("rdev", Napi::Number::New(env, static_cast<double>(st.st_rdev)));
  self.Set("isBlockDevice", Napi::Boolean::New(env, S_ISBLK(st.st_mode)));
  // Last: a throw above unwinds without ~FileLockWrap, and the guard must close the fd (and the lock).
  fd_ = fd.release();
}

FileLockWrap::~FileLockWrap() { Close(); }

void FileLockWrap::Close() {
  if (fd_ < 0) return;
  ::close(fd_);  // drops the flock and any O_EXCL claim with the last reference
  fd_ = -1;
}

Napi::Value FileLockWrap::Release(const Napi::CallbackInfo& info) {
  Close();
  return info.Env().Undefined();
}

Napi::Value FileLockWrap::Held(const Napi::CallbackInfo& info) {
  return Napi::Boolean::New(info.Env(), fd_ >= 0);
}

}  // namespace ublk
