#ifndef UBLK_NATIVE_FIEMAP_H_
#define UBLK_NATIVE_FIEMAP_H_

#include <napi.h>

namespace ublk {
Napi::Value Fiemap(const Napi::CallbackInfo& info);
}  // namespace ublk

#endif  // UBLK_NATIVE_FIEMAP_H_
