import * as tf from '@tensorflow/tfjs';

/**
 * The WebGPU adapter that npm `webgpu` (Dawn) finds (ENGINE.md §8). Used by backend selection and by
 * the GPU checks (scripts/src/gpu), which record what the adapter is before anything is timed.
 */

interface GpuAdapterInfoLike {
  vendor?: string;
  architecture?: string;
  device?: string;
  description?: string;
  isFallbackAdapter?: boolean;
}
interface GpuAdapterLike {
  info?: GpuAdapterInfoLike;
  isFallbackAdapter?: boolean;
  features?: Iterable<string>;
  limits?: Record<string, number>;
  requestAdapterInfo?: () => Promise<GpuAdapterInfoLike>;
}
export interface GpuLike {
  requestAdapter(opts?: { powerPreference?: string }): Promise<GpuAdapterLike | null>;
}

export interface WebgpuAdapterReport {
  /** vendor, architecture, device, description joined. */
  description: string;
  vendor: string;
  software: boolean;
  features: string[];
  limits: Record<string, number>;
}

/** Software rasterisers Dawn can expose: far slower than wasm (ENGINE.md §6). */
const SOFTWARE_ADAPTER = /llvmpipe|lavapipe|softpipe|swiftshader|software|microsoft basic render/i;

/** The limits that decide whether full-size training shapes fit. */
const LIMITS = ['maxBufferSize', 'maxStorageBufferBindingSize', 'maxComputeWorkgroupStorageSize', 'maxComputeInvocationsPerWorkgroup'];

function errorMessage(e: unknown): string {
  return e instanceof Error ? e.message : String(e);
}

/** Loads npm `webgpu` and creates its GPU object; throws a one-line reason when it cannot. */
export async function createDawnGpu(): Promise<{ gpu: GpuLike; globals: object }> {
  let webgpu: { create(options: string[]): GpuLike; globals: object };
  try {
    webgpu = (await import('webgpu')) as unknown as typeof webgpu;
  } catch (e) {
    throw new Error(`npm 'webgpu' (Dawn) does not load: ${errorMessage(e)}`);
  }
  return { gpu: webgpu.create([]), globals: webgpu.globals };
}

/** The high-performance adapter of `gpu`; throws a one-line reason when there is none. */
export async function describeWebgpuAdapter(gpu: GpuLike): Promise<WebgpuAdapterReport> {
  const adapter = await gpu.requestAdapter({ powerPreference: 'high-performance' });
  if (!adapter) throw new Error('Dawn found no WebGPU adapter (no Vulkan/Metal/D3D12 GPU)');
  const info = adapter.info ?? (await adapter.requestAdapterInfo?.()) ?? {};
  const description = [info.vendor, info.architecture, info.device, info.description].filter((s) => s && s.length > 0).join(' ') || 'unnamed adapter';
  const limits: Record<string, number> = {};
  for (const name of LIMITS) if (typeof adapter.limits?.[name] === 'number') limits[name] = adapter.limits[name];
  return {
    description,
    vendor: info.vendor ?? '',
    software: Boolean(info.isFallbackAdapter || adapter.isFallbackAdapter || SOFTWARE_ADAPTER.test(description)),
    features: [...(adapter.features ?? [])].sort(),
    limits,
  };
}

/**
 * Why the active backend cannot read a computed tensor synchronously, or null if it can. The suite
 * reads synchronously (losses in trainStep, checkpoints, Adam state, metrics), and tfjs-webgpu 4.22's
 * readSync of GPU data draws through an OffscreenCanvas, which Node does not have.
 */
export function syncReadbackFailure(): string | null {
  try {
    tf.tidy(() => tf.add(tf.ones([4]), tf.ones([4])).dataSync());
    return null;
  } catch (e) {
    return errorMessage(e).split('\n')[0];
  }
}
