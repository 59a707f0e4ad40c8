import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { runInThisContext } from 'node:vm';
import { writeFileAtomic } from '../io/atomic.js';

/**
 * Loads @tensorflow/tfjs-backend-wasm 4.22.0 from its Node bundle, optionally with the threaded-SIMD
 * binary running on Node worker_threads (ENGINE.md §1.2).
 *
 * Stock tfjs never uses threads in Node, for three reasons; this loader fixes each one:
 * 1. `WASM_HAS_MULTITHREAD_SUPPORT` evaluates to false under Node (tfjs#3830): we set the flag
 *    through `tf.env().set`, the supported override.
 * 2. `init()` hands Emscripten `blob:` URLs for the pthread worker script and the main script, and
 *    Node workers cannot load those: the bundle text is patched to write both scripts to files
 *    (the factory script gets the rollup globals `require$$N`, `commonjsGlobal` and the tslib helpers
 *    it references) and pass their paths.
 * 3. `init_with_threads_count()` caps the pool at `min(n, emscripten_num_logical_cores() / 2)`
 *    (it assumes SMT), which is 1 on 2 vCPUs: the patched bundle reports 16 logical cores (twice the
 *    Emscripten pool of 8 workers) and the thread count is always set explicitly.
 *
 * The patches target the 4.22.0 bundle text and throw if any of them does not apply. Every load
 * evaluates a fresh copy of the bundle (a new Emscripten module), after removing any 'wasm' backend
 * and kernels registered before, so switching between the threaded and the single-thread build in
 * one process works. Do not import '@tensorflow/tfjs-backend-wasm' anywhere else: a second copy
 * would re-register stock kernels over these.
 */

export const WASM_BACKEND_VERSION = '4.22.0';
/** Emscripten's PTHREAD_POOL_SIZE in the 4.22 threaded build; more threads would deadlock at init. */
export const WASM_MAX_THREADS = 8;

export interface WasmLoadResult {
  /** Threads XNNPACK actually uses (`getThreadsCount()`). */
  threads: number;
  multithreaded: boolean;
  simd: boolean;
}

interface WasmBundleExports {
  setThreadsCount(n: number): void;
  getThreadsCount(): number;
  version_wasm: string;
}

/** Text replacements applied to dist/tf-backend-wasm.node.js; each must match exactly once. */
interface TextPatch {
  name: string;
  find: RegExp;
  replace: string;
}

