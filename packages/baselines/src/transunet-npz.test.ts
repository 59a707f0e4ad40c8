import * as tf from '@tensorflow/tfjs';
import { execFileSync } from 'node:child_process';
import { createHash } from 'node:crypto';
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { loadTorchStateDict, nchwToNhwc, npzBytes, pythonModulesMissing, readTensorExport, REFERENCE_PYTHON, Rng, skipOutsideCi } from '@lvit-bench/core';
import { TransUNet } from './transunet.js';
import { loadImageNet21kNpz } from './transunet-npz.js';
import { zoomGridLinear } from './ndimage-zoom.js';
import { TINY } from './transunet.fixtures.test-util.js';

/**
 * The ImageNet-21k .npz loader: on an archive written here (stored and deflated) with the official key
 * layout for the TINY config, written from the official load_from's key patterns (not from the loader's
 * key map), with a 14x14 + class-token position embedding as the real file has; its errors; the grid
 * resize against scipy.ndimage.zoom; and, with torch, against the official load_from itself.
 */
const dir = mkdtempSync(join(tmpdir(), 'transunet-npz-'));
afterAll(() => rmSync(dir, { recursive: true, force: true }));
beforeAll(async () => {
  await tf.setBackend('cpu');
});

type Arrays = Map<string, { shape: number[]; data: Float32Array }>;

/** Random arrays under the R50+ViT-B_16.npz keys and shapes (HWIO convs, [in,out] Dense, [hidden,heads,d] attention). */
function officialLayout(c: typeof TINY, grid: number, seed: number): Arrays {
  const rng = new Rng(seed);
  const out: Arrays = new Map();
  const put = (key: string, ...shape: number[]) => {
    const n = shape.reduce((a, b) => a * b, 1);
    out.set(key, { shape, data: Float32Array.from({ length: n }, () => rng.normal()) });
  };
  const hid = c.hiddenSize;
  const heads = c.numHeads;
  const w = 64 * c.widthFactor;
  put('conv_root/kernel', 7, 7, 3, w);
  put('gn_root/scale', w);
  put('gn_root/bias', w);
  const widths = [
    [w, 4 * w, w],
    [4 * w, 8 * w, 2 * w],
    [8 * w, 16 * w, 4 * w],
  ];
  c.resnetUnits.forEach((units, b) => {
    const [cin, cout, cmid] = widths[b];
    for (let u = 1; u <= units; u++) {
      const k = `block${b + 1}/unit${u}`;
      put(`${k}/conv1/kernel`, 1, 1, u === 1 ? cin : cout, cmid);
      put(`${k}/conv2/kernel`, 3, 3, cmid, cmid);
      put(`${k}/conv3/kernel`, 1, 1, cmid, cout);
      for (const [g, ch] of [['gn1', cmid], ['gn2', cmid], ['gn3', cout]] as const) {
        put(`${k}/${g}/scale`, ch);
        put(`${k}/${g}/bias`, ch);
      }
      if (u === 1) {
        put(`${k}/conv_proj/kernel`, 1, 1, cin, cout);
        put(`${k}/gn_proj/scale`, cout);
        put(`${k}/gn_proj/bias`, cout);
      }
    }
  });
  put('embedding/kernel', 1, 1, 16 * w, hid);
  put('embedding/bias', hid);
  put('Transformer/posembed_input/pos_embedding', 1, grid * grid + 1, hid);
  put('Transformer/encoder_norm/scale', hid);
  put('Transformer/encoder_norm/bias', hid);
  for (let i = 0; i < c.numLayers; i++) {
    const r = `Transformer/encoderblock_${i}`;
    for (const n of ['query', 'key', 'value']) {
      put(`${r}/MultiHeadDotProductAttention_1/${n}/kernel`, hid, heads, hid / heads);
      put(`${r}/MultiHeadDotProductAttention_1/${n}/bias`, heads, hid / heads);
    }
    put(`${r}/MultiHeadDotProductAttention_1/out/kernel`, heads, hid / heads, hid);
    put(`${r}/MultiHeadDotProductAttention_1/out/bias`, hid);
    put(`${r}/MlpBlock_3/Dense_0/kernel`, hid, c.mlpDim);
    put(`${r}/MlpBlock_3/Dense_0/bias`, c.mlpDim);
    put(`${r}/MlpBlock_3/Dense_1/kernel`, c.mlpDim, hid);
    put(`${r}/MlpBlock_3/Dense_1/bias`, hid);
    for (const n of ['LayerNorm_0', 'LayerNorm_2']) {
      put(`${r}/${n}/scale`, hid);
      put(`${r}/${n}/bias`, hid);
    }
  }
  put('cls', 1, 1, hid); // in the real file, not read by load_from
  put('head/kernel', hid, 3);
  return out;
}

