import * as tf from '@tensorflow/tfjs';
import { createModel, listModels, patchCpuForTraining, Rng } from '@lvit-bench/core';
import { beforeAll, describe, expect, it } from 'vitest';
import './index.js';
import { TransUNet } from './transunet.js';
import { TINY } from './transunet.fixtures.test-util.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
  patchCpuForTraining();
});


function blockCounts(model: TransUNet): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [n, v] of model.namedParameters()) {
    const parts = n.split('.');
    for (const k of [parts[0], parts.slice(0, 2).join('.'), parts.slice(0, 3).join('.')]) out[k] = (out[k] ?? 0) + v.size;
  }
  return out;
}

describe('TransUNet R50-ViT-B/16 (official Beckschen/TransUNet code)', () => {
  it('has the official parameter counts at 224 (TRANSUNET.md) and state-dict names', () => {
    const model = new TransUNet({ seed: 1 });
    try {
      expect(model.parameterCount()).toBe(105_275_921);
      const c = blockCounts(model);
      expect(c.transformer).toBe(97_888_576);
      expect(c['transformer.embeddings']).toBe(12_832_576);
      expect(c['transformer.embeddings.hybrid_model']).toBe(11_894_848);
      expect(c['transformer.encoder']).toBe(85_056_000);
      expect(c.decoder).toBe(7_387_200);
      expect(c.segmentation_head).toBe(145);
      const shapes = new Map(model.namedState().map(([n, v]) => [n, v.shape]));
      const expected: [string, number[]][] = [
        ['transformer.embeddings.position_embeddings', [1, 196, 768]],
        ['transformer.embeddings.hybrid_model.root.conv.weight', [7, 7, 3, 64]],
        ['transformer.embeddings.hybrid_model.root.gn.weight', [64]],
        ['transformer.embeddings.hybrid_model.body.block1.unit1.downsample.weight', [1, 1, 64, 256]],
        ['transformer.embeddings.hybrid_model.body.block1.unit1.gn_proj.bias', [256]],
        ['transformer.embeddings.hybrid_model.body.block3.unit9.conv2.weight', [3, 3, 256, 256]],
        ['transformer.embeddings.patch_embeddings.weight', [1, 1, 1024, 768]],
        ['transformer.encoder.layer.11.attn.query.weight', [768, 768]],
        ['transformer.encoder.layer.0.attn.out.bias', [768]],
        ['transformer.encoder.layer.0.ffn.fc1.weight', [768, 3072]],
        ['transformer.encoder.layer.0.attention_norm.weight', [768]],
        ['transformer.encoder.layer.0.ffn_norm.bias', [768]],
        ['transformer.encoder.encoder_norm.weight', [768]],
        ['decoder.conv_more.0.weight', [3, 3, 768, 512]],
        ['decoder.conv_more.1.running_var', [512]],
        ['decoder.blocks.0.conv1.0.weight', [3, 3, 1024, 256]],
        ['decoder.blocks.2.conv1.0.weight', [3, 3, 192, 64]],
        ['decoder.blocks.3.conv1.0.weight', [3, 3, 64, 16]],
        ['segmentation_head.0.weight', [3, 3, 16, 1]],
        ['segmentation_head.0.bias', [1]],
      ];
      for (const [n, s] of expected) expect(shapes.get(n), n).toEqual(s);
      expect(shapes.has('transformer.embeddings.hybrid_model.body.block1.unit2.downsample.weight')).toBe(false);
    } finally {
      model.dispose();
    }
    const two = new TransUNet({ seed: 1, nClasses: 2 });
    expect(two.parameterCount()).toBe(105_276_066);
    two.dispose();
  });

  it('is registered as "transunet"; a small config maps [B,S,S,3] and grey [B,S,S,1] to [B,S,S,1] probabilities', () => {
    expect(listModels()).toContain('transunet');
    const model = createModel('transunet', { ...TINY, seed: 3 });
    expect(model.usesText).toBe(false);
    const rng = new Rng(5);
    const x = tf.tensor4d(new Float32Array(2 * 32 * 32 * 3).map(() => rng.next()), [2, 32, 32, 3]);
    for (const training of [false, true]) {
      const out = model.forward(x, null, { training, rng: new Rng(1) });
      expect(out.shape).toEqual([2, 32, 32, 1]);
      for (const p of out.dataSync()) expect(p > 0 && p < 1).toBe(true);
      out.dispose();
    }
    expect(() => model.forward(tf.zeros([1, 48, 48, 3]) as tf.Tensor4D, null, { training: false })).toThrow(/baselines\/transunet\.ts/);
    model.dispose();
    // Grey input is repeated to 3 channels, exactly as the official forward.
    const grey = new TransUNet({ ...TINY, inChannels: 1, seed: 4 });
    const rgb = new TransUNet({ ...TINY, inChannels: 3, seed: 4 });
    const g = tf.tensor4d(new Float32Array(32 * 32).map(() => rng.next()), [1, 32, 32, 1]);
    const a = grey.forward(g, null, { training: false }).dataSync();
    const b = rgb.forward(tf.tile(g, [1, 1, 1, 3]) as tf.Tensor4D, null, { training: false }).dataSync();
    expect(Array.from(a)).toEqual(Array.from(b));
    grey.dispose();
    rgb.dispose();
  });

  it('rejects bad configs in the constructor with a plain message', () => {
    expect(() => new TransUNet({ seed: 1, imageSize: 100 })).toThrow(/multiple of 16/);
    expect(() => new TransUNet({ seed: 1, widthFactor: 0.25 })).toThrow(/GroupNorm/);
    expect(() => new TransUNet({ seed: 1, hiddenSize: 100, numHeads: 12 })).toThrow(/divisible/);
    expect(() => new TransUNet({ seed: 1, decoderChannels: [1, 2, 3] as never })).toThrow(/decoderChannels/);
  });

  it('pads the 1/4 skip at the bottom/right as the official ResNetV2 (55 -> 56 at 224; 7 -> 8 at 32)', () => {
    const model = new TransUNet({ ...TINY, seed: 2 });
    const seen = new Map<string, number[]>();
    const x = tf.ones([1, 32, 32, 3]) as tf.Tensor4D;
    model.logits(x, { training: false }, (n, t) => seen.set(n, t.shape));
    expect(seen.get('hybrid.root')).toEqual([1, 16, 16, 32]);
    expect(seen.get('hybrid.body.block1')).toEqual([1, 7, 7, 128]);
    expect(seen.get('hybrid.body.block2')).toEqual([1, 4, 4, 256]);
    expect(seen.get('hybrid.body.block3')).toEqual([1, 2, 2, 512]);
    expect(seen.get('embeddings')).toEqual([1, 4, 32]);
    expect(seen.get('decoder.blocks.1')).toEqual([1, 8, 8, 16]);
    expect(seen.get('segmentation_head')).toEqual([1, 32, 32, 1]);
    model.dispose();
  });
});
