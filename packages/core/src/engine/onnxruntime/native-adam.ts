import { createRequire } from 'node:module';

/**
 * The native Adam pass (native/adam.cc, compiled at install by native/build.mjs where a C++ compiler
 * and Node's headers exist): one call updates every parameter of a step, its elements split over
 * threads, bit-identical to the JS loop in kernels/adam.ts. `LVIT_NATIVE_ADAM=0` keeps the JS loop.
 */
export interface NativeAdam {
  /**
   * `arrays`: p, m, v, g, p', m', v' for each parameter (Float32Arrays, each parameter's of one
   * length); `stepSizes` lr / (1 - beta1^t) and `invBiasCorrection2Sqrts` 1 / sqrt(1 - beta2^t), one
   * per parameter; `hyper` [beta1, beta2, eps].
   */
  adamStep(arrays: Float32Array[], stepSizes: Float64Array, invBiasCorrection2Sqrts: Float64Array, hyper: Float64Array, threads: number): void;
}

let loaded: NativeAdam | null | undefined;
let reason = '';

/** The addon, or null (why: `nativeAdamStatus()`). */
export function nativeAdam(): NativeAdam | null {
  if (loaded !== undefined) return loaded;
  if (process.env.LVIT_NATIVE_ADAM === '0') {
    reason = 'off (LVIT_NATIVE_ADAM=0)';
    return (loaded = null);
  }
  try {
    // src/engine/onnxruntime and dist/engine/onnxruntime both sit three levels below packages/core.
    loaded = createRequire(import.meta.url)('../../../native/build/adam.node') as NativeAdam;
    reason = 'native (native/build/adam.node)';
  } catch (e) {
    loaded = null;
    reason = `JS loop: native/build/adam.node not loaded (${(e as Error).message.split('\n')[0]}); \`node packages/core/native/build.mjs\` builds it`;
  }
  return loaded;
}

/** Which Adam pass the engine uses, and why. */
export function nativeAdamStatus(): string {
  nativeAdam();
  return reason;
}