function state(model: TransUNet): Map<string, Float32Array> {
  return new Map(model.namedState().map(([n, v]) => [n, v.dataSync() as Float32Array]));
}

describe('ImageNet-21k .npz loader', () => {
  for (const compression of ['stored', 'deflated'] as const) {
    it(`loads every encoder array where the official load_from puts it (${compression})`, () => {
      const arrays = officialLayout(TINY, 14, 5);
      const file = join(dir, `tiny-${compression}.npz`);
      writeFileSync(file, npzBytes(arrays, compression));
      const model = new TransUNet({ ...TINY, seed: 1 });
      const before = state(model);
      const info = loadImageNet21kNpz(model, file);
      const after = state(model);
      const flat = (key: string) => arrays.get(key)!.data;
      // A few placements spelled out: HWIO kernels and [in,out] Dense kernels are the suite's layout; attention kernels flatten.
      expect(after.get('transformer.embeddings.hybrid_model.root.conv.weight')).toEqual(flat('conv_root/kernel'));
      expect(after.get('transformer.embeddings.hybrid_model.body.block2.unit2.conv2.weight')).toEqual(flat('block2/unit2/conv2/kernel'));
      expect(after.get('transformer.embeddings.hybrid_model.body.block3.unit1.downsample.weight')).toEqual(flat('block3/unit1/conv_proj/kernel'));
      expect(after.get('transformer.embeddings.hybrid_model.body.block1.unit1.gn_proj.bias')).toEqual(flat('block1/unit1/gn_proj/bias'));
      expect(after.get('transformer.encoder.layer.1.attn.out.weight')).toEqual(flat('Transformer/encoderblock_1/MultiHeadDotProductAttention_1/out/kernel'));
      expect(after.get('transformer.encoder.layer.0.attn.key.bias')).toEqual(flat('Transformer/encoderblock_0/MultiHeadDotProductAttention_1/key/bias'));
      expect(after.get('transformer.encoder.layer.1.ffn.fc2.weight')).toEqual(flat('Transformer/encoderblock_1/MlpBlock_3/Dense_1/kernel'));
      expect(after.get('transformer.encoder.layer.0.ffn_norm.weight')).toEqual(flat('Transformer/encoderblock_0/LayerNorm_2/scale'));
      expect(after.get('transformer.encoder.encoder_norm.bias')).toEqual(flat('Transformer/encoder_norm/bias'));
      // Every array but the position embedding and the two load_from ignores lands in exactly one parameter.
      const used = [...arrays.keys()].filter((k) => k !== 'Transformer/posembed_input/pos_embedding' && k !== 'cls' && k !== 'head/kernel');
      expect(info.loaded).toHaveLength(used.length + 1);
      for (const k of used) expect([...after.values()].filter((v) => v.length === flat(k).length && v.every((x, i) => x === flat(k)[i])), k).toHaveLength(1);
      expect(info.ignored.sort()).toEqual(['cls', 'head/kernel']);
      // Position embedding: the class token dropped, the 14x14 grid zoomed to 2x2: corners of the grid.
      const pos = after.get('transformer.embeddings.position_embeddings')!;
      const grid = flat('Transformer/posembed_input/pos_embedding').subarray(TINY.hiddenSize);
      const token = (t: number) => Array.from(grid.subarray(t * TINY.hiddenSize, (t + 1) * TINY.hiddenSize));
      expect([0, 1, 2, 3].map((t) => Array.from(pos.subarray(t * TINY.hiddenSize, (t + 1) * TINY.hiddenSize)))).toEqual([token(0), token(13), token(13 * 14), token(195)]);
      expect(info.positionEmbedding).toContain('14x14 -> 2x2');
      // The decoder, its BatchNorm statistics and the head keep their initialisation.
      expect(info.kept.length).toBeGreaterThan(0);
      for (const name of info.kept) expect(name).toMatch(/^(decoder|segmentation_head)\./);
      for (const [name, v] of before) if (/^(decoder|segmentation_head)\./.test(name)) expect(after.get(name), name).toEqual(v);
      expect(info.sha256).toBe(createHash('sha256').update(readFileSync(file)).digest('hex'));
      model.dispose();
    });
  }

  it('names the file and the key when a key is missing or a shape does not fit, and leaves the model as it was', () => {
    const model = new TransUNet({ ...TINY, seed: 1 });
    const before = state(model);
    const missing = officialLayout(TINY, 14, 5);
    missing.delete('block2/unit2/gn3/scale');
    writeFileSync(join(dir, 'missing.npz'), npzBytes(missing));
    expect(() => loadImageNet21kNpz(model, join(dir, 'missing.npz'))).toThrow(
      `${join(dir, 'missing.npz')}: does not fit this TransUNet: missing 'block2/unit2/gn3/scale' (for transformer.embeddings.hybrid_model.body.block2.unit2.gn3.weight)`,
    );
    const wide = officialLayout({ ...TINY, mlpDim: 2 * TINY.mlpDim }, 14, 5);
    writeFileSync(join(dir, 'wide.npz'), npzBytes(wide));
    expect(() => loadImageNet21kNpz(model, join(dir, 'wide.npz'))).toThrow(
      `'Transformer/encoderblock_0/MlpBlock_3/Dense_0/kernel' is (32, 128), transformer.encoder.layer.0.ffn.fc1.weight needs (32, 64)`,
    );
    const noGrid = officialLayout(TINY, 14, 5);
    noGrid.set('Transformer/posembed_input/pos_embedding', { shape: [1, 11, TINY.hiddenSize], data: new Float32Array(11 * TINY.hiddenSize) });
    writeFileSync(join(dir, 'nogrid.npz'), npzBytes(noGrid));
    expect(() => loadImageNet21kNpz(model, join(dir, 'nogrid.npz'))).toThrow("'Transformer/posembed_input/pos_embedding' has 11 tokens: after the first, 10 is not a square grid");
    expect(() => loadImageNet21kNpz(model, join(dir, 'absent.npz'))).toThrow(`${join(dir, 'absent.npz')}: the TransUNet weights file does not exist`);
    expect(state(model)).toEqual(before);
    model.dispose();
  });

  it('copies a position embedding of the model grid as it is, and drops only the class token when N - 1 fits', () => {
    for (const [tokens, how] of [[4, 'copied'], [5, 'class token dropped']] as const) {
      const arrays = officialLayout(TINY, 14, 6);
      const pos = Float32Array.from({ length: tokens * TINY.hiddenSize }, (_, i) => i);
      arrays.set('Transformer/posembed_input/pos_embedding', { shape: [1, tokens, TINY.hiddenSize], data: pos });
      writeFileSync(join(dir, `pos${tokens}.npz`), npzBytes(arrays));
      const model = new TransUNet({ ...TINY, seed: 1 });
      const info = loadImageNet21kNpz(model, join(dir, `pos${tokens}.npz`));
      expect(info.positionEmbedding).toContain(how);
      expect(state(model).get('transformer.embeddings.position_embeddings')).toEqual(pos.subarray(tokens === 5 ? TINY.hiddenSize : 0));
      model.dispose();
    }
  });
});

