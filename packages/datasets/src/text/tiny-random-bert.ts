/**
 * A deterministic tiny BERT with RANDOM weights, written as a transformers.js model folder so tests
 * and CI run the exact code path of the real `bert` encoder (tokenizer.json -> ORT session ->
 * last_hidden_state -> word assembly) without hub access. It carries no language knowledge: never
 * use it for reported numbers. Graph (TEXT.md §4a), opset 17, standard BERT layout:
 *   Gather(word) + Gather(position: Range over Shape) + Gather(type) -> LayerNorm
 *   per layer: Q/K/V MatMul+Add -> [B,h,S,d] -> softmax(QK^T/sqrt(d) + (1-mask)*-10000) V
 *              -> out proj + residual -> LN -> FFN (erf GELU) + residual -> LN
 *   output `last_hidden_state` [B,S,H].
 * Weights ~ N(0, 0.02) from a per-tensor stream of the seed; biases 0; LayerNorm gamma 1, beta 0.
 */
import { mkdirSync } from 'node:fs';
import { join, resolve } from 'node:path';
import onnxProto from 'onnx-proto';
import { Rng } from '@lvit-bench/core';
import { writeFileAtomic, writeJsonAtomic } from '@lvit-bench/core';
import { bertConfigJson, bertTokenizerConfigJson, bertTokenizerJson, BertShape } from './bert-folder.js';
import { bertBaseUncasedTokenizer } from './wordpiece.js';

const { onnx } = onnxProto;

export const TINY_RANDOM_BERT_SHAPE: BertShape = {
  hiddenSize: 32,
  layers: 2,
  heads: 2,
  intermediateSize: 64,
  vocabSize: 30522,
  maxPositions: 512,
  typeVocabSize: 2,
};

const INIT_STD = 0.02;
const LAYER_NORM_EPS = 1e-12;

/** One named weight: dims and row-major values. */
export interface NamedWeight {
  dims: number[];
  data: Float32Array;
}

/**
 * The weights of the tiny random BERT, by ONNX initializer name. Matrices are stored [in, out]
 * (x @ W), embeddings [rows, H]. Exported so tests can run an independent reference forward.
 */
export function tinyRandomBertWeights(seed = 0, shape: BertShape = TINY_RANDOM_BERT_SHAPE): Map<string, NamedWeight> {
  const { hiddenSize: H, intermediateSize: F } = shape;
  const w = new Map<string, NamedWeight>();
  const normal = (name: string, dims: number[]) => {
    const rng = Rng.derive(seed, name);
    const data = new Float32Array(dims.reduce((a, b) => a * b, 1));
    for (let i = 0; i < data.length; i++) data[i] = INIT_STD * rng.normal();
    w.set(name, { dims, data });
  };
  const constant = (name: string, dims: number[], value: number) => w.set(name, { dims, data: new Float32Array(dims.reduce((a, b) => a * b, 1)).fill(value) });
  const layerNorm = (prefix: string) => {
    constant(`${prefix}.weight`, [H], 1);
    constant(`${prefix}.bias`, [H], 0);
  };
  normal('embeddings.word_embeddings.weight', [shape.vocabSize, H]);
  normal('embeddings.position_embeddings.weight', [shape.maxPositions, H]);
  normal('embeddings.token_type_embeddings.weight', [shape.typeVocabSize, H]);
  layerNorm('embeddings.LayerNorm');
  for (let l = 0; l < shape.layers; l++) {
    const p = `encoder.layer.${l}`;
    for (const m of ['attention.self.query', 'attention.self.key', 'attention.self.value', 'attention.output.dense']) {
      normal(`${p}.${m}.weight`, [H, H]);
      constant(`${p}.${m}.bias`, [H], 0);
    }
    layerNorm(`${p}.attention.output.LayerNorm`);
    normal(`${p}.intermediate.dense.weight`, [H, F]);
    constant(`${p}.intermediate.dense.bias`, [F], 0);
    normal(`${p}.output.dense.weight`, [F, H]);
    constant(`${p}.output.dense.bias`, [H], 0);
    layerNorm(`${p}.output.LayerNorm`);
  }
  return w;
}

