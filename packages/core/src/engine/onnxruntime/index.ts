/**
 * tfjs backend whose heavy kernels run in onnxruntime-node (issue 9). Placeholder until that
 * backend lands: `registerOnnxruntimeBackend` reports it as unavailable so `auto` skips it.
 */
export interface OnnxruntimeBackendOptions {
  /** ORT execution provider; 'cpu' here, 'webgpu' to try on a GPU machine later. */
  executionProvider?: 'cpu' | 'webgpu';
  intraOpNumThreads?: number;
}

export interface BackendProbe {
  ok: boolean;
  reason: string;
}

export async function registerOnnxruntimeBackend(_opts: OnnxruntimeBackendOptions = {}): Promise<BackendProbe> {
  return { ok: false, reason: 'onnxruntime backend not implemented yet' };
}
