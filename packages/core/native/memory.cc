// Where a typed array's data lies, modulo a power of two: the buffer pool of the onnxruntime engine
// (engine/onnxruntime/buffer-pool.ts) uses it to hand ORT 64-byte aligned arrays. V8 aligns an
// ArrayBuffer's memory to 16 bytes only, and ORT's kernels store whole cache lines (AVX-512): into
// an unaligned output every store splits over two lines. Measured on a full-width U-Net step: ORT's
// ReorderOutput nodes took 184 ms writing into unaligned arrays, 56 ms into aligned ones.
#include <node_api.h>
#include "napi-args.h"
#include <cstdint>

namespace {

// addressModulo(view: TypedArray, modulus: number): the address of view's first element mod modulus.
napi_value AddressModulo(napi_env env, napi_callback_info info) {
  size_t argc = 2;
  napi_value argv[2];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 2) return fail(env, "addressModulo: 2 arguments expected");
  bool is = false;
  napi_typedarray_type type;
  size_t length = 0;
  void *data = nullptr;
  if (napi_is_typedarray(env, argv[0], &is) != napi_ok || !is || napi_get_typedarray_info(env, argv[0], &type, &length, &data, nullptr, nullptr) != napi_ok) {
    return fail(env, "addressModulo: a typed array expected");
  }
  int32_t modulus = 0;
  if (napi_get_value_int32(env, argv[1], &modulus) != napi_ok || modulus < 1 || (modulus & (modulus - 1)) != 0) return fail(env, "addressModulo: modulus must be a power of two");
  napi_value result;
  napi_create_int32(env, static_cast<int32_t>(reinterpret_cast<uintptr_t>(data) & static_cast<uintptr_t>(modulus - 1)), &result);
  return result;
}

napi_value Init(napi_env env, napi_value exports) { return exportFunctions(env, exports, {{"addressModulo", AddressModulo}}); }

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
