/**
 * LViT configuration: defaults equal the official model (LVIT.md §1), and every size the official
 * code hard-codes (ViT widths 64..512, patch sizes 16/8/4/2, 196 tokens, 768-d text, 10 text tokens)
 * is derived from these fields, so a reduced profile (e.g. base 16, 128², tokenGrid 8) keeps every
 * block of the full model.
 */

const FILE = 'lvit-config.ts';

export interface LViTConfig {
  /** Image channels (3; BGR upstream). */
  inChannels: number;
  /** Width of `inc`; level l (1..4) has baseChannels·2^(l-1) channels, x5 has 8·baseChannels. */
  baseChannels: number;
  /** Square input side; must be a multiple of 16 (four 2× poolings). */
  imageSize: number;
  /** Token grid side at every level (14 upstream, i.e. 196 tokens). */
  tokenGrid: number;
  /** Text feature width (768: BERT-base). */
  textDim: number;
  /** Text tokens T (10 upstream; CTBN3 has T input channels). */
  textTokens: number;
  /** Attention heads in every ViT block (8). */
  heads: number;
  /** MLP hidden width / embedding width (4). */
  mlpRatio: number;
  /** Patch-embedding and MLP dropout (0.1). */
  dropout: number;
  /** LViT-T (true) or LViT-TW (false: no text path at all, see `LViT`). */
  withText: boolean;
  /** Seed for the weight init (666 is the official training seed). */
  seed: number;
}

export const LVIT_DEFAULTS: Readonly<LViTConfig> = Object.freeze({
  inChannels: 3,
  baseChannels: 64,
  imageSize: 224,
  tokenGrid: 14,
  textDim: 768,
  textTokens: 10,
  heads: 8,
  mlpRatio: 4,
  dropout: 0.1,
  withText: true,
  seed: 666,
});

/** Geometry of one of the four levels that carry a ViT branch. */
export interface LViTLevel {
  /** 1..4 (x1..x4 in the official forward). */
  level: number;
  /** CNN channels = ViT embedding width at this level. */
  channels: number;
  /** Side of the CNN feature map x_l. */
  featureSize: number;
  /** Patch size of the level's embedding = Reconstruct's upsampling factor. */
  patchSize: number;
  /** tokenGrid². */
  tokens: number;
}

const INT_FIELDS = ['inChannels', 'baseChannels', 'imageSize', 'tokenGrid', 'textDim', 'textTokens', 'heads'] as const;

/** Full config from overrides; rejects unknown keys and impossible geometries with plain messages. */
export function lvitConfig(overrides: Partial<LViTConfig> = {}): LViTConfig {
  const known = new Set(Object.keys(LVIT_DEFAULTS));
  const unknown = Object.keys(overrides).filter((k) => !known.has(k));
  if (unknown.length > 0) {
    throw new Error(`${FILE}: unknown LViT config key(s) ${unknown.join(', ')}; valid keys: ${[...known].join(', ')}`);
  }
  const defined = Object.fromEntries(Object.entries(overrides).filter(([, v]) => v !== undefined));
  const config: LViTConfig = { ...LVIT_DEFAULTS, ...defined };
  lvitLevels(config); // validates
  return config;
}

/** The four ViT levels of a config (validated). Full config: patches 16, 8, 4, 2 on 224², 112², 56², 28². */
export function lvitLevels(config: LViTConfig): LViTLevel[] {
  for (const key of INT_FIELDS) {
    const v = config[key];
    if (!Number.isInteger(v) || v <= 0) throw new Error(`${FILE}: ${key} must be a positive integer, got ${v}`);
  }
  if (!(config.mlpRatio > 0)) throw new Error(`${FILE}: mlpRatio must be positive, got ${config.mlpRatio}`);
  if (!(config.dropout >= 0 && config.dropout < 1)) throw new Error(`${FILE}: dropout must be in [0, 1), got ${config.dropout}`);
  if (!Number.isInteger(config.seed)) throw new Error(`${FILE}: seed must be an integer, got ${config.seed}`);
  if (config.imageSize % 16 !== 0) {
    throw new Error(`${FILE}: imageSize must be a multiple of 16 (four 2x poolings), got ${config.imageSize}`);
  }
  if (config.baseChannels % config.heads !== 0) {
    throw new Error(`${FILE}: baseChannels ${config.baseChannels} must be divisible by heads ${config.heads} (level-1 head width)`);
  }
  return [1, 2, 3, 4].map((level) => {
    const featureSize = config.imageSize / 2 ** (level - 1);
    const patchSize = featureSize / config.tokenGrid;
    if (!Number.isInteger(patchSize)) {
      throw new Error(
        `${FILE}: level ${level} feature map ${featureSize}x${featureSize} is not a whole number of ${config.tokenGrid}x${config.tokenGrid} token patches (patch = imageSize/2^(level-1)/tokenGrid must be an integer)`,
      );
    }
    return { level, channels: config.baseChannels * 2 ** (level - 1), featureSize, patchSize, tokens: config.tokenGrid ** 2 };
  });
}
