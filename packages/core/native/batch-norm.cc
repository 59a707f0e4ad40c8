// The batch-norm passes of batch-norm-train.h for the engine's native kernels
// (engine/onnxruntime/kernels/batch-norm-train.ts runs them between the step's ORT graphs where this
// was built).
#include <node_api.h>
#include "napi-args.h"
#include "batch-norm-train.h"
#include <string>

namespace {

using batch_norm::kPasses;
using batch_norm::Passes;

struct Args {
  const Passes *passes = &kPasses[0];
  std::vector<float *> arrays;
  size_t rows = 0, c = 0;
  double eps = 0;
  bool relu = false;
  int threads = 1;
};

// (arrays: Float32Array[count], dims: Float64Array [rows, C, eps, relu 0|1], threads, isa?: one of
// isas(), default the first): every array of rows·C or C elements as `sizes` says ('r' or 'c').
bool readArgs(napi_env env, napi_callback_info info, const char *name, const char *sizes, Args *out) {
  size_t argc = 4;
  napi_value argv[4];
  const std::string fn(name);
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 3) return fail(env, (fn + ": 3 or 4 arguments expected").c_str()), false;
  if (argc == 4) {
    char isa[16] = {};
    size_t len = 0;
    if (napi_get_value_string_utf8(env, argv[3], isa, sizeof isa, &len) != napi_ok) return fail(env, (fn + ": isa must be a string").c_str()), false;
    out->passes = nullptr;
    for (const Passes &p : kPasses) if (std::string(p.name) == isa) out->passes = &p;
    if (!out->passes) return fail(env, (fn + ": instruction set '" + isa + "' is not available here").c_str()), false;
  }
  double *dims = nullptr;
  size_t nDims = 0;
  if (!typedArray(env, argv[1], napi_float64_array, &dims, &nDims) || nDims != 4 || !(dims[0] >= 1) || !(dims[1] >= 1)) {
    return fail(env, (fn + ": dims must be a Float64Array [rows, channels, eps, relu]").c_str()), false;
  }
  out->rows = static_cast<size_t>(dims[0]);
  out->c = static_cast<size_t>(dims[1]);
  out->eps = dims[2];
  out->relu = dims[3] != 0;
  if (napi_get_value_int32(env, argv[2], &out->threads) != napi_ok || out->threads < 1) return fail(env, (fn + ": threads must be a positive integer").c_str()), false;
  const size_t count = std::char_traits<char>::length(sizes);
  uint32_t length = 0;
  bool isArray = false;
  if (napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray || napi_get_array_length(env, argv[0], &length) != napi_ok || length != count) {
    return fail(env, (fn + ": " + std::to_string(count) + " Float32Arrays expected").c_str()), false;
  }
  for (uint32_t i = 0; i < count; i++) {
    napi_value el;
    float *data = nullptr;
    size_t n = 0;
    const size_t want = sizes[i] == 'r' ? out->rows * out->c : out->c;
    if (napi_get_element(env, argv[0], i, &el) != napi_ok || !typedArray(env, el, napi_float32_array, &data, &n) || n != want) {
      return fail(env, (fn + ": array " + std::to_string(i) + " must be a Float32Array of " + std::to_string(want) + " elements").c_str()), false;
    }
    out->arrays.push_back(data);
  }
  return true;
}

// batchNormForward([x, gamma, beta, y, mean, variance], dims, threads): writes y, mean, variance.
napi_value Forward(napi_env env, napi_callback_info info) {
  Args a;
  if (!readArgs(env, info, "batchNormForward", "rccrcc", &a)) return nullptr;
  const auto &v = a.arrays;
  batch_norm::forward(*a.passes, v[0], v[1], v[2], v[3], v[4], v[5], a.rows, a.c, a.eps, a.relu, a.threads);
  return nullptr;
}

// batchNormBackward([dy, x, y, gamma, mean, variance, dx, dgamma, dbeta], dims, threads): writes dx, dgamma, dbeta.
napi_value Backward(napi_env env, napi_callback_info info) {
  Args a;
  if (!readArgs(env, info, "batchNormBackward", "rrrcccrcc", &a)) return nullptr;
  const auto &v = a.arrays;
  batch_norm::backward(*a.passes, v[0], v[1], v[2], v[3], v[4], v[5], v[6], v[7], v[8], a.rows, a.c, a.eps, a.relu, a.threads);
  return nullptr;
}

// isas(): the variants this CPU runs, best first ("avx512", "avx2", "generic").
napi_value Isas(napi_env env, napi_callback_info) {
  return stringArray(env, kPasses.size(), [](size_t k) { return kPasses[k].name; });
}

napi_value Init(napi_env env, napi_value exports) {
  return exportFunctions(env, exports, {{"batchNormForward", Forward}, {"batchNormBackward", Backward}, {"isas", Isas}});
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
