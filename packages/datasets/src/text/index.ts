/**
 * LViT's text path: preprocessing (EOF XXX padding, first line), bert-base-uncased WordPiece,
 * `bert-embedding`'s word assembly, frozen encoders behind one interface (bert / use-lite /
 * tiny-random-bert), [N, 10, D] features and an on-disk feature cache. See TEXT.md and LVIT.md §3.4.
 */
export { BERT_MAX_PIECES, LVIT_MIN_WORDS, LVIT_TEXT_TOKENS, countWhitespaceWords, lvitPreprocessText } from './preprocess.js';
export {
  BERT_BASE_UNCASED_VOCAB_PATH,
  BERT_SPECIAL_TOKENS,
  WordPieceTokenizer,
  bertBaseUncasedTokenizer,
  type WordPieceEncoding,
} from './wordpiece.js';
export { assembleSentencePieces, assembleWordPieces, wordRows, type EncodedWords } from './assemble.js';
export { TEXT_ENCODER_NAMES, type OpenTextEncoderOptions, type TextEncoder, type TextEncoderName } from './types.js';
export {
  BERT_HUB_MODEL_ID,
  BERT_HUB_REVISION,
  bertHubModelDir,
  bertMissingMessage,
  encoderNameForInfo,
  locateBertModel,
  openTextEncoder,
  textEncoderHubCacheDir,
} from './encoder.js';
export { BERT_FOLDER_FILES, missingBertFolderFiles } from './bert-folder.js';
export { TINY_RANDOM_BERT_SHAPE, generateTinyRandomBert, tinyRandomBertWeights, type NamedWeight } from './tiny-random-bert.js';
export { USE_LITE_DIM } from './use-lite-encoder.js';
export { encodeReports } from './features.js';
export { TEXT_FEATURES_FORMAT, buildTextFeatureLookup, textFeatureCacheDir, type TextFeatureLookup, type TextFeatureCacheOptions } from './feature-cache.js';
export { prepareBertTextEncoder, type PrepareTextEncoderOptions, type PrepareTextEncoderResult } from './prepare.js';
