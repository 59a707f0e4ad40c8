// Runs ONNX graphs through onnxruntime's C API with the inputs and outputs left where they are: in
// the JS typed arrays the engine hands over. onnxruntime-node's binding (ort-binding.ts) copies every
// output into a fresh ArrayBuffer after ORT wrote it into the preallocated array: ~0.3 ms a MB on
// this VM, plus the garbage collections the copies start (engine README, stop 28).
//
// The library is the one onnxruntime-node already loaded (libonnxruntime.so.1, found by its soname
// with RTLD_NOLOAD), so both share ORT's process-wide environment. No ORT header ships in any package
// this repo installs, so the few functions called here are declared below by their slot in ORT's
// function table (OrtApi). ORT only appends to that table, so a slot keeps its function in every
// release at or above the API version asked for.
//
// Its sessions also know two custom ops (domain lvit.native): training batch norm (+ ReLU) forward
// and backward, batch-norm-train.h's two-pass kernels, so a step's graph keeps them inside instead
// of being cut around a native kernel (kernels/batch-norm-train.ts).
#include <node_api.h>
#include "napi-args.h"
#include "batch-norm-train.h"
#include <climits>
#include <dlfcn.h>
#include <cstdint>
#include <cstring>
#include <string>
#include <vector>

namespace {

struct OrtStatus;
struct OrtEnv;
struct OrtSession;
struct OrtSessionOptions;
struct OrtValue;
struct OrtMemoryInfo;
struct OrtTypeInfo;
struct OrtTensorInfo;
struct OrtAllocator;
struct OrtKernelInfo;
struct OrtKernelContext;
struct OrtCustomOpDomain;
struct OrtShapeInferContext;
using Status = OrtStatus *;

// API version 17 (ORT 1.17) has every slot used here.
constexpr uint32_t kApiVersion = 17;

// Slot numbers in OrtApi (onnxruntime_c_api.h of ORT 1.29, `struct OrtApi`).
enum Slot : size_t {
  kCreateStatus = 0,
  kGetErrorMessage = 2,
  kCreateEnv = 3,
  kCreateSessionFromArray = 8,
  kRun = 9,
  kCreateSessionOptions = 10,
  kSetSessionExecutionMode = 13,
  kDisableMemPattern = 17,
  kEnableCpuMemArena = 18,
  kDisableCpuMemArena = 19,
  kSetSessionGraphOptimizationLevel = 23,
  kSetIntraOpNumThreads = 24,
  kSetInterOpNumThreads = 25,
  kEnableProfiling = 14,
  kCreateCustomOpDomain = 26,
  kCustomOpDomain_Add = 27,
  kAddCustomOpDomain = 28,
  kSessionGetInputCount = 30,
  kSessionGetOutputCount = 31,
  kSessionGetOutputTypeInfo = 34,
  kSessionGetInputName = 36,
  kSessionGetOutputName = 37,
  kCreateTensorWithDataAsOrtValue = 49,
  kGetTensorMutableData = 51,
  kCastTypeInfoToTensorInfo = 55,
  kGetTensorElementType = 60,
  kGetDimensionsCount = 61,
  kGetDimensions = 62,
  kGetTensorShapeElementCount = 64,
  kGetTensorTypeAndShape = 65,
  kCreateCpuMemoryInfo = 69,
  kKernelInfoGetAttribute_float = 85,
  kKernelInfoGetAttribute_int64 = 86,
  kKernelContext_GetInput = 90,
  kKernelContext_GetOutput = 91,
  kAllocatorFree = 76,
  kGetAllocatorWithDefaultOptions = 78,
  kReleaseStatus = 93,
  kReleaseSession = 95,
  kReleaseValue = 96,
  kReleaseTypeInfo = 98,
  kReleaseTensorTypeAndShapeInfo = 99,
  kReleaseSessionOptions = 100,
  kSessionEndProfiling = 110,
  kAddSessionConfigEntry = 130,
};

struct OrtApiBase {
  const void *(*GetApi)(uint32_t version);
  const char *(*GetVersionString)();
};

void *const *api = nullptr;  // ORT's function table
OrtEnv *env = nullptr;
OrtMemoryInfo *cpuMemory = nullptr;
OrtAllocator *allocator = nullptr;
std::string version;

template <typename Fn>
Fn fn(Slot slot) {
  return reinterpret_cast<Fn>(api[slot]);
}

// ORT's error message, or empty where the call succeeded; releases the status.
std::string check(Status s) {
  if (!s) return "";
  std::string msg = fn<const char *(*)(const OrtStatus *)>(kGetErrorMessage)(s);
  fn<void (*)(OrtStatus *)>(kReleaseStatus)(s);
  return msg.empty() ? "onnxruntime error" : msg;
}

template <typename... A>
std::string call(Slot slot, A... args) {
  return check(fn<Status (*)(A...)>(slot)(args...));
}

// Element types (ONNXTensorElementDataType) and their sizes.
size_t elementSize(int type) {
  switch (type) {
    case 1: return 4;  // float32
    case 2: return 1;  // uint8
    case 6: return 4;  // int32
    case 7: return 8;  // int64
    case 9: return 1;  // bool
    default: return 0;
  }
}

napi_value throwOrt(napi_env e, const std::string &what, const std::string &msg) { return fail(e, (what + ": " + msg).c_str()); }

// A tensor info's element type and dims (-1 where symbolic).
std::string typeAndDims(const OrtTensorInfo *t, int *type, std::vector<int64_t> &dims) {
  size_t rank = 0;
  std::string err = call(kGetTensorElementType, t, type);
  if (err.empty()) err = call(kGetDimensionsCount, t, &rank);
  dims.resize(rank);
  if (err.empty() && rank) err = call(kGetDimensions, t, dims.data(), rank);
  return err;
}

// ---- Custom ops: training batch norm (+ ReLU), forward and backward --------------------------------

// OrtCustomOp as ORT reads it at version 17 (onnxruntime_c_api.h, `struct OrtCustomOp`), field by
// field; ORT reads the four fields after GetEndVersion from versions 18 and 20 on only.
struct CustomOp {
  uint32_t version;
  void *(*CreateKernel)(const CustomOp *, const void *api, const OrtKernelInfo *);
  const char *(*GetName)(const CustomOp *);
  const char *(*GetExecutionProviderType)(const CustomOp *);
  int (*GetInputType)(const CustomOp *, size_t);
  size_t (*GetInputTypeCount)(const CustomOp *);
  int (*GetOutputType)(const CustomOp *, size_t);
  size_t (*GetOutputTypeCount)(const CustomOp *);
  void (*KernelCompute)(void *kernel, OrtKernelContext *);
  void (*KernelDestroy)(void *kernel);
  int (*GetInputCharacteristic)(const CustomOp *, size_t);
  int (*GetOutputCharacteristic)(const CustomOp *, size_t);
  int (*GetInputMemoryType)(const CustomOp *, size_t);
  int (*GetVariadicInputMinArity)(const CustomOp *);
  int (*GetVariadicInputHomogeneity)(const CustomOp *);
  int (*GetVariadicOutputMinArity)(const CustomOp *);
  int (*GetVariadicOutputHomogeneity)(const CustomOp *);
  Status (*CreateKernelV2)(const CustomOp *, const void *api, const OrtKernelInfo *, void **kernel);
  Status (*KernelComputeV2)(void *kernel, OrtKernelContext *);
  Status (*InferOutputShapeFn)(const CustomOp *, OrtShapeInferContext *);
  int (*GetStartVersion)(const CustomOp *);
  int (*GetEndVersion)(const CustomOp *);
  void *unread[4];  // GetMayInplace, ReleaseMayInplace, GetAliasMap, ReleaseAliasMap
};
static_assert(sizeof(CustomOp) == 26 * sizeof(void *), "OrtCustomOp is 26 pointers wide");

constexpr const char *kDomain = "lvit.native";

// A batch-norm op: its name, its float32 inputs and outputs, and its compute over them.
struct BatchNormOp : CustomOp {
  const char *name;
  size_t inputs, outputs;
  // Runs the pass over the op's tensors: inputs and outputs as data pointers, x [rows, C].
  void (*compute)(const float *const *in, float *const *out, size_t rows, size_t c, double eps, bool relu, int threads);
};

// A kernel's attributes: eps, relu (0|1) and threads (the session's intra-op threads).
struct BatchNormKernel {
  const BatchNormOp *op;
  float eps;
  bool relu;
  int threads;
};

Status statusOf(const std::string &msg) { return fn<Status (*)(int, const char *)>(kCreateStatus)(1 /* ORT_FAIL */, msg.c_str()); }

Status createBatchNormKernel(const CustomOp *op, const void *, const OrtKernelInfo *info, void **kernel) {
  float eps = 0;
  int64_t relu = 0, threads = 1;
  std::string err = call(kKernelInfoGetAttribute_float, info, "eps", &eps);
  if (err.empty()) err = call(kKernelInfoGetAttribute_int64, info, "relu", &relu);
  if (err.empty()) err = call(kKernelInfoGetAttribute_int64, info, "threads", &threads);
  if (!err.empty()) return statusOf(std::string(kDomain) + "." + static_cast<const BatchNormOp *>(op)->name + ": " + err);
  *kernel = new BatchNormKernel{static_cast<const BatchNormOp *>(op), eps, relu != 0, static_cast<int>(std::max<int64_t>(1, threads))};
  return nullptr;
}

// Dims of a value.
std::string dimsOf(const OrtValue *v, std::vector<int64_t> &dims) {
  OrtTensorInfo *t = nullptr;
  int type = 0;
  std::string err = call(kGetTensorTypeAndShape, v, &t);
  if (err.empty()) err = typeAndDims(t, &type, dims);
  if (t) fn<void (*)(OrtTensorInfo *)>(kReleaseTensorTypeAndShapeInfo)(t);
  return err;
}

// Input 0 or 1 (dy or x) is [..., C]; outputs are x's shape (the first) and [C] (the rest).
Status computeBatchNorm(void *kernelState, OrtKernelContext *ctx) {
  const auto *k = static_cast<const BatchNormKernel *>(kernelState);
  const BatchNormOp &op = *k->op;
  std::vector<const float *> in(op.inputs);
  std::vector<float *> out(op.outputs);
  std::vector<int64_t> dims;
  std::string err;
  for (size_t i = 0; err.empty() && i < op.inputs; i++) {
    const OrtValue *v = nullptr;
    void *data = nullptr;
    err = call(kKernelContext_GetInput, static_cast<const OrtKernelContext *>(ctx), i, &v);
    if (err.empty() && i == 0) err = dimsOf(v, dims);
    if (err.empty()) err = call(kGetTensorMutableData, const_cast<OrtValue *>(v), &data);
    in[i] = static_cast<const float *>(data);
  }
  if (err.empty() && dims.size() < 2) err = "x must be [..., C]";
  const int64_t c = dims.empty() ? 0 : dims.back();
  for (size_t i = 0; err.empty() && i < op.outputs; i++) {
    OrtValue *v = nullptr;
    void *data = nullptr;
    err = i == 0 ? call(kKernelContext_GetOutput, ctx, i, static_cast<const int64_t *>(dims.data()), dims.size(), &v)
                 : call(kKernelContext_GetOutput, ctx, i, static_cast<const int64_t *>(&c), static_cast<size_t>(1), &v);
    if (err.empty()) err = call(kGetTensorMutableData, v, &data);
    out[i] = static_cast<float *>(data);
  }
  if (!err.empty()) return statusOf(std::string(kDomain) + "." + op.name + ": " + err);
  size_t rows = 1;
  for (size_t d = 0; d + 1 < dims.size(); d++) rows *= static_cast<size_t>(dims[d]);
  if (rows && c) op.compute(in.data(), out.data(), rows, static_cast<size_t>(c), k->eps, k->relu, k->threads);
  return nullptr;
}

void forwardPass(const float *const *in, float *const *out, size_t rows, size_t c, double eps, bool relu, int threads) {
  batch_norm::forward(batch_norm::kPasses[0], in[0], in[1], in[2], out[0], out[1], out[2], rows, c, eps, relu, threads);
}

void backwardPass(const float *const *in, float *const *out, size_t rows, size_t c, double eps, bool relu, int threads) {
  batch_norm::backward(batch_norm::kPasses[0], in[0], in[1], in[2], in[3], in[4], in[5], out[0], out[1], out[2], rows, c, eps, relu, threads);
}

BatchNormOp batchNormOp(const char *name, size_t inputs, size_t outputs, decltype(BatchNormOp::compute) compute) {
  BatchNormOp op{};
  op.version = kApiVersion;
  op.GetName = [](const CustomOp *o) { return static_cast<const BatchNormOp *>(o)->name; };
  op.GetExecutionProviderType = [](const CustomOp *) -> const char * { return nullptr; };  // the cpu EP
  op.GetInputType = [](const CustomOp *, size_t) { return 1; };                            // float32
  op.GetInputTypeCount = [](const CustomOp *o) { return static_cast<const BatchNormOp *>(o)->inputs; };
  op.GetOutputType = [](const CustomOp *, size_t) { return 1; };
  op.GetOutputTypeCount = [](const CustomOp *o) { return static_cast<const BatchNormOp *>(o)->outputs; };
  op.KernelDestroy = [](void *k) { delete static_cast<BatchNormKernel *>(k); };
  op.GetInputCharacteristic = [](const CustomOp *, size_t) { return 0; };  // required
  op.GetOutputCharacteristic = [](const CustomOp *, size_t) { return 0; };
  op.GetInputMemoryType = [](const CustomOp *, size_t) { return 0; };  // default (cpu) memory
  op.GetVariadicInputMinArity = [](const CustomOp *) { return 1; };
  op.GetVariadicInputHomogeneity = [](const CustomOp *) { return 1; };
  op.GetVariadicOutputMinArity = [](const CustomOp *) { return 1; };
  op.GetVariadicOutputHomogeneity = [](const CustomOp *) { return 1; };
  op.CreateKernelV2 = createBatchNormKernel;
  op.KernelComputeV2 = computeBatchNorm;
  op.GetStartVersion = [](const CustomOp *) { return 1; };
  op.GetEndVersion = [](const CustomOp *) { return INT_MAX; };
  op.name = name;
  op.inputs = inputs;
  op.outputs = outputs;
  op.compute = compute;
  return op;
}

// (x, gamma, beta) -> (y, mean, variance) and (dy, x, y, gamma, mean, variance) -> (dx, dgamma, dbeta).
BatchNormOp batchNormTrain = batchNormOp("BatchNormTrain", 3, 3, forwardPass);
BatchNormOp batchNormTrainGrad = batchNormOp("BatchNormTrainGrad", 6, 3, backwardPass);
OrtCustomOpDomain *customOps = nullptr;  // made once, kept for the process (sessions hold on to it)

std::string makeCustomOps() {
  std::string err = call(kCreateCustomOpDomain, kDomain, &customOps);
  if (err.empty()) err = call(kCustomOpDomain_Add, customOps, static_cast<const void *>(&batchNormTrain));
  if (err.empty()) err = call(kCustomOpDomain_Add, customOps, static_cast<const void *>(&batchNormTrainGrad));
  return err;
}

// open(): ORT's version string, once the table, the environment and the CPU memory info are there.
napi_value Open(napi_env e, napi_callback_info) {
  if (!api) {
    void *lib = dlopen("libonnxruntime.so.1", RTLD_NOW | RTLD_NOLOAD);
    if (!lib) return fail(e, "ort-run: libonnxruntime.so.1 is not loaded (load onnxruntime-node's binding first)");
    auto getBase = reinterpret_cast<const OrtApiBase *(*)(uint32_t)>(dlsym(lib, "OrtGetApiBase"));
    if (!getBase) return fail(e, "ort-run: OrtGetApiBase not found in libonnxruntime.so.1");
    const OrtApiBase *base = getBase(kApiVersion);
    auto table = static_cast<void *const *>(base->GetApi(kApiVersion));
    if (!table) return fail(e, ("ort-run: onnxruntime " + std::string(base->GetVersionString()) + " lacks C API version 17").c_str());
    api = table;
    version = base->GetVersionString();
    // CreateEnv hands back the process's existing environment (the binding's) where there is one.
    std::string err = call(kCreateEnv, 2 /* warning */, "lvit-bench", &env);
    if (err.empty()) err = call(kCreateCpuMemoryInfo, 0 /* device allocator */, 0 /* default mem type */, &cpuMemory);
    if (err.empty()) err = call(kGetAllocatorWithDefaultOptions, &allocator);
    if (err.empty()) err = makeCustomOps();
    if (!err.empty()) {
      api = nullptr;
      return throwOrt(e, "ort-run: open", err);
    }
  }
  napi_value v;
  napi_create_string_utf8(e, version.c_str(), version.size(), &v);
  return v;
}

struct Session {
  OrtSession *session = nullptr;
  std::vector<std::string> inputs, outputs;
};

void releaseSession(Session *s) {
  if (s->session) fn<void (*)(OrtSession *)>(kReleaseSession)(s->session);
  s->session = nullptr;
}

void finalizeSession(napi_env, void *data, void *) {
  auto *s = static_cast<Session *>(data);
  releaseSession(s);
  delete s;
}

Session *unwrap(napi_env e, napi_value v) {
  void *data = nullptr;
  if (napi_get_value_external(e, v, &data) != napi_ok || !data) return nullptr;
  auto *s = static_cast<Session *>(data);
  return s->session ? s : nullptr;
}

std::string names(OrtSession *session, Slot count, Slot name, std::vector<std::string> &out) {
  size_t n = 0;
  std::string err = call(count, static_cast<const OrtSession *>(session), &n);
  for (size_t i = 0; err.empty() && i < n; i++) {
    char *str = nullptr;
    err = call(name, static_cast<const OrtSession *>(session), i, allocator, &str);
    if (err.empty()) {
      out.emplace_back(str);
      err = call(kAllocatorFree, allocator, static_cast<void *>(str));
    }
  }
  return err;
}

// createSession(model: Uint8Array, intraOpThreads, memArena: boolean, profilePrefix: string | null): a
// session handle. Options as ort-binding.ts's nativeOptions for the cpu EP: sequential, all graph
// optimizations, no spinning; and the custom ops.
napi_value CreateSession(napi_env e, napi_callback_info info) {
  size_t argc = 4;
  napi_value argv[4];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  uint8_t *model = nullptr;
  size_t bytes = 0;
  int32_t threads = 1;
  bool arena = false;
  napi_valuetype prefixType = napi_undefined;
  if (!api) return fail(e, "ort-run: createSession before open()");
  if (argc != 4 || !typedArray(e, argv[0], napi_uint8_array, &model, &bytes) || napi_get_value_int32(e, argv[1], &threads) != napi_ok || napi_get_value_bool(e, argv[2], &arena) != napi_ok ||
      napi_typeof(e, argv[3], &prefixType) != napi_ok || (prefixType != napi_null && prefixType != napi_string)) {
    return fail(e, "ort-run: createSession(model: Uint8Array, threads: number, memArena: boolean, profilePrefix: string | null)");
  }
  std::string prefix;
  if (prefixType == napi_string) {
    size_t len = 0;
    napi_get_value_string_utf8(e, argv[3], nullptr, 0, &len);
    prefix.resize(len + 1);
    napi_get_value_string_utf8(e, argv[3], prefix.data(), len + 1, &len);
    prefix.resize(len);
  }
  OrtSessionOptions *opts = nullptr;
  std::string err = call(kCreateSessionOptions, &opts);
  if (err.empty()) err = call(kSetIntraOpNumThreads, opts, static_cast<int>(threads));
  if (err.empty()) err = call(kSetInterOpNumThreads, opts, 1);
  if (err.empty()) err = call(kSetSessionExecutionMode, opts, 0 /* sequential */);
  if (err.empty()) err = call(kSetSessionGraphOptimizationLevel, opts, 99 /* all */);
  if (err.empty()) err = call(arena ? kEnableCpuMemArena : kDisableCpuMemArena, opts);
  if (err.empty()) err = call(kDisableMemPattern, opts);
  if (err.empty()) err = call(kAddSessionConfigEntry, opts, "session.intra_op.allow_spinning", "0");
  if (err.empty()) err = call(kAddSessionConfigEntry, opts, "session.inter_op.allow_spinning", "0");
  if (err.empty()) err = call(kAddCustomOpDomain, opts, customOps);
  if (err.empty() && prefixType == napi_string) err = call(kEnableProfiling, opts, prefix.c_str());
  auto *s = new Session();
  if (err.empty()) err = call(kCreateSessionFromArray, static_cast<const OrtEnv *>(env), static_cast<const void *>(model), bytes, static_cast<const OrtSessionOptions *>(opts), &s->session);
  if (opts) fn<void (*)(OrtSessionOptions *)>(kReleaseSessionOptions)(opts);
  if (err.empty()) err = names(s->session, kSessionGetInputCount, kSessionGetInputName, s->inputs);
  if (err.empty()) err = names(s->session, kSessionGetOutputCount, kSessionGetOutputName, s->outputs);
  if (!err.empty()) {
    releaseSession(s);
    delete s;
    return throwOrt(e, "ort-run: createSession", err);
  }
  napi_value handle;
  napi_create_external(e, s, finalizeSession, nullptr, &handle);
  return handle;
}

napi_value stringList(napi_env e, const std::vector<std::string> &list) {
  return stringArray(e, list.size(), [&](size_t k) { return list[k].c_str(); });
}

napi_value numberList(napi_env e, const std::vector<int64_t> &list) {
  napi_value arr;
  napi_create_array_with_length(e, list.size(), &arr);
  for (size_t k = 0; k < list.size(); k++) {
    napi_value n;
    napi_create_double(e, static_cast<double>(list[k]), &n);
    napi_set_element(e, arr, static_cast<uint32_t>(k), n);
  }
  return arr;
}

// sessionInfo(handle): { inputs: names, outputs: [{ name, type, shape }] } (type: ORT's element type code).
napi_value SessionInfo(napi_env e, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  Session *s = argc == 1 ? unwrap(e, argv[0]) : nullptr;
  if (!s) return fail(e, "ort-run: sessionInfo(handle) of a live session");
  napi_value outs;
  napi_create_array_with_length(e, s->outputs.size(), &outs);
  for (size_t i = 0; i < s->outputs.size(); i++) {
    OrtTypeInfo *ti = nullptr;
    const OrtTensorInfo *t = nullptr;
    int type = 0;
    std::vector<int64_t> dims;
    std::string err = call(kSessionGetOutputTypeInfo, static_cast<const OrtSession *>(s->session), i, &ti);
    if (err.empty()) err = call(kCastTypeInfoToTensorInfo, static_cast<const OrtTypeInfo *>(ti), &t);
    if (err.empty() && t) err = typeAndDims(t, &type, dims);
    if (ti) fn<void (*)(OrtTypeInfo *)>(kReleaseTypeInfo)(ti);
    if (!err.empty()) return throwOrt(e, "ort-run: sessionInfo", err);
    napi_value o, name, typeValue;
    napi_create_object(e, &o);
    napi_create_string_utf8(e, s->outputs[i].c_str(), NAPI_AUTO_LENGTH, &name);
    napi_create_int32(e, type, &typeValue);
    napi_set_named_property(e, o, "name", name);
    napi_set_named_property(e, o, "type", typeValue);
    napi_set_named_property(e, o, "shape", numberList(e, dims));
    napi_set_element(e, outs, static_cast<uint32_t>(i), o);
  }
  napi_value result;
  napi_create_object(e, &result);
  napi_set_named_property(e, result, "inputs", stringList(e, s->inputs));
  napi_set_named_property(e, result, "outputs", outs);
  return result;
}

// One tensor argument: { type, dims, data } with data a typed array of exactly dims' size.
std::string tensorOf(napi_env e, napi_value obj, OrtValue **out) {
  napi_value typeV, dimsV, dataV;
  int32_t type = 0;
  uint32_t rank = 0;
  if (napi_get_named_property(e, obj, "type", &typeV) != napi_ok || napi_get_value_int32(e, typeV, &type) != napi_ok) return "a tensor's type is not an element type code";
  const size_t size = elementSize(type);
  if (!size) return "element type " + std::to_string(type) + " is not supported";
  if (napi_get_named_property(e, obj, "dims", &dimsV) != napi_ok || napi_get_array_length(e, dimsV, &rank) != napi_ok) return "a tensor's dims are not an array";
  std::vector<int64_t> dims(rank);
  size_t count = 1;
  for (uint32_t k = 0; k < rank; k++) {
    napi_value d;
    napi_get_element(e, dimsV, k, &d);
    napi_get_value_int64(e, d, &dims[k]);
    if (dims[k] < 0) return "a tensor's dims are negative";
    count *= static_cast<size_t>(dims[k]);
  }
  bool isTyped = false;
  napi_typedarray_type arrayType;
  size_t length = 0;
  void *data = nullptr;
  if (napi_get_named_property(e, obj, "data", &dataV) != napi_ok || napi_is_typedarray(e, dataV, &isTyped) != napi_ok || !isTyped) return "a tensor's data is not a typed array";
  napi_get_typedarray_info(e, dataV, &arrayType, &length, &data, nullptr, nullptr);
  size_t byteLength = 0;
  switch (arrayType) {
    case napi_float32_array: case napi_int32_array: byteLength = length * 4; break;
    case napi_bigint64_array: byteLength = length * 8; break;
    default: byteLength = length;
  }
  if (byteLength != count * size) return "a tensor's data has " + std::to_string(byteLength) + " bytes, its dims and type need " + std::to_string(count * size);
  static uint64_t empty = 0;  // ORT rejects a null data pointer, even for a tensor with no elements
  return call(kCreateTensorWithDataAsOrtValue, static_cast<const OrtMemoryInfo *>(cpuMemory), data ? data : &empty, byteLength, static_cast<const int64_t *>(dims.data()), static_cast<size_t>(rank), type, out);
}

// An output ORT allocated, copied into a new { type, dims, data: ArrayBuffer }.
std::string copyOut(napi_env e, OrtValue *v, napi_value *out) {
  OrtTensorInfo *t = nullptr;
  int type = 0;
  std::vector<int64_t> dims;
  size_t count = 0;
  void *src = nullptr;
  std::string err = call(kGetTensorTypeAndShape, static_cast<const OrtValue *>(v), &t);
  if (err.empty()) err = typeAndDims(t, &type, dims);
  if (err.empty()) err = call(kGetTensorShapeElementCount, static_cast<const OrtTensorInfo *>(t), &count);
  if (t) fn<void (*)(OrtTensorInfo *)>(kReleaseTensorTypeAndShapeInfo)(t);
  if (err.empty()) err = call(kGetTensorMutableData, v, &src);
  if (!err.empty()) return err;
  if (!elementSize(type)) return "output element type " + std::to_string(type) + " is not supported";
  void *dst = nullptr;
  napi_value buffer, typeValue;
  napi_create_arraybuffer(e, count * elementSize(type), &dst, &buffer);
  if (count) std::memcpy(dst, src, count * elementSize(type));
  napi_create_object(e, out);
  napi_create_int32(e, type, &typeValue);
  napi_set_named_property(e, *out, "type", typeValue);
  napi_set_named_property(e, *out, "dims", numberList(e, dims));
  napi_set_named_property(e, *out, "data", buffer);
  return "";
}

// run(handle, feeds, fetches): feeds one { type, dims, data } per session input, in sessionInfo's
// order; fetches one per output: a { type, dims, data } that ORT writes into, or null to have ORT
// allocate it. Returns an array with, for each null fetch, its { type, dims, data: ArrayBuffer }.
napi_value Run(napi_env e, napi_callback_info info) {
  size_t argc = 3;
  napi_value argv[3];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  Session *s = argc == 3 ? unwrap(e, argv[0]) : nullptr;
  if (!s) return fail(e, "ort-run: run(handle, feeds, fetches) of a live session");
  uint32_t nIn = 0, nOut = 0;
  if (napi_get_array_length(e, argv[1], &nIn) != napi_ok || nIn != s->inputs.size()) return fail(e, ("ort-run: run: " + std::to_string(s->inputs.size()) + " feeds expected").c_str());
  if (napi_get_array_length(e, argv[2], &nOut) != napi_ok || nOut != s->outputs.size()) return fail(e, ("ort-run: run: " + std::to_string(s->outputs.size()) + " fetches expected").c_str());
  std::vector<OrtValue *> inputs(nIn, nullptr), outputs(nOut, nullptr);
  std::vector<bool> preallocated(nOut, false);
  std::vector<const char *> inNames(nIn), outNames(nOut);
  std::string err;
  for (uint32_t i = 0; err.empty() && i < nIn; i++) {
    napi_value feed;
    napi_get_element(e, argv[1], i, &feed);
    inNames[i] = s->inputs[i].c_str();
    err = tensorOf(e, feed, &inputs[i]);
    if (!err.empty()) err = "feed " + s->inputs[i] + ": " + err;
  }
  for (uint32_t i = 0; err.empty() && i < nOut; i++) {
    napi_value fetch;
    napi_valuetype kind;
    napi_get_element(e, argv[2], i, &fetch);
    napi_typeof(e, fetch, &kind);
    outNames[i] = s->outputs[i].c_str();
    if (kind == napi_null) continue;
    preallocated[i] = true;
    err = tensorOf(e, fetch, &outputs[i]);
    if (!err.empty()) err = "fetch " + s->outputs[i] + ": " + err;
  }
  if (err.empty()) {
    err = call(kRun, s->session, static_cast<const void *>(nullptr), static_cast<const char *const *>(inNames.data()), static_cast<const OrtValue *const *>(inputs.data()), static_cast<size_t>(nIn),
               static_cast<const char *const *>(outNames.data()), static_cast<size_t>(nOut), outputs.data());
  }
  napi_value allocated;
  napi_create_array(e, &allocated);
  for (uint32_t i = 0, k = 0; err.empty() && i < nOut; i++) {
    if (preallocated[i]) continue;
    napi_value out;
    err = copyOut(e, outputs[i], &out);
    if (err.empty()) napi_set_element(e, allocated, k++, out);
  }
  auto release = fn<void (*)(OrtValue *)>(kReleaseValue);
  for (OrtValue *v : inputs) if (v) release(v);
  for (OrtValue *v : outputs) if (v) release(v);
  return err.empty() ? allocated : throwOrt(e, "ort-run: run", err);
}

// endProfiling(handle): ends ORT's profiler of a session made with a profile prefix; the file it wrote.
napi_value EndProfiling(napi_env e, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  Session *s = argc == 1 ? unwrap(e, argv[0]) : nullptr;
  if (!s) return fail(e, "ort-run: endProfiling(handle) of a live session");
  char *file = nullptr;
  std::string err = call(kSessionEndProfiling, s->session, allocator, &file);
  if (!err.empty()) return throwOrt(e, "ort-run: endProfiling", err);
  napi_value v;
  napi_create_string_utf8(e, file, NAPI_AUTO_LENGTH, &v);
  call(kAllocatorFree, allocator, static_cast<void *>(file));
  return v;
}

// release(handle): frees the session now (otherwise when the handle is collected).
napi_value Release(napi_env e, napi_callback_info info) {
  size_t argc = 1;
  napi_value argv[1];
  napi_get_cb_info(e, info, &argc, argv, nullptr, nullptr);
  Session *s = argc == 1 ? unwrap(e, argv[0]) : nullptr;
  if (s) releaseSession(s);
  return nullptr;
}

napi_value Init(napi_env e, napi_value exports) {
  return exportFunctions(e, exports, {{"open", Open}, {"createSession", CreateSession}, {"sessionInfo", SessionInfo}, {"run", Run}, {"endProfiling", EndProfiling}, {"release", Release}});
}

}  // namespace

NAPI_MODULE(NODE_GYP_MODULE_NAME, Init)
