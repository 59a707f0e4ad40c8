// Training-mode batch norm (+ ReLU) over the channel axis of an NHWC tensor, forward and backward,
// each as two passes over memory: batch-norm.cc runs them for the engine's native kernels between the
// step's ORT graphs, ort-run.cc as an ORT custom op inside them. Written as ONNX ops the same layer
// is ~8 kernels forward and ~10 backward, each a full pass that writes a new tensor (issue 15).
//
// x, y, dy, dx: [rows, C] (rows = N·H·W); per-channel sums in float64, so the one-pass variance
// E[x²] - mean² keeps float32's precision (float64 has 29 more bits than a float32 square needs).
//   forward:  mean, var (biased) = moments of x;  y = act((x - mean) · gamma/sqrt(var + eps) + beta)
//   backward: g = dy · act'(y);  dbeta = Σ g;  dgamma = Σ g · x̂;
//             dx = gamma/sqrt(var + eps) · (g - dbeta/n - x̂ · dgamma/n),  x̂ = (x - mean)/sqrt(var + eps)
// act is ReLU or the identity; ReLU's derivative is read off its output (y > 0 exactly where its
// input is). Rows are split over threads; each thread sums its rows, the main thread adds them up.
#pragma once
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <cstring>
#include <thread>
#include <vector>

namespace batch_norm {

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
inline std::vector<Passes> supportedPasses() {
  std::vector<Passes> list;
#ifdef HAS_ISA_VARIANTS
  __builtin_cpu_init();
  if (__builtin_cpu_supports("avx512f") && __builtin_cpu_supports("avx512vl")) list.push_back(PASSES(avx512));
  if (__builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma")) list.push_back(PASSES(avx2));
#endif
  list.push_back(PASSES(generic));
  return list;
}

inline const std::vector<Passes> kPasses = supportedPasses();

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


// Writes y, mean and variance of x [rows, C].
inline void forward(const Passes &p, const float *x, const float *gamma, const float *beta, float *y, float *mean, float *variance, size_t rows, size_t c, double eps, bool relu, int threads) {
  ChannelSums sums(static_cast<size_t>(threads), c);
  overRows(rows, c, threads, [&](size_t r0, size_t r1, size_t w) { p.sumMoments(x, r0, r1, c, &sums.a[w * c], &sums.b[w * c]); });
  sums.total(static_cast<size_t>(threads));
  std::vector<float> scale(c);
  const double n = static_cast<double>(rows);
  for (size_t k = 0; k < c; k++) {
    const double m = sums.a[k] / n;
    const double v = std::max(0.0, sums.b[k] / n - m * m);
    mean[k] = static_cast<float>(m);
    variance[k] = static_cast<float>(v);
    scale[k] = static_cast<float>(gamma[k] / std::sqrt(v + eps));
  }
  overRows(rows, c, threads, [&](size_t r0, size_t r1, size_t) { p.normalize(x, y, r0, r1, c, mean, scale.data(), beta, relu); });
}

// Writes dx, dgamma and dbeta of the forward that gave y, mean and variance.
inline void backward(const Passes &p, const float *dy, const float *x, const float *y, const float *gamma, const float *mean, const float *variance, float *dx, float *dgamma, float *dbeta, size_t rows, size_t c, double eps, bool relu, int threads) {
  ChannelSums sums(static_cast<size_t>(threads), c);
  overRows(rows, c, threads, [&](size_t r0, size_t r1, size_t w) { p.sumGradients(dy, x, y, r0, r1, c, mean, relu, &sums.a[w * c], &sums.b[w * c]); });
  sums.total(static_cast<size_t>(threads));
  std::vector<float> ka(c), kb(c), kd(c);
  const double n = static_cast<double>(rows);
  for (size_t k = 0; k < c; k++) {
    const double inv = 1 / std::sqrt(static_cast<double>(variance[k]) + eps);
    const double db = sums.a[k], dg = sums.b[k] * inv;
    dbeta[k] = static_cast<float>(db);
    dgamma[k] = static_cast<float>(dg);
    const double s = gamma[k] * inv;
    ka[k] = static_cast<float>(s);
    kb[k] = static_cast<float>(-s * inv * dg / n);
    kd[k] = static_cast<float>(-s * db / n);
  }
  overRows(rows, c, threads, [&](size_t r0, size_t r1, size_t) { p.inputGradient(dy, x, y, dx, r0, r1, c, mean, ka.data(), kb.data(), kd.data(), relu); });
}

}  // namespace batch_norm
