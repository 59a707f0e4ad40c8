import * as tf from '@tensorflow/tfjs';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { Rng } from '../rng.js';
import { createModel, getModelEntry, listModels } from '../registry.js';
import { LViT, LViTFeatures, lvitConfig, lvitFeatureShapes } from './index.js';

beforeAll(async () => {
  await tf.setBackend('cpu');
});

/** A reduced LViT that keeps every block: base 4, 32², 2×2 tokens (patches 16/8/4/2), 12-d text. */
const TINY = { baseChannels: 4, imageSize: 32, tokenGrid: 2, heads: 2, textDim: 12, textTokens: 10, seed: 3 };

const image = (seed: number, b = 2) => tf.randomUniform([b, 32, 32, 3], 0, 1, 'float32', seed) as tf.Tensor4D;
const text = (seed: number, b = 2) => tf.randomNormal([b, 10, 12], 0, 1, 'float32', seed) as tf.Tensor3D;
const maxAbsDiff = (a: tf.Tensor, b: tf.Tensor) => tf.tidy(() => tf.max(tf.abs(tf.sub(a, b))).dataSync()[0]);

describe('LViT at the full config (29.9 M parameters; built once, no forward)', () => {
  let full: LViT;
  beforeAll(() => {
    full = new LViT({ seed: 666 });
  });
  afterAll(() => full.dispose());

  it('has exactly the official forward-reachable parameter count, 29,908,033', () => {
    expect(full.parameterCount()).toBe(29_908_033);
  });

  it('matches the per-block sizes of LVIT.md §1.8 (in M, 2 decimals)', () => {
    const byModule = new Map<string, number>();
    for (const [name, v] of full.namedParameters()) {
      const top = name.split('.')[0];
      byModule.set(top, (byModule.get(top) ?? 0) + v.size);
    }
    const m = (name: string) => Math.round(byModule.get(name)! / 1e4) / 100;
    expect({ down4: m('down4'), downVit3: m('downVit3'), down3: m('down3'), up4: m('up4'), upVit3: m('upVit3'), text_module4: m('text_module4') }).toEqual(
      { down4: 4.72, downVit3: 4.7, down3: 3.54, up4: 3.47, upVit3: 3.15, text_module4: 1.18 },
    );
    // "of which 188,160 are used position embeddings" = 196·(64+128+256+512)
    const pos = full.namedParameters().filter(([n]) => n.endsWith('position_embeddings')).reduce((s, [, v]) => s + v.size, 0);
    expect(pos).toBe(188_160);
  });

  it('uses the official state-dict names and builds none of the unused modules', () => {
    const names = full.namedState().map(([n]) => n);
    for (const official of [
      'inc.conv.weight',
      'inc.norm.running_var',
      'down4.nConvs.1.conv.bias',
      'downVit.embeddings.patch_embeddings.weight',
      'downVit.embeddings.position_embeddings',
      'downVit.Encoder_blocks.0.attn.qkv.weight',
      'downVit.Encoder_blocks.0.mlp.fc2.bias',
      'downVit.CTBN3.norm.running_mean',
      'downVit2.CTBN.conv.weight',
      'upVit1.CTBN2.norm.weight',
      'upVit3.Encoder_blocks.0.norm2.weight',
      'up1.pixModule.bottleneck.2.weight',
      'up4.nConvs.0.conv.weight',
      'outc.weight',
      'reconstruct4.norm.running_mean',
      'text_module1.bias',
    ]) {
      expect(names).toContain(official);
    }
    const unused = /^pix_module|\.head\.|^(down|up)Vit\d?\.norm\.|conv_sig|^upVit\d?\.embeddings|^upVit3\.CTBN2|^downVit\.CTBN\.|^downVit[123]\.CTBN3|^upVit\d?\.CTBN3|^downVit\d?\.CTBN2/;
    expect(names.filter((n) => unused.test(n))).toEqual([]);
  });

  it('the full-config text path: [1,10,768] -> text1..4 and CTBN3 -> [1,196,64]', () => {
    const shapes = tf.tidy(() => {
      const t4 = full.text_module4!.forward(tf.zeros([1, 10, 768]) as tf.Tensor3D);
      const t3 = full.text_module3!.forward(t4);
      const t2 = full.text_module2!.forward(t3);
      const t1 = full.text_module1!.forward(t2);
      const mixed = full.downVit.CTBN3!.forward(t1, { training: false });
      return [t4, t3, t2, t1, mixed].map((t) => t.shape);
    });
    expect(shapes).toEqual([[1, 10, 512], [1, 10, 256], [1, 10, 128], [1, 10, 64], [1, 196, 64]]);
  });

  it('LViT-TW drops exactly the text path (text_module1..4 and CTBN3)', () => {
    const b = 64;
    const textModules = 3 * (768 * 8 * b + 8 * b * 4 * b + 4 * b * 2 * b + 2 * b * b) + (8 + 4 + 2 + 1) * b;
    const ctbn3 = 3 * 10 * 196 + 196 + 2 * 196;
    const tw = new LViT({ withText: false, seed: 666 });
    expect(tw.parameterCount()).toBe(29_908_033 - textModules - ctbn3);
    expect(tw.parameterCount()).toBe(28_204_861);
    tw.dispose();
  });
});