const skipScipy = skipOutsideCi('transunet-npz.test.ts (scipy zoom check)', pythonModulesMissing(['numpy', 'scipy.ndimage'], 'python3-scipy'));

describe.skipIf(skipScipy)('position-embedding resize against scipy.ndimage.zoom(order=1)', () => {
  it('matches scipy to the float32 bit on grids from 1 to 32 tokens a side', () => {
    const cases: [number, number, number][] = [
      [14, 2, 3],
      [14, 4, 2],
      [14, 8, 3],
      [14, 32, 2],
      [7, 14, 3],
      [24, 14, 2],
      [3, 5, 4],
      [5, 1, 2],
    ];
    const script = `
import numpy as np, sys, json
from scipy import ndimage
out = []
for i, (a, b, c) in enumerate(json.loads(sys.argv[1])):
    g = np.random.RandomState(i).randn(a, a, c).astype(np.float32)
    z = ndimage.zoom(g, (b / a, b / a, 1), order=1)
    assert z.dtype == np.float32 and z.shape == (b, b, c), (z.dtype, z.shape)
    out.append({'in': g.ravel().tolist(), 'out': z.ravel().tolist()})
print(json.dumps(out))
`;
    const ref = JSON.parse(execFileSync(REFERENCE_PYTHON, ['-c', script, JSON.stringify(cases)], { encoding: 'utf8' })) as { in: number[]; out: number[] }[];
    cases.forEach(([a, b, c], i) => {
      const got = zoomGridLinear(Float32Array.from(ref[i].in), a, b, c);
      expect(Array.from(got), `${a} -> ${b}`).toEqual(ref[i].out);
    });
  });
});

