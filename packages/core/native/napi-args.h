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

// Sets exports[name] = a JS function calling `callback`, for each pair: an addon's Init.
struct Export {
  const char *name;
  napi_callback callback;
};
template <size_t N>
napi_value exportFunctions(napi_env env, napi_value exports, const Export (&fns)[N]) {
  for (const Export &f : fns) {
    napi_value fn;
    napi_create_function(env, f.name, NAPI_AUTO_LENGTH, f.callback, nullptr, &fn);
    napi_set_named_property(env, exports, f.name, fn);
  }
  return exports;
}

// A JS array of the strings name(0..count-1) (the instruction sets an addon runs with).
template <typename Name>
napi_value stringArray(napi_env env, size_t count, Name name) {
  napi_value list;
  napi_create_array_with_length(env, count, &list);
  for (size_t k = 0; k < count; k++) {
    napi_value s;
    napi_create_string_utf8(env, name(k), NAPI_AUTO_LENGTH, &s);
    napi_set_element(env, list, static_cast<uint32_t>(k), s);
  }
  return list;
}
