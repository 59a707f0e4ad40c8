/**
 * The learning rate of epoch `epoch` (0-based) under the official custom
 * `CosineAnnealingWarmRestarts(T_0=10, T_mult=1, eta_min=1e-4)`, stepped once per epoch (LVIT.md §2.1):
 *
 *   lr_e = floor + (lr0 - floor) * (1 + cos(pi * (e mod T0) / T0)) / 2
 *
 * Epoch 0 trains at lr0; epoch T0 restarts at lr0.
 */
export function cosineWarmRestartLr(epoch: number, lr0: number, opts: { t0?: number; floor?: number } = {}): number {
  const t0 = opts.t0 ?? 10;
  const floor = opts.floor ?? 1e-4;
  if (!Number.isInteger(epoch) || epoch < 0) throw new Error(`train/schedule.ts: epoch must be an integer >= 0, got ${epoch}`);
  if (!Number.isInteger(t0) || t0 < 1) throw new Error(`train/schedule.ts: t0 must be an integer >= 1, got ${t0}`);
  const tCur = epoch % t0;
  return floor + ((lr0 - floor) * (1 + Math.cos((Math.PI * tCur) / t0))) / 2;
}
