// Adam's update of every parameter of a step in one native pass (engine/onnxruntime/kernels/adam.ts
// uses it where it was built; native/build.mjs compiles it at install when a C++ compiler and Node's
// headers are there). The arithmetic is the JS loop's, in the same order and in double precision,
// with floating-point contraction off: the results are bit-identical to it (native-adam.test.ts).
// The elements of all parameters are split evenly over `threads` threads.
#include <node_api.h>
#include "napi-args.h"
#include <cmath>
#include <cstddef>
#include <thread>
#include <vector>

namespace {

struct Param {
  const float *p, *m0, *v0, *g;
  float *p1, *m1, *v1;
  size_t n;
  double stepSize, inv;
};

struct Hyper {
  double beta1, beta2, c1, c2, eps;
};

void update(const Param &q, size_t from, size_t to, const Hyper &h) {
  for (size_t i = from; i < to; i++) {
    const double gi = q.g[i];
    const double mi = h.beta1 * static_cast<double>(q.m0[i]) + h.c1 * gi;
    const double vi = h.beta2 * static_cast<double>(q.v0[i]) + h.c2 * gi * gi;
    q.m1[i] = static_cast<float>(mi);
    q.v1[i] = static_cast<float>(vi);
    q.p1[i] = static_cast<float>(static_cast<double>(q.p[i]) - (q.stepSize * mi) / (std::sqrt(vi) * q.inv + h.eps));
  }
}

// Elements [begin, end) of the concatenation of all parameters.
void updateRange(const std::vector<Param> &params, size_t begin, size_t end, const Hyper &h) {
  size_t offset = 0;
  for (const Param &q : params) {
    const size_t from = begin > offset ? begin - offset : 0;
    const size_t to = end < offset + q.n ? end - offset : q.n;
    if (from < to) update(q, from, to, h);
    offset += q.n;
    if (offset >= end) break;
  }
}

// adamStep(arrays: Float32Array[] (p, m, v, g, p', m', v' per parameter), stepSizes: Float64Array,
//          invBiasCorrection2Sqrts: Float64Array, hyper: Float64Array [beta1, beta2, eps], threads: number)
napi_value AdamStep(napi_env env, napi_callback_info info) {
  size_t argc = 5;
  napi_value argv[5];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 5) return fail(env, "adamStep: 5 arguments expected");
  double *steps = nullptr, *invs = nullptr, *hy = nullptr;
  size_t nSteps = 0, nInvs = 0, nHy = 0;
  if (!typedArray(env, argv[1], napi_float64_array, &steps, &nSteps) || !typedArray(env, argv[2], napi_float64_array, &invs, &nInvs) ||
      !typedArray(env, argv[3], napi_float64_array, &hy, &nHy) || nHy != 3 || nSteps != nInvs) {
    return fail(env, "adamStep: stepSizes, invBiasCorrection2Sqrts (Float64Array, one per parameter) and hyper (Float64Array [beta1, beta2, eps]) expected");
  }
  uint32_t count = 0;
  bool isArray = false;
  if (napi_is_array(env, argv[0], &isArray) != napi_ok || !isArray || napi_get_array_length(env, argv[0], &count) != napi_ok || count != 7 * nSteps) {
    return fail(env, "adamStep: 7 Float32Arrays per parameter expected");
  }
  int32_t threads = 1;
  if (napi_get_value_int32(env, argv[4], &threads) != napi_ok || threads < 1) return fail(env, "adamStep: threads must be a positive integer");
  std::vector<Param> params(nSteps);
  size_t total = 0;
  for (size_t k = 0; k < nSteps; k++) {
    float *a[7];
    size_t len[7];
    for (int j = 0; j < 7; j++) {
      napi_value el;
      if (napi_get_element(env, argv[0], static_cast<uint32_t>(7 * k + j), &el) != napi_ok || !typedArray(env, el, napi_float32_array, &a[j], &len[j])) return fail(env, "adamStep: every array must be a Float32Array");
      if (len[j] != len[0]) return fail(env, "adamStep: a parameter's seven arrays must have one length");
    }
    params[k] = Param{a[0], a[1], a[2], a[3], a[4], a[5], a[6], len[0], steps[k], invs[k]};
    total += len[0];
  }
  const Hyper h{hy[0], hy[1], 1 - hy[0], 1 - hy[1], hy[2]};
  const size_t t = total < 65536 ? 1 : static_cast<size_t>(threads);
  std::vector<std::thread> workers;
  for (size_t w = 1; w < t; w++) workers.emplace_back(updateRange, std::cref(params), total * w / t, total * (w + 1) / t, std::cref(h));
  updateRange(params, 0, total / t, h);
  for (std::thread &w : workers) w.join();
  return nullptr;
}

napi_value Init(napi_env env, napi_value exports) { return exportFunctions(env, exports, {{"adamStep", AdamStep}}); }

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