/** Serialised ONNX model (opset 17) of a BERT with these weights. */
export function buildBertOnnx(weights: Map<string, NamedWeight>, shape: BertShape): Uint8Array {
  const { hiddenSize: H, heads } = shape;
  if (H % heads !== 0) throw new Error(`text/tiny-random-bert.ts: hidden size ${H} is not a multiple of ${heads} heads`);
  const g = new GraphBuilder();
  for (const [name, t] of weights) g.floatInit(name, t.dims, t.data);
  const headDim = H / heads;
  const one = g.int64Init('const.one', [], [1]);
  const zero = g.int64Init('const.zero', [], [0]);
  const splitHeads = g.int64Init('const.split_heads', [4], [0, 0, heads, headDim]);
  const mergeHeads = g.int64Init('const.merge_heads', [3], [0, 0, H]);
  const maskAxes = g.int64Init('const.mask_axes', [2], [1, 2]);
  const oneF = g.floatInit('const.one_f', [], new Float32Array([1]));
  const maskValue = g.floatInit('const.mask_value', [], new Float32Array([-10000]));
  const scale = g.floatInit('const.scale', [], new Float32Array([1 / Math.sqrt(headDim)]));
  const half = g.floatInit('const.half', [], new Float32Array([0.5]));
  const invSqrt2 = g.floatInit('const.inv_sqrt2', [], new Float32Array([Math.SQRT1_2]));

  // Embeddings: [B,S] ids -> [B,S,H]
  const seqLen = g.op('Gather', [g.op('Shape', ['input_ids']), one], { axis: 0 });
  const positions = g.op('Range', [zero, seqLen, one]);
  let x = g.op('Add', [
    g.op('Add', [g.op('Gather', ['embeddings.word_embeddings.weight', 'input_ids']), g.op('Gather', ['embeddings.position_embeddings.weight', positions])]),
    g.op('Gather', ['embeddings.token_type_embeddings.weight', 'token_type_ids']),
  ]);
  const layerNorm = (input: string, prefix: string) =>
    g.op('LayerNormalization', [input, `${prefix}.weight`, `${prefix}.bias`], { axis: -1, epsilon: LAYER_NORM_EPS });
  x = layerNorm(x, 'embeddings.LayerNorm');

  // Additive mask [B,1,1,S]: 0 where attended, -10000 on padding.
  const maskF = g.op('Cast', ['attention_mask'], { to: onnx.TensorProto.DataType.FLOAT });
  const mask = g.op('Unsqueeze', [g.op('Mul', [g.op('Sub', [oneF, maskF]), maskValue]), maskAxes]);

  const dense = (input: string, prefix: string) => g.op('Add', [g.op('MatMul', [input, `${prefix}.weight`]), `${prefix}.bias`]);
  const heads4d = (input: string, perm: number[]) => g.op('Transpose', [g.op('Reshape', [input, splitHeads])], { perm });
  for (let l = 0; l < shape.layers; l++) {
    const p = `encoder.layer.${l}`;
    const q = heads4d(dense(x, `${p}.attention.self.query`), [0, 2, 1, 3]); // [B,h,S,d]
    const kT = heads4d(dense(x, `${p}.attention.self.key`), [0, 2, 3, 1]); // [B,h,d,S]
    const v = heads4d(dense(x, `${p}.attention.self.value`), [0, 2, 1, 3]); // [B,h,S,d]
    const scores = g.op('Add', [g.op('Mul', [g.op('MatMul', [q, kT]), scale]), mask]); // [B,h,S,S]
    const context = g.op('MatMul', [g.op('Softmax', [scores], { axis: -1 }), v]);
    const merged = g.op('Reshape', [g.op('Transpose', [context], { perm: [0, 2, 1, 3] }), mergeHeads]); // [B,S,H]
    x = layerNorm(g.op('Add', [dense(merged, `${p}.attention.output.dense`), x]), `${p}.attention.output.LayerNorm`);
    const h = dense(x, `${p}.intermediate.dense`);
    const gelu = g.op('Mul', [g.op('Mul', [h, half]), g.op('Add', [g.op('Erf', [g.op('Mul', [h, invSqrt2])]), oneF])]);
    x = layerNorm(g.op('Add', [dense(gelu, `${p}.output.dense`), x]), `${p}.output.LayerNorm`);
  }
  g.op('Identity', [x], {}, 'last_hidden_state');
  return g.encode({
    inputs: ['input_ids', 'attention_mask', 'token_type_ids'].map((n) => g.valueInfo(n, onnx.TensorProto.DataType.INT64, ['batch_size', 'sequence_length'])),
    outputs: [g.valueInfo('last_hidden_state', onnx.TensorProto.DataType.FLOAT, ['batch_size', 'sequence_length', H])],
  });
}

