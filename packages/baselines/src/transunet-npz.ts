import * as tf from '@tensorflow/tfjs';
import { createHash } from 'node:crypto';
import { existsSync, readFileSync } from 'node:fs';
import { basename } from 'node:path';
import { readNpz, type NpyArray } from '@lvit-bench/core';
import { zoomGridLinear } from './ndimage-zoom.js';
import type { TransUNet } from './transunet.js';

/**
 * Loads the ImageNet-21k `R50+ViT-B_16.npz` (Google's ViT/BiT checkpoint, a zip of .npy arrays) into the
 * suite's TransUNet as the official `VisionTransformer.load_from` (vit_seg_modeling.py) and
 * `PreActBottleneck.load_from` (vit_seg_modeling_resnet_skip.py) do: the ResNet root and body, the
 * patch embedding, the position embedding, every transformer block and encoder_norm; the decoder and
 * segmentation head keep their initialisation. Layouts: the npz's conv kernels are HWIO and its Dense
 * kernels [in, out], which is the suite's layout already (upstream transposes them to torch's OIHW and
 * [out, in]); attention kernels [hidden, heads, headDim] / [heads, headDim, hidden] and GroupNorm
 * scales are flattened as the official `.view`. Position embedding [1, N, hidden]: copied when N is the
 * model's grid², the first (class) token dropped when N - 1 is, else the first token dropped and the
 * √(N-1) grid resized with scipy.ndimage.zoom order 1 (./ndimage-zoom.ts). Keys the official code does
 * not read (the classifier head, `cls`, `pre_logits`) are ignored. Every key is checked before any
 * weight is written; a missing key or a shape that does not fit is an error naming the file and the key.
 */

export interface ImageNet21kLoad {
  file: string;
  sha256: string;
  /** Suite parameters written from the file. */
  loaded: string[];
  /** Suite parameters the official code leaves at their initialisation (decoder, segmentation head). */
  kept: string[];
  /** Keys of the file the official code does not read. */
  ignored: string[];
  positionEmbedding: string;
}

type Layout = 'exact' | 'view';
/** [suite parameter, npz key, layout]: 'view' where the official code reshapes (any shape of the same size). */
type KeyMapEntry = [string, string, Layout];

const POSEMB = 'Transformer/posembed_input/pos_embedding';
const POSEMB_PARAM = 'transformer.embeddings.position_embeddings';

/** The official load_from's key for every suite parameter it writes, for this model's depth and units. */
export function imageNet21kKeyMap(model: TransUNet): KeyMapEntry[] {
  const map: KeyMapEntry[] = [];
  const hybrid = 'transformer.embeddings.hybrid_model';
  map.push([`${hybrid}.root.conv.weight`, 'conv_root/kernel', 'exact']);
  map.push([`${hybrid}.root.gn.weight`, 'gn_root/scale', 'view'], [`${hybrid}.root.gn.bias`, 'gn_root/bias', 'view']);
  const body = model.transformer.embeddings.hybrid_model.body;
  [body.block1, body.block2, body.block3].forEach((block, b) => {
    block.units.forEach((unit, u) => {
      const p = `${hybrid}.body.block${b + 1}.unit${u + 1}`;
      const k = `block${b + 1}/unit${u + 1}`;
      for (const i of [1, 2, 3]) {
        map.push([`${p}.conv${i}.weight`, `${k}/conv${i}/kernel`, 'exact']);
        map.push([`${p}.gn${i}.weight`, `${k}/gn${i}/scale`, 'view'], [`${p}.gn${i}.bias`, `${k}/gn${i}/bias`, 'view']);
      }
      if (unit.downsample) {
        map.push([`${p}.downsample.weight`, `${k}/conv_proj/kernel`, 'exact']);
        map.push([`${p}.gn_proj.weight`, `${k}/gn_proj/scale`, 'view'], [`${p}.gn_proj.bias`, `${k}/gn_proj/bias`, 'view']);
      }
    });
  });
  map.push(['transformer.embeddings.patch_embeddings.weight', 'embedding/kernel', 'exact']);
  map.push(['transformer.embeddings.patch_embeddings.bias', 'embedding/bias', 'exact']);
  map.push(['transformer.encoder.encoder_norm.weight', 'Transformer/encoder_norm/scale', 'exact']);
  map.push(['transformer.encoder.encoder_norm.bias', 'Transformer/encoder_norm/bias', 'exact']);
  model.transformer.encoder.layer.items.forEach((_, i) => {
    const p = `transformer.encoder.layer.${i}`;
    const k = `Transformer/encoderblock_${i}`;
    for (const name of ['query', 'key', 'value', 'out']) {
      map.push([`${p}.attn.${name}.weight`, `${k}/MultiHeadDotProductAttention_1/${name}/kernel`, 'view']);
      map.push([`${p}.attn.${name}.bias`, `${k}/MultiHeadDotProductAttention_1/${name}/bias`, 'view']);
    }
    map.push([`${p}.ffn.fc1.weight`, `${k}/MlpBlock_3/Dense_0/kernel`, 'exact'], [`${p}.ffn.fc1.bias`, `${k}/MlpBlock_3/Dense_0/bias`, 'exact']);
    map.push([`${p}.ffn.fc2.weight`, `${k}/MlpBlock_3/Dense_1/kernel`, 'exact'], [`${p}.ffn.fc2.bias`, `${k}/MlpBlock_3/Dense_1/bias`, 'exact']);
    map.push([`${p}.attention_norm.weight`, `${k}/LayerNorm_0/scale`, 'exact'], [`${p}.attention_norm.bias`, `${k}/LayerNorm_0/bias`, 'exact']);
    map.push([`${p}.ffn_norm.weight`, `${k}/LayerNorm_2/scale`, 'exact'], [`${p}.ffn_norm.bias`, `${k}/LayerNorm_2/bias`, 'exact']);
  });
  return map;
}

