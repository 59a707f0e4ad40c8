import * as tf from '@tensorflow/tfjs';
import type { Module } from './module.js';

const FILE = 'torch-state-dict.ts';

/** One tensor of a PyTorch state dict: torch shape and layout, float32 data. */
export interface TorchTensor {
  shape: number[];
  data: Float32Array;
}

/**
 * A tensor of a torch state dict in the suite's layout for the variable `name`: weights of Conv2d and
 * ConvTranspose2d go from torch's [d0,d1,kh,kw] to [kh,kw,d1,d0] (OIHW -> HWIO; a transposed conv's
 * [in,out,k,k] -> [k,k,out,in], as `ConvTranspose2d` stores it), Conv1d weights [out,in,k] -> [k,in,out],
 * Linear weights [out,in] -> [in,out]; biases, norms, buffers and position embeddings are copied as is.
 * The caller owns the result.
 */
export function torchToSuiteLayout(name: string, t: TorchTensor): tf.Tensor {
  return tf.tidy(() => {
    const x = tf.tensor(t.data, t.shape);
    if (!name.endsWith('.weight')) return x;
    if (t.shape.length === 4) return tf.transpose(x, [2, 3, 1, 0]);
    if (t.shape.length === 3) return tf.transpose(x, [2, 1, 0]);
    if (t.shape.length === 2) return tf.transpose(x);
    return x;
  });
}

/**
 * Copies a PyTorch state dict into a suite model whose field names follow the official code (LViT,
 * U-Net, TransUNet), like torch's `load_state_dict(strict=False)` for the model's side: every suite
 * parameter and buffer must be in the dict, entries the suite does not build (modules the official
 * forward never reaches) are ignored. `get(name)` returns the torch tensor or undefined.
 * Throws on a missing name or a shape that does not match; returns the names copied.
 */
export function loadTorchStateDict(model: Module, get: (name: string) => TorchTensor | undefined): string[] {
  const done: string[] = [];
  for (const [name, v] of model.namedState()) {
    const t = get(name);
    if (!t) throw new Error(`${FILE}: the state dict has no '${name}'`);
    const value = torchToSuiteLayout(name, t);
    if (value.shape.join(',') !== v.shape.join(',')) {
      value.dispose();
      throw new Error(`${FILE}: '${name}' is [${t.shape.join(',')}] in the state dict, the model needs [${v.shape.join(',')}] (suite layout)`);
    }
    v.assign(value);
    value.dispose();
    done.push(name);
  }
  return done;
}
