// A typed-array argument of a JS call, checked and turned into a raw pointer
// that stays valid while the caller keeps the array referenced.
#ifndef UBLK_NATIVE_TYPED_ARGS_H_
#define UBLK_NATIVE_TYPED_ARGS_H_

#include <napi.h>

#include <cstddef>
#include <cstdint>
#include <string>

namespace ublk {

// `v` as an array of `type` with at least `min_length` elements (else a
// TypeError / RangeError naming `where` and `what`); `length` gets its length.
template <typename T>
T* TypedArg(Napi::Env env, Napi::Value v, napi_typedarray_type type, size_t min_length, const char* where, const char* what,
            size_t* length = nullptr) {
  if (!v.IsTypedArray() || v.As<Napi::TypedArray>().TypedArrayType() != type) {
    throw Napi::TypeError::New(env, std::string(where) + ": " + what + " has the wrong array type");
  }
  Napi::TypedArray ta = v.As<Napi::TypedArray>();
  if (ta.ElementLength() < min_length) throw Napi::RangeError::New(env, std::string(where) + ": " + what + " is too short");
  if (length != nullptr) *length = ta.ElementLength();
  // ArrayBuffer() moves a small on-heap array off the heap: the pointer stays valid.
  return reinterpret_cast<T*>(static_cast<uint8_t*>(ta.ArrayBuffer().Data()) + ta.ByteOffset());
}

}  // namespace ublk

#endif  // UBLK_NATIVE_TYPED_ARGS_H_
