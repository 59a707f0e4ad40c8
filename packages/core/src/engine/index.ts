/** Training engine: backend selection, the threaded-wasm loader and the training kernel patches. */
export {
  BACKEND_REQUESTS,
  cpuDescription,
  initBackend,
  parseBackendRequest,
  shutdownBackend,
  type BackendInfo,
  type BackendRequest,
  type InitBackendOptions,
} from './backend.js';
export { ensureGlibcTunables, GLIBC_TUNABLES_VALUE } from './glibc.js';
export { chooseGpuRoute, gpuRouteOrder, readGpuRouteChoice, GPU_ROUTES, type GpuRoute, type GpuRouteChoice, type RouteTiming } from './gpu-route.js';
export { createDawnGpu, describeWebgpuAdapter, syncReadbackFailure, type WebgpuAdapterReport } from './webgpu-adapter.js';
export { isPatched, patchCpuForTraining, patchWasmForTraining, unpatchBackend, withStockKernels } from './kernels/index.js';
export { gradientSelfTest, type SelfTestResult } from './self-test.js';
export { loadWasmBackend, unloadWasmBackend, wasmHeapBytes, wasmModule, WASM_MAX_THREADS, type WasmLoadResult } from './wasm-loader.js';
export {
  DEFERRED_RUN,
  onnxruntimeStats,
  probeOrtWebgpu,
  profileRecordedStep,
  summarizeOrtProfile,
  type ProgramProfile,
  ONNXRUNTIME_BACKEND_NAME,
  registerOnnxruntimeBackend,
  resetOnnxruntimeStats,
  type OnnxruntimeBackendOptions,
} from './onnxruntime/index.js';
