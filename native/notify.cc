// sd_notify(3) without libsystemd: one datagram to the unix socket systemd
// names in $NOTIFY_SOCKET ("READY=1", "STOPPING=1", "STATUS=..."). Node has no
// unix datagram sockets, hence this function. A path starting with '@' is an
// abstract socket (the '@' becomes the leading NUL byte), as in sd_notify.
#include <errno.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/un.h>

#include <cstring>
#include <string>

#include "event-ring.h"
#include "notify.h"
#include "ring.h"

namespace ublk {

// sdNotify(path, message) -> undefined; throws with errno on failure.
Napi::Value SdNotify(const Napi::CallbackInfo& info) {
  Napi::Env env = info.Env();
  if (info.Length() < 2 || !info[0].IsString() || !info[1].IsString()) {
    throw Napi::TypeError::New(env, "sdNotify(path: string, message: string)");
  }
  const std::string path = info[0].As<Napi::String>().Utf8Value();
  const std::string message = info[1].As<Napi::String>().Utf8Value();
  struct sockaddr_un addr;
  memset(&addr, 0, sizeof(addr));
  addr.sun_family = AF_UNIX;
  if (path.size() < 2 || (path[0] != '/' && path[0] != '@')) {
    throw MakeErrnoError(env, EINVAL, "NOTIFY_SOCKET '" + path + "' is neither an absolute path nor '@abstract'");
  }
  if (path.size() > sizeof(addr.sun_path) - (path[0] == '/' ? 1 : 0)) {
    throw MakeErrnoError(env, ENAMETOOLONG, "NOTIFY_SOCKET '" + path + "'");
  }
  memcpy(addr.sun_path, path.data(), path.size());
  if (path[0] == '@') addr.sun_path[0] = '\0';
  // An abstract name's length is exact (no terminating NUL); a path's includes it.
  socklen_t len = static_cast<socklen_t>(offsetof(struct sockaddr_un, sun_path) + path.size() + (path[0] == '/' ? 1 : 0));
  Fd fd(socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0));
  if (fd.get() < 0) throw MakeErrnoError(env, errno, "socket(AF_UNIX, SOCK_DGRAM)");
  ssize_t sent;
  do {
    sent = sendto(fd.get(), message.data(), message.size(), MSG_NOSIGNAL, reinterpret_cast<struct sockaddr*>(&addr), len);
  } while (sent < 0 && errno == EINTR);
  if (sent < 0) throw MakeErrnoError(env, errno, "sendto NOTIFY_SOCKET '" + path + "'");
  if (static_cast<size_t>(sent) != message.size()) {
    throw MakeErrnoError(env, EMSGSIZE, "sendto NOTIFY_SOCKET '" + path + "': short datagram");
  }
  return env.Undefined();
}

}  // namespace ublk