describe('LViT shapes', () => {
  it('the shape table at the full config is LVIT.md §8 (NHWC)', () => {
    const s = lvitFeatureShapes({}, 2);
    expect([s.text1, s.text2, s.text3, s.text4]).toEqual([[2, 10, 64], [2, 10, 128], [2, 10, 256], [2, 10, 512]]);
    expect([s.down1, s.down2, s.down3, s.down4]).toEqual([[2, 196, 64], [2, 196, 128], [2, 196, 256], [2, 196, 512]]);
    expect([s.up1, s.up2, s.up3, s.up4]).toEqual([[2, 196, 64], [2, 196, 128], [2, 196, 256], [2, 196, 512]]);
    expect([s.recon1, s.recon2, s.recon3, s.recon4]).toEqual([[2, 224, 224, 64], [2, 112, 112, 128], [2, 56, 56, 256], [2, 28, 28, 512]]);
    expect([s.x1, s.x2, s.x3, s.x4, s.x5]).toEqual([[2, 224, 224, 64], [2, 112, 112, 128], [2, 56, 56, 256], [2, 28, 28, 512], [2, 14, 14, 512]]);
    expect([s.dec4, s.dec3, s.dec2, s.dec1]).toEqual([[2, 28, 28, 256], [2, 56, 56, 128], [2, 112, 112, 64], [2, 224, 224, 64]]);
    expect(s.out).toEqual([2, 224, 224, 1]);
  });

  it('a reduced forward produces every intermediate with the shape of its table', () => {
    const model = new LViT(TINY);
    const want = lvitFeatureShapes(TINY, 2);
    let got: Record<string, number[] | null> = {};
    tf.tidy(() => {
      const f = model.forwardFeatures(image(1), text(2), { training: false });
      got = Object.fromEntries(Object.entries(f).map(([k, v]) => [k, v ? (v as tf.Tensor).shape : null]));
    });
    expect(got).toEqual(want);
    model.dispose();
  });

});

