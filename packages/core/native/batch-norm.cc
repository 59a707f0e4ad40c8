// Training-mode batch norm (+ ReLU) over the channel axis of an NHWC tensor, forward and backward,
// each as two passes over memory (engine/onnxruntime/kernels/batch-norm-train.ts runs them between
// the step's ORT graphs where this was built). Written as ONNX ops the same layer is ~8 kernels
// forward and ~10 backward, each a full pass that writes a new tensor (issue 15).
//
// x, y, dy, dx: [rows, C] (rows = N·H·W); per-channel sums in float64, so the one-pass variance
// E[x²] - mean² keeps float32's precision (float64 has 29 more bits than a float32 square needs).
//   forward:  mean, var (biased) = moments of x;  y = act((x - mean) · gamma/sqrt(var + eps) + beta)
//   backward: g = dy · act'(y);  dbeta = Σ g;  dgamma = Σ g · x̂;
//             dx = gamma/sqrt(var + eps) · (g - dbeta/n - x̂ · dgamma/n),  x̂ = (x - mean)/sqrt(var + eps)
// act is ReLU or the identity; ReLU's derivative is read off its output (y > 0 exactly where its
// input is). Rows are split over threads; each thread sums its rows, the main thread adds them up.
#include <node_api.h>
#include "napi-args.h"
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <string>
#include <thread>
#include <vector>

namespace {

// The passes (batch-norm-passes.h), compiled for AVX-512, for AVX2 + FMA and for plain x86-64 (no
// -march=native: a build copied to an older CPU must still run); `kPasses` holds those this CPU runs.
namespace generic {
#include "batch-norm-passes.h"
}
#if defined(__x86_64__) && defined(__GNUC__)
#define HAS_ISA_VARIANTS 1
namespace avx512 {
#pragma GCC push_options
#pragma GCC target("avx512f,avx512vl,fma")
#include "batch-norm-passes.h"
#pragma GCC pop_options
}
namespace avx2 {
#pragma GCC push_options
#pragma GCC target("avx2,fma")
#include "batch-norm-passes.h"
#pragma GCC pop_options
}
#endif

struct Passes {
  const char *name;
  decltype(&generic::sumMoments) sumMoments;
  decltype(&generic::normalize) normalize;
  decltype(&generic::sumGradients) sumGradients;
  decltype(&generic::inputGradient) inputGradient;
};

#define PASSES(ns) Passes{#ns, ns::sumMoments, ns::normalize, ns::sumGradients, ns::inputGradient}

// The variants this CPU runs, best first.
std::vector<Passes> supportedPasses() {
  std::vector<Passes> list;
#ifdef HAS_ISA_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) list.push_back(PASSES(avx512));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) list.push_back(PASSES(avx2));
#endif
  list.push_back(PASSES(generic));
  return list;
}

const std::vector<Passes> kPasses = supportedPasses();

// Runs body(r0, r1, t) over `threads` even row ranges (one thread below 64 K elements).
template <typename Body>
void overRows(size_t rows, size_t c, int threads, Body body) {
  const size_t t = rows * c < 65536 ? 1 : std::min(rows, static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  for (size_t w = 1; w < t; w++) workers.emplace_back(body, rows * w / t, rows * (w + 1) / t, w);
  body(0, rows / t, 0);
  for (std::thread &w : workers) w.join();
}

// Per-thread float64 sums of two per-channel quantities, added up.
struct ChannelSums {
  std::vector<double> a, b;
  size_t c;
  ChannelSums(size_t threads, size_t channels) : a(threads * channels), b(threads * channels), c(channels) {}
  void total(size_t threads) {
    for (size_t w = 1; w < threads; w++) {
      for (size_t k = 0; k < c; k++) {
        a[k] += a[w * c + k];
        b[k] += b[w * c + k];
      }
    }
  }
};

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
  const float *x = a.arrays[0], *gamma = a.arrays[1], *beta = a.arrays[2];
  float *y = a.arrays[3], *mean = a.arrays[4], *variance = a.arrays[5];
  const size_t c = a.c, threads = static_cast<size_t>(a.threads);
  ChannelSums sums(threads, c);
  overRows(a.rows, c, a.threads, [&](size_t r0, size_t r1, size_t w) { a.passes->sumMoments(x, r0, r1, c, &sums.a[w * c], &sums.b[w * c]); });
  sums.total(threads);
  std::vector<float> scale(c);
  const double n = static_cast<double>(a.rows);
  for (size_t k = 0; k < c; k++) {
    const double m = sums.a[k] / n;
    const double v = std::max(0.0, sums.b[k] / n - m * m);
    mean[k] = static_cast<float>(m);
    variance[k] = static_cast<float>(v);
    scale[k] = static_cast<float>(gamma[k] / std::sqrt(v + a.eps));
  }
  overRows(a.rows, c, a.threads, [&](size_t r0, size_t r1, size_t) { a.passes->normalize(x, y, r0, r1, c, mean, scale.data(), beta, a.relu); });
  return nullptr;
}

// batchNormBackward([dy, x, y, gamma, mean, variance, dx, dgamma, dbeta], dims, threads): writes dx, dgamma, dbeta.
napi_value Backward(napi_env env, napi_callback_info info) {
  Args a;
  if (!readArgs(env, info, "batchNormBackward", "rrrcccrcc", &a)) return nullptr;
  const float *dy = a.arrays[0], *x = a.arrays[1], *y = a.arrays[2], *gamma = a.arrays[3], *mean = a.arrays[4], *variance = a.arrays[5];
  float *dx = a.arrays[6], *dgamma = a.arrays[7], *dbeta = a.arrays[8];
  const size_t c = a.c, threads = static_cast<size_t>(a.threads);
  ChannelSums sums(threads, c);
  overRows(a.rows, c, a.threads, [&](size_t r0, size_t r1, size_t w) { a.passes->sumGradients(dy, x, y, r0, r1, c, mean, a.relu, &sums.a[w * c], &sums.b[w * c]); });
  sums.total(threads);
  std::vector<float> ka(c), kb(c), kd(c);
  const double n = static_cast<double>(a.rows);
  for (size_t k = 0; k < c; k++) {
    const double inv = 1 / std::sqrt(static_cast<double>(variance[k]) + a.eps);
    const double db = sums.a[k], dg = sums.b[k] * inv;
    dbeta[k] = static_cast<float>(db);
    dgamma[k] = static_cast<float>(dg);
    const double s = gamma[k] * inv;
    ka[k] = static_cast<float>(s);
    kb[k] = static_cast<float>(-s * inv * dg / n);
    kd[k] = static_cast<float>(-s * db / n);
  }
  overRows(a.rows, c, a.threads, [&](size_t r0, size_t r1, size_t) { a.passes->inputGradient(dy, x, y, dx, r0, r1, c, mean, ka.data(), kb.data(), kd.data(), a.relu); });
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
