// Conv2DBackpropFilter (a convolution's dW), NHWC, as a direct kernel: engine/onnxruntime/kernels/
// conv2d-backprop-filter.ts runs it after a step's ORT program where it was built, instead of the
// tap GEMMs in ONNX (every ONNX formulation copies a shifted x or dy per filter tap and re-reads
// the other operand per tap; this one reads both in place).
//
// dW[i, j, ci, co] = Σ_{n, a, b} x[n, a·sh + i - pt, b·sw + j - pl, ci] · dy[n, a, b, co]
//
// dW is cut into tiles: one filter tap (i, j), up to MR input channels, up to NR output channels.
// A tile is MR x NR accumulators in vector registers; its reduction runs over the output positions
// whose input position lies inside x for that tap (so no padded copy of x is made), one row of
// output positions after another. Output rows come in chunks small
// enough that the chunk's x and dy stay in the core's L2 cache while every tile of the chunk reads
// them. Tiles are split over threads (each thread owns whole tiles: no reduction between threads).
// Sums are float32 in position order per tile, as in a GEMM.
//
// Also here: a filter reordered into the NCHWc layout of ORT's conv (`nchwcFilter`), a plain copy.
//
// Two instruction sets, chosen at run time: AVX-512 (16 lanes, masked tails) and AVX2 + FMA
// (8 lanes). Elsewhere `isas()` is empty and the engine keeps its ONNX formulation.
#include <node_api.h>
#include "napi-args.h"
#include <immintrin.h>
#include <algorithm>
#include <cstdint>
#include <cstring>
#include <thread>
#include <utility>
#include <vector>

