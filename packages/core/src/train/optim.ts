import * as tf from '@tensorflow/tfjs';
import { FUSED_ADAM, fusedAdamInputs, type FusedAdamAttrs } from '../engine/onnxruntime/kernels/adam.js';

/**
 * Adam exactly as `torch.optim.Adam` (no weight decay, no amsgrad), the official optimizer:
 *
 *   m = b1 m + (1 - b1) g;  v = b2 v + (1 - b2) g²
 *   p -= (lr / (1 - b1^t)) * m / (sqrt(v) / sqrt(1 - b2^t) + eps)
 *
 * i.e. m_hat / (sqrt(v_hat) + eps). As in torch, each parameter keeps its own step count and a
 * parameter without a gradient in a step is left alone (unused modules never move).
 */

/** One parameter's moments, read back for a checkpoint. */
export interface AdamSlotState {
  step: number;
  shape: number[];
  m: Float32Array;
  v: Float32Array;
}

export interface AdamState {
  lr: number;
  betas: [number, number];
  eps: number;
  slots: Record<string, AdamSlotState>;
}

interface Slot {
  param: tf.Variable;
  step: number;
  m: tf.Variable;
  v: tf.Variable;
}

export class Adam {
  lr: number;
  readonly betas: [number, number];
  readonly eps: number;
  private readonly slots = new Map<string, Slot>();

  constructor(params: [string, tf.Variable][], opts: { lr: number; betas?: [number, number]; eps?: number }) {
    this.lr = opts.lr;
    this.betas = opts.betas ?? [0.9, 0.999];
    this.eps = opts.eps ?? 1e-8;
    for (const [name, param] of params) {
      if (this.slots.has(name)) throw new Error(`train/optim.ts Adam: duplicate parameter name '${name}'`);
      this.slots.set(name, {
        param,
        step: 0,
        m: zeroSlot(param),
        v: zeroSlot(param),
      });
    }
  }

  /** One update from gradients keyed by parameter name. Unknown names are an error. */
  step(grads: Record<string, tf.Tensor>): void {
    for (const name of Object.keys(grads)) {
      if (!this.slots.has(name)) throw new Error(`train/optim.ts Adam.step: gradient for unknown parameter '${name}'`);
    }
    if (tf.getKernel(FUSED_ADAM, tf.getBackend()) !== undefined) {
      this.fusedStep(grads);
      return;
    }
    const [b1, b2] = this.betas;
    tf.tidy(() => {
      for (const [name, slot] of this.slots) {
        const g = grads[name];
        if (!g) continue;
        slot.step += 1;
        const biasCorrection1 = 1 - b1 ** slot.step;
        const biasCorrection2Sqrt = Math.sqrt(1 - b2 ** slot.step);
        const m = tf.add(tf.mul(slot.m, b1), tf.mul(g, 1 - b1));
        const v = tf.add(tf.mul(slot.v, b2), tf.mul(tf.mul(g, g), 1 - b2));
        slot.m.assign(m);
        slot.v.assign(v);
        const denom = tf.add(tf.div(tf.sqrt(v), biasCorrection2Sqrt), this.eps);
        slot.param.assign(tf.sub(slot.param, tf.mul(tf.div(m, denom), this.lr / biasCorrection1)));
      }
    });
  }

  /** The same update as one kernel over all parameters (engine/onnxruntime/kernels/adam.ts): one pass each, no op chain. */
  private fusedStep(grads: Record<string, tf.Tensor>): void {
    const [b1, b2] = this.betas;
    const slots = [...this.slots].filter(([name]) => grads[name]).map(([name, slot]) => ({ slot, grad: grads[name] }));
    if (slots.length === 0) return;
    for (const { slot } of slots) slot.step += 1;
    const attrs: FusedAdamAttrs = {
      beta1: b1,
      beta2: b2,
      eps: this.eps,
      stepSizes: slots.map(({ slot }) => this.lr / (1 - b1 ** slot.step)),
      biasCorrection2Sqrts: slots.map(({ slot }) => Math.sqrt(1 - b2 ** slot.step)),
    };
    const inputs = fusedAdamInputs(slots.map(({ slot, grad }) => ({ param: slot.param as tf.Tensor, m: slot.m as tf.Tensor, v: slot.v as tf.Tensor, grad })));
    const out = tf.engine().runKernel(FUSED_ADAM, inputs, attrs as unknown as tf.NamedAttrMap) as tf.Tensor[];
    slots.forEach(({ slot }, i) => {
      slot.param.assign(out[3 * i]);
      slot.m.assign(out[3 * i + 1]);
      slot.v.assign(out[3 * i + 2]);
    });
    tf.dispose(out);
  }

  /** Moments and step counts, copied out of the backend (for checkpoints). */
  getState(): AdamState {
    const slots: Record<string, AdamSlotState> = {};
    for (const [name, slot] of this.slots) {
      slots[name] = {
        step: slot.step,
        shape: [...slot.param.shape],
        m: new Float32Array(slot.m.dataSync() as Float32Array),
        v: new Float32Array(slot.v.dataSync() as Float32Array),
      };
    }
    return { lr: this.lr, betas: [...this.betas], eps: this.eps, slots };
  }

  /** Restore `getState()` output; every parameter must be present with the same shape. */
  setState(state: AdamState): void {
    const names = Object.keys(state.slots);
    const missing = [...this.slots.keys()].filter((n) => !(n in state.slots));
    const unknown = names.filter((n) => !this.slots.has(n));
    if (missing.length || unknown.length) {
      throw new Error(
        `train/optim.ts Adam.setState: parameter names differ (missing: ${missing.slice(0, 5).join(', ') || '-'}; unknown: ${unknown.slice(0, 5).join(', ') || '-'})`,
      );
    }
    if (state.betas[0] !== this.betas[0] || state.betas[1] !== this.betas[1] || state.eps !== this.eps) {
      throw new Error(`train/optim.ts Adam.setState: betas/eps ${state.betas}/${state.eps} differ from ${this.betas}/${this.eps}`);
    }
    for (const [name, slot] of this.slots) {
      const s = state.slots[name];
      if (!tf.util.arraysEqual(s.shape, slot.param.shape) || s.m.length !== slot.param.size || s.v.length !== slot.param.size) {
        throw new Error(`train/optim.ts Adam.setState: '${name}' has shape ${JSON.stringify(s.shape)}, expected ${JSON.stringify(slot.param.shape)}`);
      }
    }
    for (const [name, slot] of this.slots) {
      const s = state.slots[name];
      slot.step = s.step;
      tf.tidy(() => {
        slot.m.assign(tf.tensor(s.m, slot.param.shape));
        slot.v.assign(tf.tensor(s.v, slot.param.shape));
      });
    }
    this.lr = state.lr;
  }

  /** Free the moment buffers (the parameters belong to the model). */
  dispose(): void {
    for (const slot of this.slots.values()) {
      slot.m.dispose();
      slot.v.dispose();
    }
    this.slots.clear();
  }
}

/** A non-trainable zero variable shaped like `param` (tf.variable copies its initial value). */
function zeroSlot(param: tf.Variable): tf.Variable {
  const zeros = tf.zerosLike(param);
  const slot = tf.variable(zeros, false);
  zeros.dispose();
  return slot;
}
