import * as tf from '@tensorflow/tfjs';
import { createRequire } from 'node:module';
import { availableParallelism, cpus } from 'node:os';
import { patchCpuForTraining, patchWasmForTraining } from './kernels/index.js';
import { registerOnnxruntimeBackend } from './onnxruntime/index.js';
import { gpuRouteOrder } from './gpu-route.js';
import { gradientSelfTest, silenceCpuBanner } from './self-test.js';
import { createDawnGpu, describeWebgpuAdapter, syncReadbackFailure } from './webgpu-adapter.js';
import { loadWasmBackend, unloadWasmBackend, WASM_MAX_THREADS } from './wasm-loader.js';

/**
 * Backend selection for training (ENGINE.md §7). `auto` tries, best first:
 *   tensorflow (tfjs-node-gpu, tfjs-node: optional dependencies, absent where they cannot install)
 *   -> webgpu (Dawn, only on a real hardware adapter) and onnxruntime on its WebGPU EP, the
 *      measured-faster one first (gpu-route.ts)
 *   -> onnxruntime (tfjs backend whose heavy kernels run in onnxruntime-node)
 *   -> wasm threaded-SIMD with all cores -> wasm single-thread SIMD -> cpu.
 * Every choice must pass a one-step gradient self-test against the stock cpu backend on tiny shapes;
 * wasm and cpu get their training kernel patches first. What was skipped, and why, is logged and
 * returned.
 */

export type BackendRequest = 'auto' | 'tensorflow' | 'webgpu' | 'onnxruntime' | 'onnxruntime-webgpu' | 'wasm' | 'cpu';

export const BACKEND_REQUESTS: readonly BackendRequest[] = ['auto', 'tensorflow', 'webgpu', 'onnxruntime', 'onnxruntime-webgpu', 'wasm', 'cpu'];

export interface BackendInfo {
  requested: BackendRequest;
  /** tf.getBackend() */
  name: string;
  /** e.g. 'wasm threaded-SIMD, 2 threads, training patches' */
  detail: string;
  /** CPU model from os.cpus() or GPU adapter description */
  device: string;
  skipped: { backend: string; reason: string }[];
}

export interface InitBackendOptions {
  /** Threads for wasm/onnxruntime; default all logical cores (wasm caps at 8). */
  threads?: number;
  /** Where selection messages go; default stderr. */
  log?: (msg: string) => void;
  /**
   * The caller reads tensors only asynchronously (`await data()`, trainStepAsync), as the GPU
   * checks' step timing does: accept a backend that cannot read synchronously (tfjs-webgpu in Node).
   * The suite's training loop reads synchronously and cannot use one.
   */
  asyncReads?: boolean;
}

type Chosen = Pick<BackendInfo, 'name' | 'detail' | 'device'>;

interface Candidate {
  /** Label in logs and `skipped` (e.g. 'wasm-mt'). */
  label: string;
  /** Activates the backend or throws an Error whose message is the reason it is unavailable. */
  attempt(): Promise<Chosen>;
  /** Undo a half-made choice before trying the next option. */
  release?(): void;
}

const require = createRequire(import.meta.url);

export function parseBackendRequest(value: string | undefined): BackendRequest {
  const v = (value ?? '').trim().toLowerCase();
  if (v === '') return 'auto';
  if ((BACKEND_REQUESTS as readonly string[]).includes(v)) return v as BackendRequest;
  throw new Error(`engine/backend.ts: unknown backend '${value}'. Valid backends: ${BACKEND_REQUESTS.join(', ')}`);
}

export function cpuDescription(): string {
  const list = cpus();
  const model = list[0]?.model?.trim() || 'unknown CPU';
  return `${model} (${list.length} logical cores)`;
}

function defaultThreads(): number {
  return typeof availableParallelism === 'function' ? availableParallelism() : cpus().length;
}

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

// ---------------------------------------------------------------- candidates

function tensorflowCandidate(): Candidate {
  return {
    label: 'tensorflow',
    async attempt() {
      const reasons: string[] = [];
      for (const pkg of ['@tensorflow/tfjs-node-gpu', '@tensorflow/tfjs-node']) {
        try {
          require(pkg);
        } catch (e) {
          reasons.push(`${pkg}: ${errorMessage(e).split('\n')[0]}`);
          continue;
        }
        if (!(await tf.setBackend('tensorflow'))) throw new Error(`${pkg} loaded but its 'tensorflow' backend did not initialise`);
        const gpu = pkg.endsWith('-gpu');
        return { name: 'tensorflow', detail: `${pkg} (libtensorflow${gpu ? ', CUDA' : ''})`, device: gpu ? 'CUDA GPU via libtensorflow' : cpuDescription() };
      }
      throw new Error(`not installed (optional dependency; needs a libtensorflow download): ${reasons.join('; ')}`);
    },
  };
}