/** Read, check and load `path` into `model`; the model is untouched when anything does not fit. */
export function loadImageNet21kNpz(model: TransUNet, path: string): ImageNet21kLoad {
  if (!existsSync(path)) throw new Error(`${path}: the TransUNet weights file does not exist (the ImageNet-21k R50+ViT-B_16.npz)`);
  const bytes = readFileSync(path);
  const arrays = readNpz(bytes, path);
  const params = new Map(model.namedParameters());
  const problems: string[] = [];
  const writes: [tf.Variable, Float32Array][] = [];
  const map = imageNet21kKeyMap(model);
  for (const [param, key, layout] of map) {
    const v = params.get(param);
    if (!v) throw new Error(`transunet-npz.ts: the model has no parameter '${param}' (key map out of date)`);
    const a = arrays.get(key);
    if (!a) {
      problems.push(`missing '${key}' (for ${param})`);
      continue;
    }
    const fits = layout === 'view' ? a.data.length === v.size : a.shape.join(',') === v.shape.join(',');
    if (!fits) problems.push(`'${key}' is (${a.shape.join(', ')}), ${param} needs ${layout === 'view' ? `${v.size} values` : `(${v.shape.join(', ')})`}`);
    else writes.push([v, a.data]);
  }
  const pos = positionEmbedding(arrays.get(POSEMB), params.get(POSEMB_PARAM)!, problems);
  if (problems.length > 0) {
    const shown = problems.slice(0, 8).join('; ');
    throw new Error(`${path}: does not fit this TransUNet: ${shown}${problems.length > 8 ? `; and ${problems.length - 8} more` : ''}`);
  }
  writes.push([params.get(POSEMB_PARAM)!, pos!.data]);
  for (const [v, data] of writes) {
    const t = tf.tensor(data, v.shape);
    v.assign(t);
    t.dispose();
  }
  const loaded = new Set([...map.map(([p]) => p), POSEMB_PARAM]);
  const read = new Set([...map.map(([, k]) => k), POSEMB]);
  return {
    file: basename(path),
    sha256: createHash('sha256').update(bytes).digest('hex'),
    loaded: [...loaded],
    kept: [...params.keys()].filter((p) => !loaded.has(p)),
    ignored: [...arrays.keys()].filter((k) => !read.has(k)),
    positionEmbedding: pos!.how,
  };
}

/** The official position-embedding branch: copy, drop the class token, or drop it and zoom the grid. */
function positionEmbedding(a: NpyArray | undefined, target: tf.Variable, problems: string[]): { data: Float32Array; how: string } | null {
  if (!a) {
    problems.push(`missing '${POSEMB}'`);
    return null;
  }
  const [, tokens, hidden] = target.shape;
  const [one, n, h] = a.shape;
  if (a.shape.length !== 3 || one !== 1 || h !== hidden) {
    problems.push(`'${POSEMB}' is (${a.shape.join(', ')}), the model needs (1, N, ${hidden})`);
    return null;
  }
  if (n === tokens) return { data: a.data, how: `copied (${n} tokens)` };
  const grid = a.data.subarray(hidden); // posemb[0, 1:]: the class token (or, as upstream, the first token) dropped
  if (n - 1 === tokens) return { data: grid.slice(), how: `class token dropped (${n} -> ${tokens} tokens)` };
  const sizeIn = Math.trunc(Math.sqrt(n - 1));
  const sizeOut = Math.trunc(Math.sqrt(tokens));
  if (sizeIn * sizeIn !== n - 1) {
    problems.push(`'${POSEMB}' has ${n} tokens: after the first, ${n - 1} is not a square grid`);
    return null;
  }
  return { data: zoomGridLinear(grid, sizeIn, sizeOut, hidden), how: `grid resized ${sizeIn}x${sizeIn} -> ${sizeOut}x${sizeOut} (scipy.ndimage.zoom order 1)` };
}