const skipTorch = skipOutsideCi('transunet-npz.test.ts (official load_from parity)', pythonModulesMissing(['torch', 'numpy', 'scipy'], 'python3-torch python3-scipy libopenblas0-pthread'));
const SCRIPT = join(dirname(fileURLToPath(import.meta.url)), '..', 'tools', 'transunet_parity.py');

describe.skipIf(skipTorch)('ImageNet-21k .npz loader against the official load_from', () => {
  it('gives the weights and the eval-mode output the official model has after load_from of the same file', () => {
    const out = join(dir, 'official');
    // 64x64: a 4x4 token grid, so the 14x14 grid is really interpolated (13/3 apart), not sampled at corners.
    execFileSync(REFERENCE_PYTHON, [SCRIPT, out, '--preset', 'tiny', '--res', '64', '--batch', '2', '--npz-grid', '14'], { stdio: 'pipe' });
    const { get, need } = readTensorExport(out);
    const config = { ...TINY, imageSize: 64, headChannels: 512 };
    const official = new TransUNet({ ...config, seed: 0 });
    loadTorchStateDict(official, get); // the official model after load_from, in suite layout
    const ours = new TransUNet({ ...config, seed: 0 });
    const info = loadImageNet21kNpz(ours, join(out, 'imagenet21k.npz'));
    const want = state(official);
    const rows: string[] = [];
    const loaded = state(ours);
    for (const name of info.loaded) {
      const a = loaded.get(name)!;
      const b = want.get(name)!;
      const d = a.reduce((m, x, i) => Math.max(m, Math.abs(x - b[i])), 0);
      if (d > 0) rows.push(`${name} max|d| ${d.toExponential(2)}`);
      expect(d, name).toBe(0);
    }
    // The decoder (and its BatchNorm statistics) is not in the file: give ours the official model's, then compare the forward pass.
    for (const [name, v] of ours.namedState()) if (!info.loaded.includes(name)) v.assign(tf.tensor(want.get(name)!, v.shape));
    const x = nchwToNhwc(need('input'));
    const y = ours.logits(x, { training: false });
    const ref = nchwToNhwc(need('out:segmentation_head'));
    const maxD = tf.tidy(() => tf.max(tf.abs(tf.sub(y, ref))).dataSync()[0]);
    const maxR = tf.tidy(() => tf.max(tf.abs(ref)).dataSync()[0]);
    console.log(`npz parity: ${info.loaded.length} parameters from the file bit-identical to load_from's (${info.positionEmbedding}); output max|d| ${maxD.toExponential(2)}, rel ${(maxD / maxR).toExponential(2)}`);
    expect(maxD).toBeLessThanOrEqual(1e-4 * maxR); // float32 noise, as transunet-parity.test.ts
    tf.dispose([x, y, ref]);
    official.dispose();
    ours.dispose();
  }, 180_000);
});
