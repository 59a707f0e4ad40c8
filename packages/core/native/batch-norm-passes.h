// The passes of batch-norm-train.h, included once per instruction set (each inside its own namespace and
// `#pragma GCC target`), so that every loop is compiled for that set. No include guard: it is meant
// to be included more than once.
//
// The passes walk tiles of rows small enough to stay in L2 (`kTileBytes`), one block of 16 channels
// after another, with the block's sums and per-channel factors in vector registers (GCC vector
// types: one AVX-512 register, two AVX2 or four SSE ones). The last c % 16 channels run one by one.

constexpr size_t kBlock = 16;
constexpr size_t kTileBytes = 128 * 1024;

typedef float f16 __attribute__((vector_size(64)));
typedef double d8 __attribute__((vector_size(64)));

inline f16 load(const float *p) {
  f16 v;
  std::memcpy(&v, p, sizeof v);
  return v;
}
inline void store(float *p, f16 v) { std::memcpy(p, &v, sizeof v); }
inline d8 low(f16 v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 0, 1, 2, 3, 4, 5, 6, 7), d8); }
inline d8 high(f16 v) { return __builtin_convertvector(__builtin_shufflevector(v, v, 8, 9, 10, 11, 12, 13, 14, 15), d8); }
inline void addTo(double *s, d8 lo, d8 hi) {
  for (int j = 0; j < 8; j++) s[j] += lo[j], s[8 + j] += hi[j];
}
// dy where act'(y) is 1, else 0 (ReLU: y > 0).
inline f16 gated(f16 dy, f16 y, bool relu) { return relu ? (y > 0.f ? dy : f16{}) : dy; }
inline float gated(float dy, float y, bool relu) { return relu && !(y > 0.f) ? 0.f : dy; }

// block(k0, r0, r1) for every 16-channel block and tail(k, r0, r1) for every remaining channel, tile by tile of [r0, r1).
template <typename Block, typename Tail>
inline void forBlocks(size_t r0, size_t r1, size_t c, Block block, Tail tail) {
  const size_t tile = std::max<size_t>(1, kTileBytes / (c * sizeof(float)));
  for (size_t t0 = r0; t0 < r1; t0 += tile) {
    const size_t t1 = std::min(r1, t0 + tile);
    size_t k0 = 0;
    for (; k0 + kBlock <= c; k0 += kBlock) block(k0, t0, t1);
    for (; k0 < c; k0++) tail(k0, t0, t1);
  }
}

// Σ x and Σ x² per channel, added to s and ss.
void sumMoments(const float *x, size_t r0, size_t r1, size_t c, double *s, double *ss) {
  forBlocks(r0, r1, c,
    [&](size_t k0, size_t t0, size_t t1) {
      d8 a0 = {}, a1 = {}, b0 = {}, b1 = {};
      for (size_t r = t0; r < t1; r++) {
        const f16 v = load(x + r * c + k0);
        const d8 lo = low(v), hi = high(v);
        a0 += lo, a1 += hi, b0 += lo * lo, b1 += hi * hi;
      }
      addTo(s + k0, a0, a1);
      addTo(ss + k0, b0, b1);
    },
    [&](size_t k, size_t t0, size_t t1) {
      for (size_t r = t0; r < t1; r++) {
        const double v = x[r * c + k];
        s[k] += v, ss[k] += v * v;
      }
    });
}

// y = act((x - mean) · scale + beta).
void normalize(const float *x, float *y, size_t r0, size_t r1, size_t c, const float *mean, const float *scale, const float *beta, bool relu) {
  forBlocks(r0, r1, c,
    [&](size_t k0, size_t t0, size_t t1) {
      const f16 m = load(mean + k0), sc = load(scale + k0), b = load(beta + k0);
      for (size_t r = t0; r < t1; r++) {
        f16 v = (load(x + r * c + k0) - m) * sc + b;
        if (relu) v = v < 0.f ? f16{} : v;
        store(y + r * c + k0, v);
      }
    },
    [&](size_t k, size_t t0, size_t t1) {
      for (size_t r = t0; r < t1; r++) {
        const float v = (x[r * c + k] - mean[k]) * scale[k] + beta[k];
        y[r * c + k] = relu && v < 0.f ? 0.f : v;
      }
    });
}

// g = dy · act'(y): Σ g and Σ g · (x - mean) per channel, added to sg and sgx.
void sumGradients(const float *dy, const float *x, const float *y, size_t r0, size_t r1, size_t c, const float *mean, bool relu, double *sg, double *sgx) {
  forBlocks(r0, r1, c,
    [&](size_t k0, size_t t0, size_t t1) {
      const f16 m = load(mean + k0);
      d8 a0 = {}, a1 = {}, b0 = {}, b1 = {};
      for (size_t r = t0; r < t1; r++) {
        const size_t o = r * c + k0;
        const f16 g = gated(load(dy + o), load(y + o), relu), xc = load(x + o) - m;
        const d8 glo = low(g), ghi = high(g);
        a0 += glo, a1 += ghi, b0 += glo * low(xc), b1 += ghi * high(xc);
      }
      addTo(sg + k0, a0, a1);
      addTo(sgx + k0, b0, b1);
    },
    [&](size_t k, size_t t0, size_t t1) {
      for (size_t r = t0; r < t1; r++) {
        const size_t o = r * c + k;
        const float g = gated(dy[o], y[o], relu);
        sg[k] += g, sgx[k] += static_cast<double>(g) * static_cast<double>(x[o] - mean[k]);
      }
    });
}

// dx = a · g + (b · (x - mean) + d).
void inputGradient(const float *dy, const float *x, const float *y, float *dx, size_t r0, size_t r1, size_t c, const float *mean, const float *a, const float *b, const float *d, bool relu) {
  forBlocks(r0, r1, c,
    [&](size_t k0, size_t t0, size_t t1) {
      const f16 m = load(mean + k0), ka = load(a + k0), kb = load(b + k0), kd = load(d + k0);
      for (size_t r = t0; r < t1; r++) {
        const size_t o = r * c + k0;
        store(dx + o, ka * gated(load(dy + o), load(y + o), relu) + (kb * (load(x + o) - m) + kd));
      }
    },
    [&](size_t k, size_t t0, size_t t1) {
      for (size_t r = t0; r < t1; r++) {
        const size_t o = r * c + k;
        dx[o] = a[k] * gated(dy[o], y[o], relu) + (b[k] * (x[o] - mean[k]) + d[k]);
      }
    });
}
