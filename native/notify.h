#ifndef UBLK_NATIVE_NOTIFY_H_
#define UBLK_NATIVE_NOTIFY_H_

#include <napi.h>

namespace ublk {
// sdNotify(socketPath, message): one datagram to systemd's $NOTIFY_SOCKET.
Napi::Value SdNotify(const Napi::CallbackInfo& info);
}  // namespace ublk

#endif  // UBLK_NATIVE_NOTIFY_H_
