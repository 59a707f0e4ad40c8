import { LViTConfig, lvitConfig, lvitLevels } from './lvit-config.js';

/**
 * Analytic multiply-accumulate count of one LViT forward pass on one image, from layer shapes.
 * Conventions (those of thop, which the official `train_model.py` uses): a conv counts
 * output elements × k² × Cin, a Linear output elements × in_features; biases, norms, activations,
 * pooling, upsampling and additions are not counted. The two attention products (q·kᵀ and
 * softmax·v, 2·N²·C per block) run as bare matmuls that thop does not see, so they are separate.
 * Full config: 26.97 G conv+linear plus 0.15 G attention (LVIT.md §1.8, RESULTS.md).
 */
export interface LViTMacBreakdown {
  /** Conv + Linear MACs (the thop-comparable figure; `RunResult.macsPerImage`). */
  convLinear: number;
  /** q·kᵀ and attention·v products. */
  attentionMatmul: number;
  /** Conv + Linear MACs by top-level module name (`inc`, `downVit1`, `up4`, ...). */
  byModule: Record<string, number>;
}

export function lvitMacBreakdown(config: Partial<LViTConfig> = {}): LViTMacBreakdown {
  const cfg = lvitConfig(config);
  const levels = lvitLevels(cfg);
  const b = cfg.baseChannels;
  const s = cfg.imageSize;
  const conv = (side: number, k: number, cin: number, cout: number) => side * side * k * k * cin * cout;
  const convPair = (side: number, cin: number, cout: number) => conv(side, 3, cin, cout) + conv(side, 3, cout, cout);
  const block = (n: number, c: number) => {
    const hidden = Math.trunc(c * cfg.mlpRatio);
    return n * (3 * c * c + c * c + 2 * c * hidden); // qkv, proj, fc1, fc2
  };
  const byModule: Record<string, number> = {};
  let attentionMatmul = 0;

  byModule.inc = conv(s, 3, cfg.inChannels, b);
  const downWidths: [number, number][] = [[b, 2 * b], [2 * b, 4 * b], [4 * b, 8 * b], [8 * b, 8 * b]];
  downWidths.forEach(([cin, cout], i) => {
    byModule[`down${i + 1}`] = convPair(s / 2 ** (i + 1), cin, cout);
  });

  const suffix = (i: number) => (i === 0 ? '' : String(i));
  levels.forEach((l, i) => {
    const { channels: c, tokens: n, patchSize: p } = l;
    const patch = n * c * c * p * p;
    const text = i === 0 && cfg.withText ? c * 3 * cfg.textTokens * n : 0; // CTBN3: length c, T -> N channels
    const ctbn = i > 0 ? n * 3 * c * (c / 2) : 0;
    byModule[`downVit${suffix(i)}`] = patch + block(n, c) + text + ctbn;
    const ctbn2 = i < 3 ? n * 3 * (2 * c) * c : 0;
    byModule[`upVit${suffix(i)}`] = block(n, c) + ctbn2;
    byModule[`reconstruct${i + 1}`] = l.featureSize * l.featureSize * c * c;
    attentionMatmul += 2 * (2 * n * n * c); // one block down, one up
  });

  const upWidths: [string, number, number, number][] = [
    ['up4', s / 8, 16 * b, 4 * b],
    ['up3', s / 4, 8 * b, 2 * b],
    ['up2', s / 2, 4 * b, b],
    ['up1', s, 2 * b, b],
  ];
  for (const [name, side, cin, cout] of upWidths) {
    const half = cin / 2;
    const plam = 2 * side * side * half * half + side * side * (3 * 6 + 6 * 1);
    byModule[name] = plam + convPair(side, cin, cout);
  }
  byModule.outc = s * s * b;

  if (cfg.withText) {
    const widths = [cfg.textDim, 8 * b, 4 * b, 2 * b, b];
    for (let i = 0; i < 4; i++) byModule[`text_module${4 - i}`] = cfg.textTokens * 3 * widths[i] * widths[i + 1];
  }

  const convLinear = Object.values(byModule).reduce((a, v) => a + v, 0);
  return { convLinear, attentionMatmul, byModule };
}

/** Conv + Linear MACs of one forward pass on one image (see `lvitMacBreakdown`). */
export function lvitMacsPerImage(config: Partial<LViTConfig> = {}): number {
  return lvitMacBreakdown(config).convLinear;
}
