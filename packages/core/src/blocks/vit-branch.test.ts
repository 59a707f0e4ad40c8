import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { VitBranch, VitBranchOptions } from './vit-branch.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

const eval_ = { training: false };
const small = (role: VitBranchOptions['role'], extra: Partial<VitBranchOptions> = {}): VitBranch =>
  new VitBranch({ role, dim: 8, featureSize: 8, patchSize: 4, tokens: 4, heads: 2, textTokens: 3, ...extra }, new Rng(4));

const childNames = (m: VitBranch) => [...new Set(m.namedParameters().map(([n]) => n.split('.')[0]))];

describe('VitBranch (one official VisionTransformer instance)', () => {
  it('builds only the parts its role reaches', () => {
    expect(childNames(small('down-text'))).toEqual(['embeddings', 'Encoder_blocks', 'CTBN3']);
    expect(childNames(small('down-text', { textTokens: null }))).toEqual(['embeddings', 'Encoder_blocks']);
    expect(childNames(small('down'))).toEqual(['embeddings', 'Encoder_blocks', 'CTBN']);
    expect(childNames(small('up'))).toEqual(['Encoder_blocks', 'CTBN2']);
    expect(childNames(small('up-deepest'))).toEqual(['Encoder_blocks']);
  });

  it("'down': concat(CTBN(Block(Emb(x))), skip) with the skip in the second half", () => {
    const vit = small('down');
    const x = tf.randomNormal([2, 8, 8, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
    const skip = tf.randomNormal([2, 4, 4], 0, 1, 'float32', 2) as tf.Tensor3D;
    const [y, own] = tf.tidy(() => {
      const out = vit.forwardDown(x, skip, null, { training: true });
      const expectedOwn = vit.CTBN!.forward(vit.Encoder_blocks.items[0].forward(vit.embeddings!.forward(x, eval_), eval_), { training: true });
      return [out.arraySync() as number[][][], expectedOwn.arraySync() as number[][][]];
    });
    const skipData = skip.arraySync();
    for (let b = 0; b < 2; b++) {
      for (let n = 0; n < 4; n++) {
        expect(y[b][n].slice(4)).toEqual(skipData[b][n]);
        y[b][n].slice(0, 4).forEach((v, i) => expect(Math.abs(v - own[b][n][i])).toBeLessThan(1e-5));
      }
    }
    tf.dispose([x, skip]);
  });

  it("'down-text' adds CTBN3(text) before the block; text changes the tokens", () => {
    const vit = small('down-text');
    const x = tf.randomNormal([1, 8, 8, 8], 0, 1, 'float32', 1) as tf.Tensor4D;
    const t1 = tf.randomNormal([1, 3, 8], 0, 1, 'float32', 2) as tf.Tensor3D;
    const t2 = tf.randomNormal([1, 3, 8], 0, 1, 'float32', 3) as tf.Tensor3D;
    const [a, b, manual] = tf.tidy(() => [
      vit.forwardDown(x, null, t1, eval_).dataSync(),
      vit.forwardDown(x, null, t2, eval_).dataSync(),
      vit.Encoder_blocks.items[0].forward(tf.add(vit.embeddings!.forward(x, eval_), vit.CTBN3!.forward(t1, eval_)), eval_).dataSync(),
    ]);
    expect(Array.from(a)).not.toEqual(Array.from(b));
    a.forEach((v, i) => expect(Math.abs(v - manual[i])).toBeLessThan(1e-6));
    expect(() => vit.forwardDown(x, null, null, eval_)).toThrow(/vit-branch\.ts: this branch mixes in text \(CTBN3\) but text is null/);
    tf.dispose([x, t1, t2]);
  });

  it("'up-deepest' is the block alone; 'up' adds CTBN2 of the deeper tokens", () => {
    const deepest = small('up-deepest');
    const up = small('up');
    const y = tf.randomNormal([2, 4, 8], 0, 1, 'float32', 5) as tf.Tensor3D;
    const deeper = tf.randomNormal([2, 4, 16], 0, 1, 'float32', 6) as tf.Tensor3D;
    const [d, dManual, u, uManual] = tf.tidy(() => [
      deepest.forwardUp(y, null, eval_).dataSync(),
      deepest.Encoder_blocks.items[0].forward(y, eval_).dataSync(),
      up.forwardUp(y, deeper, eval_).dataSync(),
      tf.add(up.Encoder_blocks.items[0].forward(y, eval_), up.CTBN2!.forward(deeper, eval_)).dataSync(),
    ]);
    expect(Array.from(d)).toEqual(Array.from(dManual));
    u.forEach((v, i) => expect(Math.abs(v - uManual[i])).toBeLessThan(1e-6));
    expect(() => up.forwardDown(tf.zeros([1, 8, 8, 8]) as tf.Tensor4D, null, null, eval_)).toThrow(/forwardDown called on a 'up' branch/);
    tf.dispose([y, deeper]);
  });

  it('full-config level 1 (downVit): x1 [1,224,224,64] + text1 [1,10,64] -> [1,196,64]', () => {
    const vit = new VitBranch({ role: 'down-text', dim: 64, featureSize: 224, patchSize: 16, tokens: 196, textTokens: 10 }, new Rng(1));
    const shape = tf.tidy(() => vit.forwardDown(tf.zeros([1, 224, 224, 64]) as tf.Tensor4D, null, tf.ones([1, 10, 64]) as tf.Tensor3D, eval_).shape);
    expect(shape).toEqual([1, 196, 64]);
    expect(vit.CTBN3!.conv.weight.shape).toEqual([3, 10, 196]); // Conv1d(10 -> 196), k3
    vit.dispose();
  });

  it('checks that the patch grid gives the token count', () => {
    expect(() => small('down', { tokens: 9 })).toThrow(/vit-branch\.ts: featureSize 8 \/ patchSize 4 gives 4 tokens, expected 9/);
  });
});
