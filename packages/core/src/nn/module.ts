import * as tf from '@tensorflow/tfjs';
import { Rng } from '../rng.js';

/**
 * A minimal PyTorch-like module tree on top of tfjs variables.
 *
 * - Parameters are `tf.Variable`s named by their path in the tree (`down1.convs.0.conv.weight`),
 *   so checkpoints, parameter counts and "U-Net pretrain" weight copies work by name, as in the
 *   official code's state dicts.
 * - Buffers (BatchNorm running statistics) are non-trainable variables in the same tree.
 * - Layout is NHWC throughout (tfjs's native layout); upstream PyTorch is NCHW.
 */
export interface ForwardContext {
  /** Train mode: BatchNorm uses batch statistics and updates its running ones; dropout is active. */
  training: boolean;
  /** Randomness for dropout in train mode. */
  rng?: Rng;
}

export abstract class Module {
  private readonly children = new Map<string, Module>();
  private readonly params = new Map<string, tf.Variable>();
  private readonly buffers = new Map<string, tf.Variable>();

  protected child<M extends Module>(name: string, module: M): M {
    this.children.set(name, module);
    return module;
  }

  protected param(name: string, value: tf.Tensor): tf.Variable {
    const v = tf.variable(value, true);
    value.dispose();
    this.params.set(name, v);
    return v;
  }

  protected buffer(name: string, value: tf.Tensor): tf.Variable {
    const v = tf.variable(value, false);
    value.dispose();
    this.buffers.set(name, v);
    return v;
  }

  /** Trainable parameters with their dotted path, depth first in registration order. */
  namedParameters(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [n, v] of this.params) out.push([prefix + n, v]);
    for (const [n, m] of this.children) out.push(...m.namedParameters(`${prefix}${n}.`));
    return out;
  }

  /** Parameters and buffers: everything a checkpoint must hold to restore the model. */
  namedState(prefix = ''): [string, tf.Variable][] {
    const out: [string, tf.Variable][] = [];
    for (const [n, v] of this.params) out.push([prefix + n, v]);
    for (const [n, v] of this.buffers) out.push([prefix + n, v]);
    for (const [n, m] of this.children) out.push(...m.namedState(`${prefix}${n}.`));
    return out;
  }

  parameters(): tf.Variable[] {
    return this.namedParameters().map(([, v]) => v);
  }

  parameterCount(): number {
    return this.parameters().reduce((s, v) => s + v.size, 0);
  }

  dispose(): void {
    for (const [, v] of this.namedState()) v.dispose();
  }
}

/** Ordered list of modules, named "0", "1", ... like torch's nn.Sequential/ModuleList. */
export class ModuleList<M extends Module> extends Module {
  readonly items: M[];
  constructor(items: M[]) {
    super();
    this.items = items.map((m, i) => this.child(String(i), m));
  }
}

/** Uniform(-bound, bound) tensor from a seeded generator. */
export function uniformTensor(shape: number[], bound: number, rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = (rng.next() * 2 - 1) * bound;
  return tf.tensor(data, shape);
}

export function normalTensor(shape: number[], std: number, rng: Rng): tf.Tensor {
  const n = shape.reduce((a, b) => a * b, 1);
  const data = new Float32Array(n);
  for (let i = 0; i < n; i++) data[i] = rng.normal() * std;
  return tf.tensor(data, shape);
}