function webgpuCandidate(asyncReads: boolean): Candidate {
  return {
    label: 'webgpu',
    async attempt() {
      const { gpu, globals } = await createDawnGpu();
      Object.assign(globalThis, globals);
      const adapter = await describeWebgpuAdapter(gpu);
      if (adapter.software) throw new Error(`only a software/fallback adapter (${adapter.description}); wasm is faster`);
      // tfjs-backend-webgpu registers itself at import time only if navigator.gpu exists (ENGINE.md §8).
      const nav = (globalThis as { navigator?: object }).navigator ?? {};
      Object.defineProperty(globalThis, 'navigator', { value: { ...nav, gpu }, configurable: true, writable: true });
      require('@tensorflow/tfjs-backend-webgpu');
      if (!(await tf.setBackend('webgpu'))) throw new Error(`the tfjs webgpu backend did not initialise on ${adapter.description}`);
      const readback = asyncReads ? null : syncReadbackFailure();
      if (readback) throw new Error(`tfjs-webgpu on ${adapter.description} cannot read GPU tensors synchronously (${readback}); the suite's training reads them so`);
      return { name: 'webgpu', detail: `webgpu (Dawn) on ${adapter.description}`, device: adapter.description };
    },
  };
}

/**
 * The onnxruntime backend on the CPU EP, or on onnxruntime-node's bundled WebGPU EP (its own Dawn).
 * `needsAdapter`: in `auto`, the WebGPU EP is only tried once npm webgpu has seen a hardware adapter,
 * so CPU-only machines never start ORT's Dawn.
 */
function onnxruntimeCandidate(threads: number, executionProvider: 'cpu' | 'webgpu' = 'cpu', needsAdapter = false): Candidate {
  const gpu = executionProvider === 'webgpu';
  return {
    label: gpu ? 'onnxruntime-webgpu' : 'onnxruntime',
    async attempt() {
      if (needsAdapter) {
        const adapter = await describeWebgpuAdapter((await createDawnGpu()).gpu);
        if (adapter.software) throw new Error(`only a software/fallback adapter (${adapter.description})`);
      }
      const probe = gpu ? await webgpuProbe(threads) : await registerOnnxruntimeBackend({ executionProvider, intraOpNumThreads: threads });
      if (!probe.ok) throw new Error(probe.reason);
      if (!tf.findBackendFactory('onnxruntime')) throw new Error(`registerOnnxruntimeBackend reported ok but registered no 'onnxruntime' backend`);
      if (!(await tf.setBackend('onnxruntime'))) throw new Error(`the 'onnxruntime' backend did not initialise`);
      const kernels = gpu ? 'onnxruntime-node kernels on its WebGPU EP' : `onnxruntime-node kernels, ${threads} intra-op threads`;
      return { name: 'onnxruntime', detail: `${kernels}${probe.reason ? ` (${probe.reason})` : ''}`, device: gpu ? 'WebGPU (onnxruntime-node\'s bundled Dawn)' : cpuDescription() };
    },
  };
}

/**
 * The WebGPU EP keeps kernel outputs on the GPU (gpu-buffer IO binding); should that fail its
 * self-test, it runs with every output copied back, and says why. Neither is measured on a GPU yet.
 */
async function webgpuProbe(threads: number): Promise<{ ok: boolean; reason: string }> {
  const resident = await registerOnnxruntimeBackend({ executionProvider: 'webgpu', intraOpNumThreads: threads, gpuBufferOutputs: true });
  if (resident.ok) return resident;
  const copied = await registerOnnxruntimeBackend({ executionProvider: 'webgpu', intraOpNumThreads: threads });
  return copied.ok ? { ok: true, reason: `${copied.reason}; outputs copied back: keeping them on the GPU failed (${resident.reason})` } : { ok: false, reason: resident.reason };
}

/** Both GPU routes for `auto`, the measured-faster one first (gpu-route.ts). */
function gpuCandidates(threads: number, log: (msg: string) => void): Candidate[] {
  const { order, reason } = gpuRouteOrder();
  log(`[engine] GPU routes in order ${order.join(', ')}: ${reason}`);
  return order.map((route) => (route === 'webgpu' ? webgpuCandidate(false) : onnxruntimeCandidate(threads, 'webgpu', true)));
}

