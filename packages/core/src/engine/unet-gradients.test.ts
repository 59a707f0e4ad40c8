import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { ConvBatchNorm, DownBlock } from '../blocks/conv-bn-relu.js';
import { Conv2d, ConvTranspose2d } from '../nn/layers.js';
import { Module } from '../nn/module.js';
import { Rng } from '../rng.js';
import { injectScaledOutput } from './kernels/faulty-kernel.test-util.js';
import { patchWasmForTraining, withStockKernels } from './kernels/index.js';
import { seededValues, worstGradientError } from './kernels/reference.js';
import { silenceCpuBanner } from './self-test.js';
import { loadWasmBackend, unloadWasmBackend } from './wasm-loader.js';

/** A 3-level U-Net from the shared blocks: every kernel a segmentation training step needs. */
class TinyUNet extends Module {
  readonly inc: ConvBatchNorm;
  readonly down1: DownBlock;
  readonly down2: DownBlock;
  readonly up2: ConvTranspose2d;
  readonly conv2: ConvBatchNorm;
  readonly up1: ConvTranspose2d;
  readonly conv1: ConvBatchNorm;
  readonly outc: Conv2d;

  constructor(seed: number) {
    super();
    const rng = new Rng(seed);
    this.inc = this.child('inc', new ConvBatchNorm(3, 4, rng));
    this.down1 = this.child('down1', new DownBlock(4, 8, rng));
    this.down2 = this.child('down2', new DownBlock(8, 16, rng));
    this.up2 = this.child('up2', new ConvTranspose2d(16, 8, 2, 2, rng));
    this.conv2 = this.child('conv2', new ConvBatchNorm(16, 8, rng));
    this.up1 = this.child('up1', new ConvTranspose2d(8, 4, 2, 2, rng));
    this.conv1 = this.child('conv1', new ConvBatchNorm(8, 4, rng));
    this.outc = this.child('outc', new Conv2d(4, 1, 1, rng));
  }

  /** [B,H,W,3] -> logits [B,H,W,1] */
  forward(x: tf.Tensor4D): tf.Tensor4D {
    const ctx = { training: true };
    const x1 = this.inc.forward(x, ctx); // [B,H,W,4]
    const x2 = this.down1.forward(x1, ctx); // [B,H/2,W/2,8]
    const x3 = this.down2.forward(x2, ctx); // [B,H/4,W/4,16]
    const d2 = this.conv2.forward(tf.concat([x2, this.up2.forward(x3)], -1), ctx); // [B,H/2,W/2,8]
    const d1 = this.conv1.forward(tf.concat([x1, this.up1.forward(d2)], -1), ctx); // [B,H,W,4]
    return this.outc.forward(d1);
  }
}

const IMAGE: [number, number, number, number] = [2, 16, 16, 3];

function parameterGradients(): Map<string, Float32Array> {
  const model = new TinyUNet(7);
  const image = tf.tensor4d(seededValues(tf.util.sizeFromShape(IMAGE), 21), IMAGE);
  const mask = tf.tensor4d(Array.from(seededValues(2 * 16 * 16, 22), (v) => (v > 0.3 ? 1 : 0)), [2, 16, 16, 1]);
  const named = model.namedParameters();
  const { value, grads } = tf.variableGrads(() => tf.losses.sigmoidCrossEntropy(mask, model.forward(image)) as tf.Scalar, named.map(([, v]) => v));
  const out = new Map<string, Float32Array>([['loss', value.dataSync() as Float32Array]]);
  for (const [name, v] of named) out.set(name, grads[v.name].dataSync() as Float32Array);
  tf.dispose([value, image, mask, ...Object.values(grads)]);
  model.dispose();
  return out;
}

/**
 * Max |wasm - cpu| / max |cpu| per tensor. The longest float32 reductions here sum B·H·W = 512
 * terms, whose reordering explains up to n·u = 512 · 6e-8 ≈ 3e-5; measured worst 5.8e-6 (up1.bias).
 */
const TOLERANCE = 3e-5;

describe('whole-network gradients, wasm (patched) vs stock cpu', () => {
  let expected: Map<string, Float32Array>;
  beforeAll(async () => {
    await tf.setBackend('cpu');
    silenceCpuBanner();
    expected = await withStockKernels('cpu', () => parameterGradients());
    await loadWasmBackend(1);
    patchWasmForTraining();
  });
  afterAll(() => unloadWasmBackend());

  it('every U-Net parameter gradient matches', () => {
    const actual = parameterGradients();
    expect([...actual.keys()]).toEqual([...expected.keys()]);
    expect(actual.size).toBe(1 + 7 * 4 + 2 * 2 + 2); // loss, 7 conv+BN blocks, 2 up-convs, head
    const worst = worstGradientError(actual, expected);
    expect(worst.error, `worst: ${worst.name}`).toBeLessThan(TOLERANCE);
  });

  // The wasm patches a U-Net step runs; a 1 % error in any of them must fail the comparison.
  for (const kernel of ['Conv2DBackpropFilter', 'Conv2DBackpropInput', 'MaxPoolGrad', 'Sum', 'SplitV']) {
    it(`a 1 % error in the ${kernel} patch is caught`, () => {
      const restore = injectScaledOutput(kernel, 'wasm', 1.01);
      try {
        const worst = worstGradientError(parameterGradients(), expected);
        expect(worst.error, `worst: ${worst.name}`).toBeGreaterThan(10 * TOLERANCE);
      } finally {
        restore();
      }
    });
  }
});
