import * as tf from '@tensorflow/tfjs';
import type { Module } from '@lvit-bench/core';

/**
 * Copies a PyTorch state dict (torch names and layouts) into a suite model whose field names follow the
 * official code (TransUNet, U-Net): conv weights OIHW -> HWIO, Linear weights [out,in] -> [in,out],
 * everything else as is. `get(name)` returns the torch tensor's shape and float32 data, or undefined.
 * Throws on a missing name or a shape that does not match; returns the names copied.
 */
export function loadTorchStateDict(
  model: Module,
  get: (name: string) => { shape: number[]; data: Float32Array } | undefined,
): string[] {
  const done: string[] = [];
  for (const [name, v] of model.namedState()) {
    const t = get(name);
    if (!t) throw new Error(`transunet-weights.ts: the state dict has no '${name}'`);
    const value = tf.tidy(() => {
      const x = tf.tensor(t.data, t.shape);
      if (v.rank === 4 && t.shape.length === 4) return tf.transpose(x, [2, 3, 1, 0]); // OIHW -> HWIO
      if (v.rank === 2 && t.shape.length === 2) return tf.transpose(x); // [out,in] -> [in,out]
      return x;
    });
    if (value.shape.join(',') !== v.shape.join(',')) {
      value.dispose();
      throw new Error(`transunet-weights.ts: '${name}' is [${t.shape.join(',')}] in the state dict, the model needs [${v.shape.join(',')}] (suite layout)`);
    }
    v.assign(value);
    value.dispose();
    done.push(name);
  }
  return done;
}