function wasmCandidate(threads: number): Candidate {
  const multithreaded = threads > 1;
  return {
    label: multithreaded ? 'wasm-mt' : 'wasm-1t',
    async attempt() {
      const loaded = await loadWasmBackend(threads);
      patchWasmForTraining();
      const build = loaded.multithreaded ? 'threaded-SIMD' : loaded.simd ? 'SIMD' : 'no SIMD';
      return {
        name: 'wasm',
        detail: `wasm ${build}, ${loaded.threads} thread${loaded.threads > 1 ? 's' : ''}, training patches`,
        device: cpuDescription(),
      };
    },
    release: () => unloadWasmBackend(),
  };
}

function cpuCandidate(): Candidate {
  return {
    label: 'cpu',
    async attempt() {
      if (!(await tf.setBackend('cpu'))) throw new Error('the tfjs cpu backend did not initialise');
      silenceCpuBanner();
      patchCpuForTraining();
      return { name: 'cpu', detail: 'cpu (pure JS), training patches; unit-test sizes only', device: cpuDescription() };
    },
  };
}

function candidatesFor(req: BackendRequest, threads: number, log: (msg: string) => void, asyncReads: boolean): { list: Candidate[]; notes: { backend: string; reason: string }[] } {
  const wasmThreads = Math.min(threads, WASM_MAX_THREADS);
  const notes: { backend: string; reason: string }[] = [];
  const wasm: Candidate[] = [];
  if (wasmThreads > 1) wasm.push(wasmCandidate(wasmThreads));
  else notes.push({ backend: 'wasm-mt', reason: threads === 1 ? '1 thread requested' : 'only 1 logical core' });
  wasm.push(wasmCandidate(1));
  switch (req) {
    case 'auto':
      return { list: [tensorflowCandidate(), ...gpuCandidates(threads, log), onnxruntimeCandidate(threads), ...wasm, cpuCandidate()], notes };
    case 'tensorflow':
      return { list: [tensorflowCandidate()], notes: [] };
    case 'webgpu':
      return { list: [webgpuCandidate(asyncReads)], notes: [] };
    case 'onnxruntime':
      return { list: [onnxruntimeCandidate(threads)], notes: [] };
    case 'onnxruntime-webgpu':
      return { list: [onnxruntimeCandidate(threads, 'webgpu')], notes: [] };
    case 'wasm':
      return { list: wasm, notes };
    case 'cpu':
      return { list: [cpuCandidate()], notes: [] };
  }
}

/**
 * Selects, initialises, patches and self-tests a backend. Explicit requests that cannot be met
 * throw with the reason. Safe to call again (e.g. to switch from wasm-mt to wasm-1t in a bench);
 * tensors created on a previous wasm backend are invalid afterwards.
 */
export async function initBackend(req: BackendRequest, opts: InitBackendOptions = {}): Promise<BackendInfo> {
  const log = opts.log ?? ((msg: string) => process.stderr.write(`${msg}\n`));
  const threads = opts.threads ?? defaultThreads();
  if (!Number.isInteger(threads) || threads < 1) {
    throw new Error(`engine/backend.ts: threads must be a positive integer, got ${opts.threads}`);
  }
  const { list, notes } = candidatesFor(req, threads, log, opts.asyncReads === true);
  const skipped = [...notes];
  for (const candidate of list) {
    let chosen: Chosen;
    try {
      chosen = await candidate.attempt();
    } catch (e) {
      candidate.release?.();
      skipped.push({ backend: candidate.label, reason: errorMessage(e) });
      continue;
    }
    const test = await gradientSelfTest(chosen.name);
    if (!test.ok) {
      candidate.release?.();
      skipped.push({ backend: candidate.label, reason: `gradient self-test failed: ${test.detail}` });
      continue;
    }
    const info: BackendInfo = { requested: req, ...chosen, skipped };
    log(`[engine] backend ${info.name}: ${info.detail} on ${info.device} (self-test: ${test.detail})`);
    for (const s of skipped) log(`[engine]   skipped ${s.backend}: ${s.reason}`);
    return info;
  }
  const reasons = skipped.map((s) => `${s.backend}: ${s.reason}`).join('; ');
  throw new Error(`engine/backend.ts: backend '${req}' is not available here. ${reasons}`);
}

/**
 * Releases the wasm backend's pthread workers (and its heap). Optional: the workers are unref'd
 * after initialisation, so a finished program exits on its own; call this to free them earlier.
 */
export function shutdownBackend(): void {
  if (tf.findBackendFactory('wasm')) unloadWasmBackend();
}