describe('LViT-T and LViT-TW on a reduced config', () => {
  it('forward + backward run; every parameter gets a finite, non-zero gradient', () => {
    const model = new LViT(TINY);
    const x = image(1);
    const t = text(2);
    const target = tf.tidy(() => tf.cast(tf.greater(tf.randomUniform([2, 32, 32, 1], 0, 1, 'float32', 9), 0.5), 'float32'));
    const vars = model.parameters();
    const { value, grads } = tf.variableGrads(() => {
      const p = model.forward(x, t, { training: true, rng: new Rng(5) });
      return tf.losses.logLoss(target, p) as tf.Scalar;
    }, vars);
    const loss = value.dataSync()[0];
    expect(Number.isFinite(loss)).toBe(true);
    const bad = model.namedParameters().filter(([, v]) => {
      const g = grads[v.name].dataSync();
      return !g.every(Number.isFinite) || g.every((e) => e === 0);
    });
    expect(bad.map(([n]) => n)).toEqual([]);
    tf.dispose([x, t, target, value, ...Object.values(grads)]);
    model.dispose();
  });

  it('forward leaves no tensors behind but its output (train mode updates BatchNorm in place)', () => {
    const model = new LViT(TINY);
    const x = image(1);
    const t = text(2);
    const before = tf.memory().numTensors;
    const out = model.forward(x, t, { training: true, rng: new Rng(1) });
    expect(tf.memory().numTensors).toBe(before + 1);
    out.dispose();
    tf.dispose([x, t]);
    model.dispose();
  });

  it('outputs probabilities, and text changes them only from the level-1 ViT onwards', () => {
    const model = new LViT(TINY);
    const x = image(1);
    const ctx = { training: false };
    const [diffs, inRange] = tf.tidy(() => {
      const a: LViTFeatures = model.forwardFeatures(x, text(2), ctx);
      const b: LViTFeatures = model.forwardFeatures(x, text(3), ctx);
      const out = a.out.dataSync();
      return [
        { x5: maxAbsDiff(a.x5, b.x5), down1: maxAbsDiff(a.down1, b.down1), out: maxAbsDiff(a.out, b.out) },
        out.every((p) => p > 0 && p < 1),
      ];
    });
    expect(inRange).toBe(true);
    expect(diffs.x5).toBe(0);
    expect(diffs.down1).toBeGreaterThan(1e-4);
    expect(diffs.out).toBeGreaterThan(1e-6);
    tf.dispose(x);
    model.dispose();
  });

  it('LViT-TW takes no text input, shares the common weights of LViT-T, and ignores text if given', () => {
    const tw = new LViT({ ...TINY, withText: false });
    const withText = new LViT(TINY);
    expect(tw.usesText).toBe(false);
    expect(tw.name).toBe('lvit-tw');
    expect(tw.namedParameters().filter(([n]) => /text_module|CTBN3/.test(n))).toEqual([]);
    expect(maxAbsDiff(tw.down3.nConvs.items[0].conv.weight, withText.down3.nConvs.items[0].conv.weight)).toBe(0);
    const x = image(4, 1);
    const ctx = { training: false };
    const [a, b] = tf.tidy(() => [tw.forward(x, null, ctx), tw.forward(x, text(5, 1), ctx)].map((t) => t.dataSync()));
    expect(Array.from(a)).toEqual(Array.from(b));
    expect(() => withText.forward(x, null, ctx)).toThrow(/lvit\.ts: lvit-t needs text features \[B,10,12\], got null/);
    tf.dispose(x);
    tw.dispose();
    withText.dispose();
  });

  it('rejects inputs of the wrong size', () => {
    const model = new LViT(TINY);
    const ctx = { training: false };
    expect(() => model.forward(tf.zeros([1, 64, 64, 3]) as tf.Tensor4D, tf.zeros([1, 10, 12]) as tf.Tensor3D, ctx)).toThrow(
      /lvit\.ts: image must be \[B,32,32,3\] \(NHWC\), got \[1,64,64,3\]/,
    );
    expect(() => model.forward(tf.zeros([1, 32, 32, 3]) as tf.Tensor4D, tf.zeros([1, 14, 12]) as tf.Tensor3D, ctx)).toThrow(
      /lvit\.ts: text must be \[1,10,12\]/,
    );
    model.dispose();
  });
});

describe('LViT config and registry', () => {
  it('derives patch sizes and rejects geometries that do not tile', () => {
    expect(() => lvitConfig({ imageSize: 100 })).toThrow(/imageSize must be a multiple of 16/);
    expect(() => lvitConfig({ imageSize: 128, tokenGrid: 14 })).toThrow(/level 1 feature map 128x128 is not a whole number of 14x14 token patches/);
    expect(() => lvitConfig({ imageSize: 128, tokenGrid: 32 })).toThrow(/level 3 feature map 32x32|level 4 feature map 16x16/);
    expect(() => lvitConfig({ baseChannels: 12 })).toThrow(/baseChannels 12 must be divisible by heads 8/);
    expect(() => lvitConfig({ base: 16 } as never)).toThrow(/unknown LViT config key\(s\) base/);
    expect(lvitConfig({ baseChannels: 16, imageSize: 128, tokenGrid: 8 })).toMatchObject({ baseChannels: 16, imageSize: 128, tokenGrid: 8, heads: 8 });
  });

  it("registers 'lvit-t' (text) and 'lvit-tw' (no text)", () => {
    expect(listModels()).toEqual(expect.arrayContaining(['lvit-t', 'lvit-tw']));
    expect(getModelEntry('lvit-t').usesText).toBe(true);
    expect(getModelEntry('lvit-tw').usesText).toBe(false);
    const t = createModel('lvit-t', { ...TINY });
    const tw = createModel('lvit-tw', { ...TINY });
    expect([t.name, t.usesText, tw.name, tw.usesText]).toEqual(['lvit-t', true, 'lvit-tw', false]);
    t.dispose();
    tw.dispose();
  });
});
