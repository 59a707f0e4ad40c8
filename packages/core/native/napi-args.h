// Argument checks shared by the native addons: a thrown JS error, and a typed array's data.
#pragma once
#include <node_api.h>
#include <cstddef>

inline napi_value fail(napi_env env, const char *msg) {
  napi_throw_error(env, nullptr, msg);
  return nullptr;
}

// v's data and length if it is a typed array of type `want`.
template <typename T>
bool typedArray(napi_env env, napi_value v, napi_typedarray_type want, T **data, size_t *n) {
  bool is = false;
  if (napi_is_typedarray(env, v, &is) != napi_ok || !is) return false;
  napi_typedarray_type type;
  void *raw = nullptr;
  if (napi_get_typedarray_info(env, v, &type, n, &raw, nullptr, nullptr) != napi_ok || type != want) return false;
  *data = static_cast<T *>(raw);
  return true;
}
