import type * as tf from '@tensorflow/tfjs';
import type { Module } from '../nn/module.js';

export interface PretrainCopyReport {
  /** Model entries overwritten from the state (name and shape both matched). */
  copied: string[];
  /** State entries not used: no model entry of that name, or a different shape. */
  skipped: string[];
}

/**
 * The official "LViT_pretrain" initialisation (`train_model.py` l.108-122, README): after training a
 * U-Net, copy every state entry whose name also exists in LViT. With the official names that is
 * `inc`, `down1..4`, `up*.nConvs` and `outc` (parameters and BatchNorm running statistics); the
 * U-Net's ConvTranspose `up*.up.*` has no counterpart (LViT upsamples without parameters).
 *
 * Upstream compares names only (a shape mismatch would make torch's load fail); here a name must
 * also match in shape, so a state from a U-Net of another width is skipped entry by entry rather
 * than half-applied. Note that, as upstream, `up*.nConvs.0` is copied although the U-Net
 * concatenates [up, skip] and LViT [PLAM(skip), up]: the two input-channel halves swap roles.
 *
 * The state's tensors are copied (not kept); the caller still owns and disposes them.
 */
export function pretrainFromUNetState(model: Module, state: Map<string, tf.Tensor>): PretrainCopyReport {
  const target = new Map(model.namedState());
  const copied: string[] = [];
  const skipped: string[] = [];
  for (const [name, tensor] of state) {
    const variable = target.get(name);
    const sameShape =
      variable !== undefined &&
      variable.shape.length === tensor.shape.length &&
      variable.shape.every((d, i) => d === tensor.shape[i]);
    if (variable && sameShape && variable.dtype === tensor.dtype) {
      variable.assign(tensor);
      copied.push(name);
    } else {
      skipped.push(name);
    }
  }
  return { copied, skipped };
}