/**
 * Write the tiny random BERT (H 32, L 2, heads 2, FFN 64; bert-base-uncased vocab and tokenizer)
 * as a transformers.js folder under `dir`; returns the absolute folder path. Same seed, same bytes.
 */
export async function generateTinyRandomBert(dir: string, opts: { seed?: number } = {}): Promise<string> {
  const seed = opts.seed ?? 0;
  if (!Number.isInteger(seed) || seed < 0) throw new Error(`text/tiny-random-bert.ts: seed must be a non-negative integer, got ${seed}`);
  const out = resolve(dir);
  mkdirSync(join(out, 'onnx'), { recursive: true });
  const vocab = bertBaseUncasedTokenizer().vocab;
  if (vocab.length !== TINY_RANDOM_BERT_SHAPE.vocabSize) {
    throw new Error(`text/tiny-random-bert.ts: vocab has ${vocab.length} tokens, expected ${TINY_RANDOM_BERT_SHAPE.vocabSize}`);
  }
  const note = { generator: 'lvit-bench generateTinyRandomBert', seed, randomWeights: true, warning: 'random weights: exercises code paths, carries no language knowledge' };
  writeFileAtomic(join(out, 'onnx', 'model.onnx'), buildBertOnnx(tinyRandomBertWeights(seed), TINY_RANDOM_BERT_SHAPE));
  writeJsonAtomic(join(out, 'tokenizer.json'), bertTokenizerJson(vocab));
  writeJsonAtomic(join(out, 'tokenizer_config.json'), bertTokenizerConfigJson());
  // config.json last: its presence marks a complete folder.
  writeJsonAtomic(join(out, 'config.json'), bertConfigJson(TINY_RANDOM_BERT_SHAPE, { lvit_bench: note }));
  return out;
}

type AttrValue = number | number[];

/** Minimal ONNX graph assembly: unique value names, initializers, nodes with int/float/ints attributes. */
class GraphBuilder {
  private readonly nodes: InstanceType<typeof onnx.NodeProto>[] = [];
  private readonly initializers: InstanceType<typeof onnx.TensorProto>[] = [];
  private count = 0;

  floatInit(name: string, dims: number[], data: Float32Array): string {
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.FLOAT, rawData: bytesOf(data) }));
    return name;
  }

  int64Init(name: string, dims: number[], values: number[]): string {
    const data = BigInt64Array.from(values.map((v) => BigInt(v)));
    this.initializers.push(onnx.TensorProto.create({ name, dims, dataType: onnx.TensorProto.DataType.INT64, rawData: bytesOf(data) }));
    return name;
  }

  op(opType: string, inputs: string[], attrs: Record<string, AttrValue> = {}, output?: string): string {
    const out = output ?? `${opType.toLowerCase()}_${this.count++}`;
    const attribute = Object.entries(attrs).map(([name, value]) => attributeOf(name, value));
    this.nodes.push(onnx.NodeProto.create({ opType, input: inputs, output: [out], name: `${out}_node`, attribute }));
    return out;
  }

  valueInfo(name: string, elemType: number, dims: (string | number)[]) {
    const dim = dims.map((d) => (typeof d === 'string' ? { dimParam: d } : { dimValue: d }));
    return onnx.ValueInfoProto.create({ name, type: { tensorType: { elemType, shape: { dim } } } });
  }

  encode(io: { inputs: InstanceType<typeof onnx.ValueInfoProto>[]; outputs: InstanceType<typeof onnx.ValueInfoProto>[] }): Uint8Array {
    const graph = onnx.GraphProto.create({ name: 'bert', node: this.nodes, initializer: this.initializers, input: io.inputs, output: io.outputs });
    const model = onnx.ModelProto.create({
      irVersion: 8,
      producerName: 'lvit-bench',
      opsetImport: [{ domain: '', version: 17 }],
      graph,
    });
    return onnx.ModelProto.encode(model).finish();
  }
}

function attributeOf(name: string, value: AttrValue) {
  const T = onnx.AttributeProto.AttributeType;
  if (Array.isArray(value)) return onnx.AttributeProto.create({ name, type: T.INTS, ints: value });
  if (name === 'epsilon') return onnx.AttributeProto.create({ name, type: T.FLOAT, f: value });
  return onnx.AttributeProto.create({ name, type: T.INT, i: value });
}

function bytesOf(data: Float32Array | BigInt64Array): Uint8Array {
  return new Uint8Array(data.buffer, data.byteOffset, data.byteLength);
}