namespace {

struct Geometry {
  int n, h, w, cin, oh, ow, cout, kh, kw, sh, sw, pt, pl;
};

// Where one tile's reduction reads and writes; rows: output rows (stride *R), cols: positions in a row (stride *K).
struct TileArgs {
  const float *x, *dy;
  ptrdiff_t xK, xR, dyK, dyR;
  int cols, rows;
  float *dw;
  ptrdiff_t ldw;
  int channelsOut;  // valid output channels of the tile (<= NR)
};

#define AVX512 __attribute__((target("avx512f,fma")))
#define AVX2 __attribute__((target("avx2,fma")))

// AVX-512: M input channels x V vectors of 16 output channels.
template <int M, int V>
AVX512 void tile512(const TileArgs &t) {
  const __mmask16 m0 = static_cast<__mmask16>(t.channelsOut >= 16 ? 0xffff : (1u << t.channelsOut) - 1);
  const __mmask16 m1 = static_cast<__mmask16>(t.channelsOut >= 32 ? 0xffff : t.channelsOut <= 16 ? 0 : (1u << (t.channelsOut - 16)) - 1);
  __m512 acc[M][V];
#pragma GCC unroll 16
  for (int m = 0; m < M; m++)
    for (int v = 0; v < V; v++) acc[m][v] = _mm512_setzero_ps();
  for (int r = 0; r < t.rows; r++) {
    const float *xp = t.x + r * t.xR;
    const float *dp = t.dy + r * t.dyR;
    for (int k = 0; k < t.cols; k++, xp += t.xK, dp += t.dyK) {
      __m512 d[V];
      d[0] = _mm512_maskz_loadu_ps(m0, dp);
      if (V > 1) d[V - 1] = _mm512_maskz_loadu_ps(m1, dp + 16);
#pragma GCC unroll 16
      for (int m = 0; m < M; m++) {
        const __m512 b = _mm512_set1_ps(xp[m]);
        for (int v = 0; v < V; v++) acc[m][v] = _mm512_fmadd_ps(b, d[v], acc[m][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int m = 0; m < M; m++) {
    float *c = t.dw + m * t.ldw;
    _mm512_mask_storeu_ps(c, m0, _mm512_add_ps(_mm512_maskz_loadu_ps(m0, c), acc[m][0]));
    if (V > 1) _mm512_mask_storeu_ps(c + 16, m1, _mm512_add_ps(_mm512_maskz_loadu_ps(m1, c + 16), acc[m][V - 1]));
  }
}

AVX2 __m256i mask8(int valid) {
  const __m256i lanes = _mm256_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7);
  return _mm256_cmpgt_epi32(_mm256_set1_epi32(valid), lanes);
}

// AVX2: M input channels x V vectors of 8 output channels.
template <int M, int V>
AVX2 void tile256(const TileArgs &t) {
  const __m256i m0 = mask8(t.channelsOut), m1 = mask8(t.channelsOut - 8);
  __m256 acc[M][V];
#pragma GCC unroll 16
  for (int m = 0; m < M; m++)
    for (int v = 0; v < V; v++) acc[m][v] = _mm256_setzero_ps();
  for (int r = 0; r < t.rows; r++) {
    const float *xp = t.x + r * t.xR;
    const float *dp = t.dy + r * t.dyR;
    for (int k = 0; k < t.cols; k++, xp += t.xK, dp += t.dyK) {
      __m256 d[V];
      d[0] = _mm256_maskload_ps(dp, m0);
      if (V > 1) d[V - 1] = _mm256_maskload_ps(dp + 8, m1);
#pragma GCC unroll 16
      for (int m = 0; m < M; m++) {
        const __m256 b = _mm256_broadcast_ss(xp + m);
        for (int v = 0; v < V; v++) acc[m][v] = _mm256_fmadd_ps(b, d[v], acc[m][v]);
      }
    }
  }
#pragma GCC unroll 16
  for (int m = 0; m < M; m++) {
    float *c = t.dw + m * t.ldw;
    _mm256_maskstore_ps(c, m0, _mm256_add_ps(_mm256_maskload_ps(c, m0), acc[m][0]));
    if (V > 1) _mm256_maskstore_ps(c + 8, m1, _mm256_add_ps(_mm256_maskload_ps(c + 8, m1), acc[m][V - 1]));
  }
}

using TileFn = void (*)(const TileArgs &);

// The kernels of an instruction set, by [input channels - 1][output vectors - 1].
template <int M, int V>
struct T512 {
  static void run(const TileArgs &t) { tile512<M, V>(t); }
};
template <int M, int V>
struct T256 {
  static void run(const TileArgs &t) { tile256<M, V>(t); }
};

struct Isa {
  const char *name;
  int mr, lanes;  // input channels per tile; output channels per vector (a tile has up to two)
  TileFn fns[8][2];
};

template <template <int, int> class K, int... Ms>
constexpr Isa isaOf(const char *name, int mr, int lanes, std::integer_sequence<int, Ms...>) {
  return Isa{name, mr, lanes, {{K<Ms + 1, 1>::run, K<Ms + 1, 2>::run}...}};
}

const Isa kAvx512 = isaOf<T512>("avx512", 8, 16, std::make_integer_sequence<int, 8>{});
const Isa kAvx2 = isaOf<T256>("avx2", 6, 8, std::make_integer_sequence<int, 6>{});

bool supported(const Isa *isa) {
  __builtin_cpu_init();
  if (isa == &kAvx512) return __builtin_cpu_supports("avx512f");
  return __builtin_cpu_supports("avx2") && __builtin_cpu_supports("fma");
}

// The instruction sets this CPU runs, best first.
std::vector<const Isa *> supportedIsas() {
  std::vector<const Isa *> isas;
  for (const Isa *isa : {&kAvx512, &kAvx2})
    if (supported(isa)) isas.push_back(isa);
  return isas;
}

struct Tile {
  int i, j, ci, co;
};

int ceilDiv(int a, int b) { return a >= 0 ? (a + b - 1) / b : -((-a) / b); }
int floorDiv(int a, int b) { return a >= 0 ? a / b : -((-a + b - 1) / b); }

// Output rows per chunk: the chunk's dy columns of one tile and its x rows stay within L2 (1 MB or more on
// AVX-512 parts). Budgets measured on the 2-vCPU EPYC here at LViT-T's shapes: x 768 KB beat 512 KB at
// [2,28,28,1024] -> 256 (49-61 vs 74-90 ms) and was even elsewhere, within this VM's noise.
int rowsPerChunk(const Geometry &g, const Isa &isa) {
  const double dyRow = static_cast<double>(g.ow) * 2 * isa.lanes * 4, xRow = static_cast<double>(g.w) * g.cin * 4 * g.sh;
  const double dyB = 128 * 1024, xB = 768 * 1024;
  const int byDy = static_cast<int>(dyB / dyRow), byX = static_cast<int>((xB - (g.kh - 1) * xRow / g.sh) / xRow);
  return std::max(1, std::min({byDy, byX, g.oh}));
}

// Packing: where dy's rows hold more output channels than a tile, a tile would read one nr-wide piece
// every cout floats (and x, with many input channels, one mr-wide piece every cin floats: a new page
// every position at 1024 channels). Each thread copies the chunk's dy of its output-channel block,
// and the chunk's x where cin >= kPackXChannels, into contiguous buffers its tiles then stream.
// Measured on a 2-vCPU Xeon (AVX-512), GFLOPS before -> after: [2,28,28,512] -> 512 3x3 238 -> 287,
// [2,28,28,1024] -> 256 206 -> 240, [2,14,14,512] -> 512 234 -> 278; x packed from 64 channels on
// made [2,224,224,64] -> 64 slower (281 -> 245), hence the threshold.
constexpr int kPackXChannels = 256;

// dy rows [a0, a1) of output channels [co, co + nr) as [row][col][nr], zero beyond cout.
void packDy(const Geometry &g, const float *dy, int n, int a0, int a1, int co, int nr, float *out) {
  const int valid = std::min(nr, g.cout - co);
  for (int a = a0; a < a1; a++) {
    const float *src = dy + ((static_cast<ptrdiff_t>(n) * g.oh + a) * g.ow) * g.cout + co;
    float *dst = out + static_cast<ptrdiff_t>(a - a0) * g.ow * nr;
    for (int b = 0; b < g.ow; b++, src += g.cout, dst += nr) {
      std::memcpy(dst, src, valid * sizeof(float));
      if (valid < nr) std::memset(dst + valid, 0, (nr - valid) * sizeof(float));
    }
  }
}

// x rows [r0, r1) as [cin / mr][row][col][mr] (cin a multiple of mr).
void packX(const Geometry &g, const float *x, int n, int r0, int r1, int mr, float *out) {
  const int blocks = g.cin / mr;
  const ptrdiff_t plane = static_cast<ptrdiff_t>(r1 - r0) * g.w * mr;
  for (int r = r0; r < r1; r++) {
    const float *src = x + ((static_cast<ptrdiff_t>(n) * g.h + r) * g.w) * g.cin;
    float *row = out + static_cast<ptrdiff_t>(r - r0) * g.w * mr;
    for (int c = 0; c < g.w; c++, src += g.cin)
      for (int cb = 0; cb < blocks; cb++) std::memcpy(row + cb * plane + c * mr, src + cb * mr, mr * sizeof(float));
  }
}

void runTiles(const Geometry &g, const Isa &isa, const float *x, const float *dy, float *dw, const std::vector<Tile> &tiles, size_t from, size_t to) {
  const int chunk = rowsPerChunk(g, isa), nr = 2 * isa.lanes, mr = isa.mr;
  const bool packedDy = g.cout > nr, packedX = g.cin >= kPackXChannels && g.cin % mr == 0;
  std::vector<float> dyBuf(packedDy ? static_cast<size_t>(chunk) * g.ow * nr : 0);
  std::vector<float> xBuf(packedX ? static_cast<size_t>((chunk - 1) * g.sh + g.kh) * g.w * g.cin : 0);
  for (int n = 0; n < g.n; n++) {
    for (int a0 = 0; a0 < g.oh; a0 += chunk) {
      const int a1 = std::min(g.oh, a0 + chunk);
      // The input rows the chunk's output rows read through any tap.
      const int r0 = std::max(0, a0 * g.sh - g.pt), r1 = std::min(g.h, (a1 - 1) * g.sh - g.pt + g.kh);
      if (packedX && r0 < r1) packX(g, x, n, r0, r1, mr, xBuf.data());
      const ptrdiff_t xPlane = static_cast<ptrdiff_t>(r1 - r0) * g.w * mr;
      int dyBlock = -1;
      for (size_t k = from; k < to; k++) {
        const Tile &tile = tiles[k];
        // Output rows and columns whose input row / column lies inside x for this tap.
        const int aLo = std::max(a0, ceilDiv(g.pt - tile.i, g.sh)), aHi = std::min(a1, floorDiv(g.h - 1 + g.pt - tile.i, g.sh) + 1);
        const int bLo = std::max(0, ceilDiv(g.pl - tile.j, g.sw)), bHi = std::min(g.ow, floorDiv(g.w - 1 + g.pl - tile.j, g.sw) + 1);
        if (aLo >= aHi || bLo >= bHi) continue;
        const int m = std::min(isa.mr, g.cin - tile.ci), outs = std::min(nr, g.cout - tile.co);
        const int xRow = aLo * g.sh + tile.i - g.pt, xCol = bLo * g.sw + tile.j - g.pl;
        TileArgs t;
        if (packedX) {
          t.x = xBuf.data() + (tile.ci / mr) * xPlane + (static_cast<ptrdiff_t>(xRow - r0) * g.w + xCol) * mr;
          t.xK = static_cast<ptrdiff_t>(g.sw) * mr;
          t.xR = static_cast<ptrdiff_t>(g.sh) * g.w * mr;
        } else {
          t.x = x + ((static_cast<ptrdiff_t>(n) * g.h + xRow) * g.w + xCol) * g.cin + tile.ci;
          t.xK = static_cast<ptrdiff_t>(g.sw) * g.cin;
          t.xR = static_cast<ptrdiff_t>(g.sh) * g.w * g.cin;
        }
        if (packedDy) {
          if (tile.co != dyBlock) packDy(g, dy, n, a0, a1, dyBlock = tile.co, nr, dyBuf.data());
          t.dy = dyBuf.data() + (static_cast<ptrdiff_t>(aLo - a0) * g.ow + bLo) * nr;
          t.dyK = nr;
        } else {
          t.dy = dy + ((static_cast<ptrdiff_t>(n) * g.oh + aLo) * g.ow + bLo) * g.cout + tile.co;
          t.dyK = g.cout;
        }
        t.dyR = static_cast<ptrdiff_t>(g.ow) * t.dyK;
        t.cols = bHi - bLo;
        t.rows = aHi - aLo;
        t.dw = dw + ((static_cast<ptrdiff_t>(tile.i) * g.kw + tile.j) * g.cin + tile.ci) * g.cout + tile.co;
        t.ldw = g.cout;
        t.channelsOut = outs;
        isa.fns[m - 1][outs > isa.lanes ? 1 : 0](t);
      }
    }
  }
}

// Tiles in the order a thread walks them: output-channel block, then tap, then input-channel block
// (consecutive tiles read the same dy columns).
std::vector<Tile> tilesOf(const Geometry &g, const Isa &isa) {
  std::vector<Tile> tiles;
  for (int co = 0; co < g.cout; co += 2 * isa.lanes)
    for (int i = 0; i < g.kh; i++)
      for (int j = 0; j < g.kw; j++)
        for (int ci = 0; ci < g.cin; ci += isa.mr) tiles.push_back({i, j, ci, co});
  return tiles;
}

const std::vector<const Isa *> kIsas = supportedIsas();

// The instruction set named by v (a string), or the best one if v is undefined; null if not supported here.
const Isa *isaNamed(napi_env env, napi_value v) {
  napi_valuetype type;
  if (napi_typeof(env, v, &type) != napi_ok) return nullptr;
  if (type == napi_undefined) return kIsas.empty() ? nullptr : kIsas[0];
  char name[16] = {0};
  size_t len = 0;
  if (type != napi_string || napi_get_value_string_utf8(env, v, name, sizeof name, &len) != napi_ok) return nullptr;
  for (const Isa *isa : kIsas)
    if (std::strcmp(isa->name, name) == 0) return isa;
  return nullptr;
}

// conv2dBackpropFilter(x: Float32Array [N,H,W,Cin], dy: Float32Array [N,OH,OW,Cout], dw: Float32Array [kh,kw,Cin,Cout] (written),
//                      geometry: Int32Array [N,H,W,Cin, OH,OW,Cout, kh,kw, sh,sw, padTop,padLeft], threads: number, isa?: string)
napi_value Conv2DBackpropFilter(napi_env env, napi_callback_info info) {
  size_t argc = 6;
  napi_value argv[6];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc < 5) return fail(env, "conv2dBackpropFilter: 5 or 6 arguments expected");
  if (argc == 5) napi_get_undefined(env, &argv[5]);
  const Isa *isa = isaNamed(env, argv[5]);
  if (!isa) return fail(env, "conv2dBackpropFilter: instruction set not supported on this CPU (the kernel needs AVX-512 or AVX2 with FMA)");
  const float *x = nullptr, *dy = nullptr;
  float *dw = nullptr;
  int32_t *dims = nullptr;
  size_t nx = 0, ndy = 0, ndw = 0, nd = 0;
  if (!typedArray(env, argv[0], napi_float32_array, const_cast<float **>(&x), &nx) || !typedArray(env, argv[1], napi_float32_array, const_cast<float **>(&dy), &ndy) ||
      !typedArray(env, argv[2], napi_float32_array, &dw, &ndw)) {
    return fail(env, "conv2dBackpropFilter: x, dy and dw must be Float32Arrays");
  }
  if (!typedArray(env, argv[3], napi_int32_array, &dims, &nd) || nd != 13) return fail(env, "conv2dBackpropFilter: geometry must be an Int32Array of 13");
  const Geometry g{dims[0], dims[1], dims[2], dims[3], dims[4], dims[5], dims[6], dims[7], dims[8], dims[9], dims[10], dims[11], dims[12]};
  for (int k = 0; k < 13; k++) {
    if (dims[k] < (k >= 11 ? 0 : 1)) return fail(env, "conv2dBackpropFilter: geometry has a non-positive size or a negative pad");
  }
  const auto count = [](std::initializer_list<int> d) {
    size_t c = 1;
    for (int v : d) c *= static_cast<size_t>(v);
    return c;
  };
  if (nx != count({g.n, g.h, g.w, g.cin}) || ndy != count({g.n, g.oh, g.ow, g.cout}) || ndw != count({g.kh, g.kw, g.cin, g.cout})) {
    return fail(env, "conv2dBackpropFilter: an array's length does not match the geometry");
  }
  int32_t threads = 1;
  if (napi_get_value_int32(env, argv[4], &threads) != napi_ok || threads < 1) return fail(env, "conv2dBackpropFilter: threads must be a positive integer");
  std::memset(dw, 0, ndw * sizeof(float));
  const std::vector<Tile> tiles = tilesOf(g, *isa);
  const size_t t = std::min(tiles.size(), static_cast<size_t>(threads));
  std::vector<std::thread> workers;
  for (size_t w = 1; w < t; w++) workers.emplace_back(runTiles, std::cref(g), std::cref(*isa), x, dy, dw, std::cref(tiles), tiles.size() * w / t, tiles.size() * (w + 1) / t);
  runTiles(g, *isa, x, dy, dw, tiles, 0, tiles.size() / t);
  for (std::thread &w : workers) w.join();
  return nullptr;
}

// The filter of an NCHWc convolution in MLAS's blocked layout [O/b][I/b][kh][kw][bi][bo], for the
// output-channel blocks [oFrom, oTo). From an HWIO filter w [kh,kw,ci,co]: the forward conv reads it
// as it is (I = ci, O = co: each bo run is a contiguous copy); the dX conv (`flipped`) reads it
// spatially flipped with ci and co swapped (I = co, O = ci: each block is a 16x16 transpose).
void blockFilter(const float *w, float *out, int kh, int kw, int ci, int co, int b, bool flipped, int oFrom, int oTo) {
  const int nI = (flipped ? co : ci) / b;
  for (int o = oFrom; o < oTo; o++)
    for (int in = 0; in < nI; in++)
      for (int i = 0; i < kh; i++)
        for (int j = 0; j < kw; j++) {
          float *dst = out + (((static_cast<size_t>(o) * nI + in) * kh + i) * kw + j) * b * b;
          if (!flipped) {
            const float *src = w + ((static_cast<size_t>(i) * kw + j) * ci + in * b) * co + o * b;
            for (int bi = 0; bi < b; bi++) std::memcpy(dst + bi * b, src + static_cast<size_t>(bi) * co, b * sizeof(float));
          } else {
            const float *src = w + ((static_cast<size_t>(kh - 1 - i) * kw + (kw - 1 - j)) * ci + o * b) * co + in * b;
            for (int bi = 0; bi < b; bi++)
              for (int bo = 0; bo < b; bo++) dst[bi * b + bo] = src[static_cast<size_t>(bo) * co + bi];
          }
        }
}

// nchwcFilter(w: Float32Array [kh,kw,ci,co], out: Float32Array (written), dims: Int32Array [kh,kw,ci,co, block, flipped 0|1], threads)
napi_value NchwcFilter(napi_env env, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  if (napi_get_cb_info(env, info, &argc, argv, nullptr, nullptr) != napi_ok || argc != 4) return fail(env, "nchwcFilter: 4 arguments expected");
  const float *w = nullptr;
  float *out = nullptr;
  int32_t *d = nullptr;
  size_t nw = 0, nout = 0, nd = 0;
  if (!typedArray(env, argv[0], napi_float32_array, const_cast<float **>(&w), &nw) || !typedArray(env, argv[1], napi_float32_array, &out, &nout)) {
    return fail(env, "nchwcFilter: w and out must be Float32Arrays");
  }
  if (!typedArray(env, argv[2], napi_int32_array, &d, &nd) || nd != 6) return fail(env, "nchwcFilter: dims must be an Int32Array of 6");
  const int kh = d[0], kw = d[1], ci = d[2], co = d[3], b = d[4];
  const bool flipped = d[5] != 0;
  if (kh < 1 || kw < 1 || b < 1 || ci < b || co < b || ci % b != 0 || co % b != 0) return fail(env, "nchwcFilter: sizes must be positive, channels multiples of the block");
  if (nw != static_cast<size_t>(kh) * kw * ci * co || nout != nw) return fail(env, "nchwcFilter: an array's length does not match dims");
  int32_t threads = 1;
  if (napi_get_value_int32(env, argv[3], &threads) != napi_ok || threads < 1) return fail(env, "nchwcFilter: threads must be a positive integer");
  const int nO = (flipped ? ci : co) / b;
  const int t = nw < 65536 ? 1 : std::min(nO, threads);
  std::vector<std::thread> workers;
  for (int k = 1; k < t; k++) workers.emplace_back(blockFilter, w, out, kh, kw, ci, co, b, flipped, nO * k / t, nO * (k + 1) / t);
  blockFilter(w, out, kh, kw, ci, co, b, flipped, 0, nO / t);
  for (std::thread &k : workers) k.join();
  return nullptr;
}

// isas(): the instruction sets the kernel runs with here, best first ("avx512", "avx2"); empty where none.
napi_value IsaNames(napi_env env, napi_callback_info) {
  return stringArray(env, kIsas.size(), [](size_t k) { return kIsas[k]->name; });
}

napi_value Init(napi_env env, napi_value exports) {
  return exportFunctions(env, exports, {{"conv2dBackpropFilter", Conv2DBackpropFilter}, {"nchwcFilter", NchwcFilter}, {"isas", IsaNames}});
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
