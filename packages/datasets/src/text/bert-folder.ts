/**
 * The files transformers.js needs to load a BERT from a local folder (TEXT.md §2):
 * config.json, tokenizer.json (HF `tokenizers` format), tokenizer_config.json and onnx/model.onnx.
 */
import { existsSync } from 'node:fs';
import { join } from 'node:path';
import { BERT_SPECIAL_TOKENS } from './wordpiece.js';

export const BERT_FOLDER_FILES = ['config.json', 'tokenizer.json', 'tokenizer_config.json', 'onnx/model.onnx'] as const;

/** The files of BERT_FOLDER_FILES that `dir` lacks (empty: loadable). */
export function missingBertFolderFiles(dir: string): string[] {
  return BERT_FOLDER_FILES.filter((f) => !existsSync(join(dir, f)));
}

export interface BertShape {
  hiddenSize: number;
  layers: number;
  heads: number;
  intermediateSize: number;
  vocabSize: number;
  maxPositions: number;
  typeVocabSize: number;
}

export function bertConfigJson(shape: BertShape, extra: Record<string, unknown> = {}): Record<string, unknown> {
  return {
    model_type: 'bert',
    architectures: ['BertModel'],
    vocab_size: shape.vocabSize,
    hidden_size: shape.hiddenSize,
    num_hidden_layers: shape.layers,
    num_attention_heads: shape.heads,
    intermediate_size: shape.intermediateSize,
    hidden_act: 'gelu',
    hidden_dropout_prob: 0.1,
    attention_probs_dropout_prob: 0.1,
    max_position_embeddings: shape.maxPositions,
    type_vocab_size: shape.typeVocabSize,
    initializer_range: 0.02,
    layer_norm_eps: 1e-12,
    pad_token_id: 0,
    ...extra,
  };
}

/** HF `tokenizers` JSON of bert-base-uncased's tokenizer, built from a vocab.txt token list. */
export function bertTokenizerJson(vocab: readonly string[]): Record<string, unknown> {
  const id = (t: string) => {
    const i = vocab.indexOf(t);
    if (i < 0) throw new Error(`text/bert-folder.ts: vocabulary lacks ${t}`);
    return i;
  };
  const special = (content: string) => ({ id: id(content), content, single_word: false, lstrip: false, rstrip: false, normalized: false, special: true });
  const { pad, unk, cls, sep, mask } = BERT_SPECIAL_TOKENS;
  return {
    version: '1.0',
    truncation: null,
    padding: null,
    added_tokens: [pad, unk, cls, sep, mask].map(special),
    normalizer: { type: 'BertNormalizer', clean_text: true, handle_chinese_chars: true, strip_accents: null, lowercase: true },
    pre_tokenizer: { type: 'BertPreTokenizer' },
    post_processor: {
      type: 'TemplateProcessing',
      single: [{ SpecialToken: { id: cls, type_id: 0 } }, { Sequence: { id: 'A', type_id: 0 } }, { SpecialToken: { id: sep, type_id: 0 } }],
      pair: [
        { SpecialToken: { id: cls, type_id: 0 } },
        { Sequence: { id: 'A', type_id: 0 } },
        { SpecialToken: { id: sep, type_id: 0 } },
        { Sequence: { id: 'B', type_id: 1 } },
        { SpecialToken: { id: sep, type_id: 1 } },
      ],
      special_tokens: {
        [cls]: { id: cls, ids: [id(cls)], tokens: [cls] },
        [sep]: { id: sep, ids: [id(sep)], tokens: [sep] },
      },
    },
    decoder: { type: 'WordPiece', prefix: '##', cleanup: true },
    model: {
      type: 'WordPiece',
      unk_token: unk,
      continuing_subword_prefix: '##',
      max_input_chars_per_word: 100,
      vocab: Object.fromEntries(vocab.map((t, i) => [t, i])),
    },
  };
}

export function bertTokenizerConfigJson(): Record<string, unknown> {
  const { pad, unk, cls, sep, mask } = BERT_SPECIAL_TOKENS;
  return {
    tokenizer_class: 'BertTokenizer',
    do_lower_case: true,
    strip_accents: null,
    tokenize_chinese_chars: true,
    model_max_length: 512,
    clean_up_tokenization_spaces: true,
    pad_token: pad,
    unk_token: unk,
    cls_token: cls,
    sep_token: sep,
    mask_token: mask,
  };
}