const PATCHES: TextPatch[] = [
  {
    name: 'pthread worker script as a file instead of a blob: URL',
    find: /var blob = new Blob\(\[response\], \{ type: 'application\/javascript' \}\);\s*return URL\.createObjectURL\(blob\);/,
    replace: 'return LVIT_WASM_MT.workerScriptPath(response);',
  },
  {
    name: 'main (factory) script as a file instead of a Blob',
    find: /factoryConfig\.mainScriptUrlOrBlob = new Blob\(\[("var WasmBackendModuleThreadedSimd = " \+\s*wasmFactoryThreadedSimd\.toString\(\))\], \{ type: 'text\/javascript' \}\);/,
    replace: 'factoryConfig.mainScriptUrlOrBlob = LVIT_WASM_MT.factoryScriptPath($1);',
  },
  {
    name: 'report 2x the pthread pool as logical cores (init_with_threads_count halves it)',
    find: /function _emscripten_num_logical_cores\(\) \{ if \(ENVIRONMENT_IS_NODE\)\s*return require\$\$4\.cpus\(\)\.length;/,
    replace: `function _emscripten_num_logical_cores() { if (ENVIRONMENT_IS_NODE) return ${2 * WASM_MAX_THREADS};`,
  },
];

const require = createRequire(import.meta.url);

function bundlePath(): string {
  const path = require.resolve('@tensorflow/tfjs-backend-wasm');
  if (!path.endsWith('tf-backend-wasm.node.js')) {
    throw new Error(`engine/wasm-loader.ts: expected the Node bundle of @tensorflow/tfjs-backend-wasm, resolved ${path}`);
  }
  return path;
}

function checkVersion(path: string): void {
  const pkg = JSON.parse(readFileSync(join(dirname(path), '..', 'package.json'), 'utf8')) as { version: string };
  if (pkg.version !== WASM_BACKEND_VERSION) {
    throw new Error(
      `engine/wasm-loader.ts: @tensorflow/tfjs-backend-wasm is ${pkg.version}; the loader patches the ${WASM_BACKEND_VERSION} bundle text. Pin @tensorflow/* to ${WASM_BACKEND_VERSION}.`,
    );
  }
}

/** Applies every patch; throws naming the first one that does not match exactly once. */
export function patchBundleText(text: string): string {
  let out = text;
  for (const patch of PATCHES) {
    const global = new RegExp(patch.find.source, 'g');
    const count = (out.match(global) ?? []).length;
    if (count !== 1) {
      throw new Error(
        `engine/wasm-loader.ts: patch '${patch.name}' matched ${count} times in tf-backend-wasm.node.js (expected 1); the bundle is not the ${WASM_BACKEND_VERSION} text this loader was written for.`,
      );
    }
    out = out.replace(patch.find, patch.replace);
  }
  return out;
}

/**
 * What the factory script needs besides the factory itself when a pthread worker evaluates it in
 * its global scope: the bundle's `var require$$N = require('...')` lines, `commonjsGlobal` and the
 * tslib helpers (`__read`, `__values`, `__spreadArray`, ...) the factory calls.
 */
export function factoryPrelude(text: string): string {
  const requires = [...text.matchAll(/^var (require\$\$\d+) = require\('([^']+)'\);$/gm)].map((m) => m[0]);
  const helpersStart = text.indexOf('var extendStatics = function');
  const spreadStart = text.indexOf('function __spreadArray(');
  const helpersEnd = spreadStart < 0 ? -1 : text.indexOf('\n}\n', spreadStart);
  if (requires.length === 0 || helpersStart < 0 || helpersEnd < 0 || helpersStart > spreadStart) {
    throw new Error('engine/wasm-loader.ts: could not find the rollup requires and tslib helpers in tf-backend-wasm.node.js');
  }
  return [
    ...requires,
    "var commonjsGlobal = typeof globalThis !== 'undefined' ? globalThis : global;",
    text.slice(helpersStart, helpersEnd + 2),
  ].join('\n');
}

/** Writes `content` once under a content-addressed temp dir (atomically) and returns its path. */
function writeScript(name: string, content: string): string {
  const hash = createHash('sha256').update(content).digest('hex').slice(0, 16);
  const dir = join(tmpdir(), `lvit-bench-wasm-mt-${hash}`);
  const path = join(dir, name);
  if (existsSync(path) && readFileSync(path, 'utf8') === content) return path;
  writeFileAtomic(path, content);
  return path;
}

/** Evaluates a fresh copy of the (patched) bundle as a CommonJS module next to the original file. */
function evaluateBundle(path: string, text: string): WasmBundleExports {
  const prelude = factoryPrelude(text);
  const hooks = {
    workerScriptPath: (contents: string) => writeScript('tfjs-backend-wasm-threaded-simd.worker.cjs', contents),
    factoryScriptPath: (factorySource: string) => writeScript('tfjs-backend-wasm-threaded-simd.factory.js', `${prelude}\n${factorySource}\n`),
  };
  const wrapper = runInThisContext(
    `(function (exports, require, module, __filename, __dirname, LVIT_WASM_MT) {${patchBundleText(text)}\n})`,
    { filename: `${path} (lvit-bench patched copy)` },
  ) as (...args: unknown[]) => void;
  const module = { exports: {} as WasmBundleExports };
  wrapper(module.exports, createRequire(path), module, path, dirname(path), hooks);
  return module.exports;
}

interface EngineInternals {
  registry: Record<string, unknown>;
  registryFactory: Record<string, unknown>;
  backendName: string | null;
  backendInstance: unknown;
  pendingBackendInit: unknown;
}

/**
 * Removes the registered 'wasm' backend and every 'wasm' kernel so a fresh bundle can register.
 * After an Emscripten abort (e.g. the 4 GB wasm32 heap is exhausted) the module throws on every
 * call, including dispose; then its pthread workers are terminated from JS and the engine's
 * entries are dropped by hand.
 */
function clearWasmRegistrations(): void {
  if (tf.findBackendFactory('wasm')) {
    try {
      tf.removeBackend('wasm');
    } catch {
      const pthread = wasmModule() as { PThread?: { terminateAllThreads(): void } } | null;
      try {
        pthread?.PThread?.terminateAllThreads();
      } catch {
        // the workers die with the process
      }
      const engine = tf.engine() as unknown as EngineInternals;
      delete engine.registry['wasm'];
      delete engine.registryFactory['wasm'];
      if (engine.backendName === 'wasm') {
        engine.backendName = null;
        engine.backendInstance = null;
        engine.pendingBackendInit = null;
      }
    }
  }
  for (const kernel of tf.getKernelsForBackend('wasm')) tf.unregisterKernel(kernel.kernelName, 'wasm');
}

interface EmscriptenWorker {
  unref(): void;
}
interface WasmModuleWithThreads {
  PThread?: { runningWorkers: EmscriptenWorker[]; unusedWorkers: EmscriptenWorker[] };
}

interface WasmModuleMemory {
  HEAPU8?: Uint8Array;
  /** Present in the threaded build (a shared memory). */
  wasmMemory?: WebAssembly.Memory;
}

/** The Emscripten module behind the registered 'wasm' backend (null when wasm is not initialised). */
export function wasmModule(): (WasmModuleWithThreads & WasmModuleMemory) | null {
  const backend = tf.engine().registry['wasm'] as unknown as { wasm?: WasmModuleWithThreads & WasmModuleMemory } | undefined;
  return backend?.wasm ?? null;
}

/** Current size of the wasm heap in bytes (it only grows), or null without a wasm backend. */
export function wasmHeapBytes(): number | null {
  const module = wasmModule();
  if (!module) return null;
  return module.wasmMemory?.buffer.byteLength ?? module.HEAPU8?.buffer.byteLength ?? null;
}

/**
 * Emscripten refs each worker that runs a pthread (XNNPACK's pool threads run for the life of the
 * backend), which keeps Node's event loop alive after the program is done. Unref them: the threads
 * keep working (they block on futexes, not on the event loop) and the process can exit normally.
 */
function unrefPthreadWorkers(): void {
  const pthread = wasmModule()?.PThread;
  if (!pthread) return;
  for (const worker of [...pthread.runningWorkers, ...pthread.unusedWorkers]) worker.unref();
}

/**
 * Loads and activates the wasm backend: `threads > 1` uses the threaded-SIMD binary through the
 * patched bundle, `threads === 1` the single-thread SIMD binary. Throws when it cannot initialise
 * (including when fewer threads than requested come up).
 */
export async function loadWasmBackend(threads: number): Promise<WasmLoadResult> {
  if (!Number.isInteger(threads) || threads < 1 || threads > WASM_MAX_THREADS) {
    throw new Error(`engine/wasm-loader.ts: threads must be an integer in 1..${WASM_MAX_THREADS}, got ${threads}`);
  }
  const path = bundlePath();
  checkVersion(path);
  const text = readFileSync(path, 'utf8');
  clearWasmRegistrations();
  const bundle = evaluateBundle(path, text);
  const multithreaded = threads > 1;
  tf.env().set('WASM_HAS_MULTITHREAD_SUPPORT', multithreaded);
  bundle.setThreadsCount(threads);
  const ok = await tf.setBackend('wasm');
  if (!ok || tf.getBackend() !== 'wasm') {
    clearWasmRegistrations();
    throw new Error(`engine/wasm-loader.ts: the wasm backend failed to initialise (${multithreaded ? 'threaded-SIMD' : 'SIMD'} build); see the tfjs warning above`);
  }
  unrefPthreadWorkers();
  const actual = bundle.getThreadsCount();
  const simd = (await tf.env().getAsync('WASM_HAS_SIMD_SUPPORT')) as boolean;
  if (actual !== threads) {
    clearWasmRegistrations();
    throw new Error(`engine/wasm-loader.ts: asked for ${threads} wasm threads, XNNPACK runs ${actual}`);
  }
  return { threads: actual, multithreaded, simd };
}

/**
 * Disposes the wasm backend (terminating its pthread workers) and removes its registrations.
 * Optional: the workers are unref'd, so a process exits without it.
 */
export function unloadWasmBackend(): void {
  clearWasmRegistrations();
}
