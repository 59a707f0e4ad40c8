import * as tf from '@tensorflow/tfjs';
import { forgetStockKernel, rememberStockKernel, stockKernel, stockKernelKey } from './kernel-scope.js';
import { cpuConv2DBackpropFilterConfig } from './cpu/Conv2DBackpropFilter.js';
import { cpuResizeNearestNeighborGradConfig } from './cpu/ResizeNearestNeighborGrad.js';
import { wasmBatchMatMulConfig } from './wasm/BatchMatMul.js';
import { wasmSlowBroadcastConfigs } from './wasm/broadcast-binary.js';
import { wasmCastConfig } from './wasm/Cast.js';
import { wasmConcatConfig } from './wasm/Concat.js';
import { wasmConv2DBackpropFilterConfig } from './wasm/Conv2DBackpropFilter.js';
import { wasmConv2DBackpropInputConfig } from './wasm/Conv2DBackpropInput.js';
import { wasmDepthToSpaceConfig } from './wasm/DepthToSpace.js';
import { wasmIdentityConfig } from './wasm/Identity.js';
import { wasmMaxPoolGradConfig } from './wasm/MaxPoolGrad.js';
import { wasmMeanConfig } from './wasm/Mean.js';
import { wasmSplitVConfig } from './wasm/SplitV.js';
import { wasmSumConfig } from './wasm/Sum.js';
import { wasmTileConfig } from './wasm/Tile.js';
import { wasmTransposeConfig } from './wasm/Transpose.js';

/**
 * Training kernel patches (ENGINE.md §1.3, §2). Each replaces one kernel of one backend with a
 * composition of that backend's existing kernels; the replaced stock kernel stays reachable so a
 * patch can fall back to it and tests can compare against it.
 */

export const WASM_TRAINING_PATCHES: readonly tf.KernelConfig[] = [
  // ENGINE.md §1.3: the three that make wasm train at all / at XNNPACK speed.
  wasmConv2DBackpropFilterConfig,
  wasmConv2DBackpropInputConfig,
  wasmBatchMatMulConfig,
  // Slow generic paths found profiling the official U-Net and LViT steps.
  wasmTileConfig,
  wasmDepthToSpaceConfig,
  wasmMaxPoolGradConfig,
  ...wasmSlowBroadcastConfigs,
  wasmSumConfig,
  wasmMeanConfig,
  wasmIdentityConfig,
  wasmCastConfig,
  wasmConcatConfig,
  wasmSplitVConfig,
  wasmTransposeConfig,
];

export const CPU_TRAINING_PATCHES: readonly tf.KernelConfig[] = [cpuConv2DBackpropFilterConfig, cpuResizeNearestNeighborGradConfig];

const ours = new Set<tf.KernelFunc>([...WASM_TRAINING_PATCHES, ...CPU_TRAINING_PATCHES].map((c) => c.kernelFunc));
/** Kernels a patch added where the backend had none (nothing to restore on unpatch). */
const added = new Set<string>();

function install(config: tf.KernelConfig): void {
  const current = tf.getKernel(config.kernelName, config.backendName);
  if (current && ours.has(current.kernelFunc)) return; // already patched
  const key = stockKernelKey(config.kernelName, config.backendName);
  if (current) {
    rememberStockKernel(current);
    tf.unregisterKernel(config.kernelName, config.backendName);
    added.delete(key);
  } else {
    forgetStockKernel(config.kernelName, config.backendName);
    added.add(key);
  }
  tf.registerKernel(config);
}

function uninstall(config: tf.KernelConfig, stock: tf.KernelConfig | undefined): void {
  const current = tf.getKernel(config.kernelName, config.backendName);
  if (!current || !ours.has(current.kernelFunc)) return;
  tf.unregisterKernel(config.kernelName, config.backendName);
  if (stock) tf.registerKernel(stock);
}

/**
 * Registers the wasm training patches: Conv2DBackpropFilter (missing on stock wasm),
 * Conv2DBackpropInput and BatchMatMul on XNNPACK; Tile, DepthToSpace, MaxPoolGrad, Concat,
 * SplitV, leading-axes Sum/Mean and rank-5+ Transpose as single-pass loops or fast copies;
 * broadcasting comparisons via Tile; Identity and same-dtype Cast without a copy. Call after the
 * wasm backend is initialised (the loader re-registers stock kernels on every load). Idempotent.
 */
export function patchWasmForTraining(): void {
  // The stock kernels a patch wraps are set up (cwrap'd) when the backend initialises; a kernel
  // unregistered before that would never be.
  if (tf.getKernelsForBackend('wasm').length === 0 || !tf.engine().registry['wasm']) {
    throw new Error('engine/kernels/index.ts: the wasm backend is not initialised; load it (loadWasmBackend / initBackend) before patching it');
  }
  for (const config of WASM_TRAINING_PATCHES) install(config);
}

/**
 * Registers the cpu training patches: Conv2DBackpropFilter as one forward conv, and a correct
 * ResizeNearestNeighborGrad (the stock one is wrong for batch >= 2). Idempotent.
 */
export function patchCpuForTraining(): void {
  for (const config of CPU_TRAINING_PATCHES) install(config);
}

/** Restores the stock kernels of `backendName` (tests use it to build references). */
export function unpatchBackend(backendName: 'wasm' | 'cpu'): void {
  const list = backendName === 'wasm' ? WASM_TRAINING_PATCHES : CPU_TRAINING_PATCHES;
  for (const config of list) {
    const key = stockKernelKey(config.kernelName, config.backendName);
    const stock = added.has(key) ? undefined : stockOf(config);
    uninstall(config, stock);
  }
}

function stockOf(config: tf.KernelConfig): tf.KernelConfig | undefined {
  try {
    return stockKernel(config.kernelName, config.backendName);
  } catch {
    return undefined;
  }
}

/** Whether `kernelName` on `backendName` is currently one of the training patches. */
export function isPatched(kernelName: string, backendName: string): boolean {
  const current = tf.getKernel(kernelName, backendName);
  return current !== undefined && ours.has(current.kernelFunc);
}

/** Runs `fn` with the stock kernels of `backendName` registered, then restores the patches present before. */
export async function withStockKernels<T>(backendName: 'wasm' | 'cpu', fn: () => Promise<T> | T): Promise<T> {
  const list = backendName === 'wasm' ? WASM_TRAINING_PATCHES : CPU_TRAINING_PATCHES;
  const wasPatched = list.filter((c) => isPatched(c.kernelName, c.backendName));
  unpatchBackend(backendName);
  try {
    return await fn();
  } finally {
    for (const config of wasPatched) install(config);
  }
}
