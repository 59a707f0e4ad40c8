/**
 * A BERT model folder run through @huggingface/transformers (onnxruntime-node): the `bert` encoder
 * (bert-base-uncased) and the `tiny-random-bert` test fixture share this code path: the folder's
 * tokenizer, [CLS] + 23 pieces + [SEP] per sentence, a padded and masked batch, per-token last hidden
 * states, then `bert-embedding`'s word assembly.
 * Remote loading is always off here; only `prepareBertTextEncoder` (prepare.ts) may reach the hub.
 */
import { readFileSync } from 'node:fs';
import { join, resolve } from 'node:path';
import { AutoModel, AutoTokenizer, env, Tensor, type PreTrainedModel, type PreTrainedTokenizer } from '@huggingface/transformers';
import type { TextEncoderInfo } from '@lvit-bench/core';
import { assembleWordPieces, type EncodedWords } from './assemble.js';
import { BERT_FOLDER_FILES, missingBertFolderFiles } from './bert-folder.js';
import { sha256Files } from './hash.js';
import { BERT_MAX_PIECES } from './preprocess.js';
import type { TextEncoder } from './types.js';

const BATCH_SIZE = 32;

// transformers.js defaults to fetching missing files from the hub; this suite never does, except
// inside prepareBertTextEncoder, which switches it on for its download and off again.
env.allowRemoteModels = false;

interface LoadedBert {
  tokenizer: PreTrainedTokenizer;
  model: PreTrainedModel;
  idToToken: string[];
}

/** What a BERT folder's config.json says about itself (only the fields we use). */
export interface BertFolderConfig {
  hidden_size: number;
  model_type?: string;
  lvit_bench?: { randomWeights?: boolean; seed?: number };
}

export function readBertFolderConfig(dir: string): BertFolderConfig {
  const path = join(dir, 'config.json');
  let config: BertFolderConfig;
  try {
    config = JSON.parse(readFileSync(path, 'utf8')) as BertFolderConfig;
  } catch (err) {
    throw new Error(`text/transformers-encoder.ts: cannot read ${path}: ${(err as Error).message}`);
  }
  if (!Number.isInteger(config.hidden_size) || config.hidden_size <= 0) {
    throw new Error(`text/transformers-encoder.ts: ${path} has no valid hidden_size`);
  }
  return config;
}

/** Open a transformers.js BERT folder lazily: files are checked and hashed now, the model loads on first use. */
export async function openBertFolder(dir: string, info: TextEncoderInfo, log: (m: string) => void): Promise<TextEncoder> {
  const folder = resolve(dir);
  const missing = missingBertFolderFiles(folder);
  if (missing.length > 0) throw new Error(`text/transformers-encoder.ts: ${folder} lacks ${missing.join(', ')}`);
  const weightsHash = await sha256Files(folder, BERT_FOLDER_FILES.map((f) => join(folder, f)));
  const cacheKey = `${info.name}|transformers.js@${env.version}|fp32|${weightsHash}`;
  let loading: Promise<LoadedBert> | null = null;
  let disposed = false;

  const load = (): Promise<LoadedBert> => {
    loading ??= (async () => {
      log(`text encoder: loading ${info.name} from ${folder}`);
      env.allowRemoteModels = false;
      env.allowLocalModels = true;
      try {
        const tokenizer = await AutoTokenizer.from_pretrained(folder, { local_files_only: true });
        const model = await AutoModel.from_pretrained(folder, { local_files_only: true, dtype: 'fp32' });
        const idToToken: string[] = [];
        for (const [token, id] of tokenizer.get_vocab()) idToToken[id] = token;
        return { tokenizer, model, idToToken };
      } catch (err) {
        throw new Error(`text/transformers-encoder.ts: could not load ${info.name} from ${folder}: ${(err as Error).message}`);
      }
    })();
    return loading;
  };

  return {
    info,
    cacheKey,
    async encodeWords(sentences: string[]): Promise<EncodedWords[]> {
      if (disposed) throw new Error(`text/transformers-encoder.ts: ${info.name} encoder used after dispose()`);
      if (sentences.length === 0) return [];
      const bert = await load();
      const results: EncodedWords[] = [];
      for (let start = 0; start < sentences.length; start += BATCH_SIZE) {
        results.push(...(await encodeBatch(bert, sentences.slice(start, start + BATCH_SIZE), info.dim)));
      }
      return results;
    },
    async dispose(): Promise<void> {
      disposed = true;
      if (loading) await (await loading.catch(() => null))?.model.dispose();
      loading = null;
    },
  };
}

/**
 * `bert-embedding`'s input: [CLS] + the first 23 wordpieces + [SEP] (GluonNLP's
 * BERTSentenceTransform cuts the pieces, then adds the special tokens). transformers.js 4.3.2's own
 * `truncation` cuts after adding them and so drops [SEP] from long inputs; hence we cut here.
 */
export function bertInputIds(tokenizer: PreTrainedTokenizer, sentence: string, maxPieces = BERT_MAX_PIECES): number[] {
  // The tokenizer's own template around an empty text: [CLS] [SEP] for BERT.
  const wrapper = tokenizer.encode('');
  if (wrapper.length !== 2) throw new Error(`text/transformers-encoder.ts: expected a [CLS] ... [SEP] template, got ids [${wrapper}] for an empty text`);
  const body = tokenizer.encode(sentence, { add_special_tokens: false });
  return [wrapper[0], ...body.slice(0, maxPieces - 2), wrapper[1]];
}

/** One padded batch: [B,S] ids -> last_hidden_state [B,S,H] -> words per sentence. */
async function encodeBatch(bert: LoadedBert, sentences: string[], dim: number): Promise<EncodedWords[]> {
  const rows = sentences.map((s) => bertInputIds(bert.tokenizer, s));
  const seq = Math.max(...rows.map((r) => r.length));
  const ids = new BigInt64Array(rows.length * seq).fill(BigInt(bert.tokenizer.pad_token_id ?? 0));
  const mask = new BigInt64Array(rows.length * seq);
  rows.forEach((r, b) => r.forEach((id, j) => ((ids[b * seq + j] = BigInt(id)), (mask[b * seq + j] = 1n))));
  const dims = [rows.length, seq];
  const inputs = {
    input_ids: new Tensor('int64', ids, dims),
    attention_mask: new Tensor('int64', mask, dims),
    token_type_ids: new Tensor('int64', new BigInt64Array(rows.length * seq), dims),
  };
  const outputs = (await bert.model(inputs)) as Record<string, TensorLike>;
  const hidden = outputs.last_hidden_state;
  try {
    if (!hidden) throw new Error(`text/transformers-encoder.ts: the model has no last_hidden_state output (got ${Object.keys(outputs).join(', ')})`);
    if (hidden.dims.join() !== [rows.length, seq, dim].join()) {
      throw new Error(`text/transformers-encoder.ts: last_hidden_state is [${hidden.dims}], expected [${rows.length}, ${seq}, ${dim}]`);
    }
    const data = hidden.data as Float32Array;
    return rows.map((r, b) => {
      const pieces = r.map((id) => bert.idToToken[id] ?? '[UNK]');
      return assembleWordPieces(pieces, data.subarray(b * seq * dim, (b * seq + r.length) * dim), dim);
    });
  } finally {
    for (const t of [...Object.values(inputs), ...Object.values(outputs)] as TensorLike[]) t.dispose?.();
  }
}

interface TensorLike {
  dims: number[];
  data: unknown;
  dispose?: () => void;
}
