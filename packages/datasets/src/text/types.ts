import type { TextEncoderInfo } from '@lvit-bench/core';
import type { EncodedWords } from './assemble.js';

export type { EncodedWords };

/** Encoders `openTextEncoder` knows. 'auto' = 'bert' when its files are present, else 'use-lite'. */
export type TextEncoderName = 'auto' | 'bert' | 'use-lite' | 'tiny-random-bert';
export const TEXT_ENCODER_NAMES: readonly TextEncoderName[] = ['auto', 'bert', 'use-lite', 'tiny-random-bert'];

/**
 * A frozen per-word text encoder. Opening one is cheap (file checks, weight hash); the model itself
 * loads on the first `encodeWords` call, so a fully cached run never loads it.
 */
export interface TextEncoder {
  info: TextEncoderInfo;
  /** Identity of the features it produces (encoder, runtime version, weights hash): the feature-cache key. */
  cacheKey: string;
  /**
   * Per-word vectors of each sentence, as given (no LViT preprocessing here): all words that fit the
   * encoder's piece budget (BERT: 25 wordpieces with [CLS]/[SEP]), `vectors` [words * info.dim].
   */
  encodeWords(sentences: string[]): Promise<EncodedWords[]>;
  dispose(): Promise<void>;
}

export interface OpenTextEncoderOptions {
  /** A transformers.js model folder (config.json, tokenizer.json, tokenizer_config.json, onnx/model.onnx). */
  modelDir?: string;
  /** The suite's cache folder (default: `resolveCacheDir()`); the hub cache is `<cacheDir>/hf-hub`. */
  cacheDir?: string;
  log?: (message: string) => void;
}
