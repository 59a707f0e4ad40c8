import { GraphBuilder } from './onnx-graph.js';
import { listOrtBackends, loadOrtBinding, ortPackageVersion, OrtSession } from './ort-binding.js';

/**
 * Whether onnxruntime-node's bundled WebGPU EP finds an adapter: one Add graph run on it, its result
 * checked. ORT exposes no adapter description, so this reports only what ran. Throws a one-line
 * reason when the EP is missing or ORT's Dawn finds no adapter ("No supported adapters").
 */
export function probeOrtWebgpu(): { ortVersion: string; result: string } {
  loadOrtBinding();
  const eps = listOrtBackends();
  if (!eps.includes('webgpu')) throw new Error(`onnxruntime-node ${ortPackageVersion()} has no webgpu EP (has: ${eps.join(', ')})`);
  const g = new GraphBuilder();
  const a = g.input('float32', [4]);
  g.output(g.op('Add', [a, a]), 'float32', [4]);
  let session: OrtSession;
  try {
    session = new OrtSession(g.toBytes(), { executionProvider: 'webgpu', intraOpNumThreads: 1 }, 1, [[4]]);
  } catch (e) {
    // ORT prefixes its own source location and the failed condition; the reason is what follows.
    const reason = ((e as Error).message ?? String(e)).split('\n')[0].replace(/^.* was false\. /, '');
    throw new Error(`onnxruntime-node's WebGPU EP did not start: ${reason}`);
  }
  try {
    const [out] = session.run({ i0: { dims: [4], type: 'float32', location: 'cpu', data: new Float32Array([1, 2, 3, 4]) } });
    const got = Array.from(out.data as Float32Array);
    if (got.join() !== '2,4,6,8') throw new Error(`onnxruntime-node's WebGPU EP computed 1..4 + 1..4 = [${got.join(', ')}]`);
    return { ortVersion: ortPackageVersion(), result: 'Add of 4 floats ran on the WebGPU EP and matched' };
  } finally {
    session.dispose();
  }
}
