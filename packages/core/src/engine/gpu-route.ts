import { readFileSync } from 'node:fs';

/**
 * Which of the two WebGPU routes `auto` tries first (ENGINE.md §8, §11): tfjs-backend-webgpu over
 * npm `webgpu` (Dawn), or the onnxruntime backend on onnxruntime-node's bundled WebGPU EP.
 *
 * Default: the ORT route first. Neither is measured in this suite yet (ENGINE.md §8's H100 figures
 * for tfjs-webgpu came from a prototype), and tfjs-webgpu 4.22 cannot read GPU data synchronously in
 * Node, which the training loop needs (webgpu-adapter.ts), so `auto` would reject it anyway. A
 * measured-choice file (written by the GPU checks, scripts/src/gpu) named by LVIT_GPU_ROUTE_FILE
 * replaces that default.
 */

export type GpuRoute = 'webgpu' | 'onnxruntime-webgpu';
export const GPU_ROUTES: readonly GpuRoute[] = ['onnxruntime-webgpu', 'webgpu'];
export const GPU_ROUTE_SCHEMA = 'lvit-bench/gpu-route@1';

/** One step configuration timed on both routes. */
export interface RouteTiming {
  config: string;
  medianMs: Partial<Record<GpuRoute, number>>;
}

export interface GpuRouteChoice {
  schema: typeof GPU_ROUTE_SCHEMA;
  faster: GpuRoute;
  /** Where and when it was measured (adapter description, ISO date). */
  adapter: string;
  measuredAt: string;
  timings: RouteTiming[];
}

export interface GpuRouteOrder {
  order: GpuRoute[];
  reason: string;
}

const DEFAULT_REASON = 'default order, neither measured yet: tfjs-webgpu cannot read GPU data synchronously in Node, which training needs';

/** The order `auto` tries the GPU routes in: the measured choice in `file` if given, else the default. */
export function gpuRouteOrder(file: string | undefined = process.env.LVIT_GPU_ROUTE_FILE): GpuRouteOrder {
  if (file === undefined || file === '') return { order: [...GPU_ROUTES], reason: DEFAULT_REASON };
  const choice = readGpuRouteChoice(file);
  return {
    order: [choice.faster, ...GPU_ROUTES.filter((r) => r !== choice.faster)],
    reason: `measured on ${choice.adapter} at ${choice.measuredAt} (${file}): ${choice.faster} faster`,
  };
}

export function readGpuRouteChoice(file: string): GpuRouteChoice {
  let parsed: Partial<GpuRouteChoice>;
  try {
    parsed = JSON.parse(readFileSync(file, 'utf8')) as Partial<GpuRouteChoice>;
  } catch (e) {
    throw new Error(`engine/gpu-route.ts: cannot read the GPU route choice ${file} (LVIT_GPU_ROUTE_FILE): ${(e as Error).message}`);
  }
  if (parsed.schema !== GPU_ROUTE_SCHEMA || !GPU_ROUTES.includes(parsed.faster as GpuRoute)) {
    throw new Error(`engine/gpu-route.ts: ${file} is not a ${GPU_ROUTE_SCHEMA} file with faster = ${GPU_ROUTES.join(' | ')}`);
  }
  return parsed as GpuRouteChoice;
}

/**
 * The faster route over the configurations timed on both: the one with the smaller sum of medians
 * (so the large steps, where the routes differ most, decide). Where no configuration ran on both,
 * the only route that ran any is the choice; null when neither ran.
 */
export function chooseGpuRoute(timings: RouteTiming[], adapter: string, measuredAt: Date): GpuRouteChoice | null {
  const ran = (t: RouteTiming, r: GpuRoute) => Number.isFinite(t.medianMs[r]);
  const both = timings.filter((t) => GPU_ROUTES.every((r) => ran(t, r)));
  const make = (faster: GpuRoute, used: RouteTiming[]): GpuRouteChoice => ({ schema: GPU_ROUTE_SCHEMA, faster, adapter, measuredAt: measuredAt.toISOString(), timings: used });
  if (both.length > 0) {
    const total = (r: GpuRoute) => both.reduce((s, t) => s + t.medianMs[r]!, 0);
    return make(total('webgpu') <= total('onnxruntime-webgpu') ? 'webgpu' : 'onnxruntime-webgpu', both);
  }
  const alone = GPU_ROUTES.filter((r) => timings.some((t) => ran(t, r)));
  return alone.length === 1 ? make(alone[0], timings.filter((t) => ran(t, alone[0]))) : null;
}
