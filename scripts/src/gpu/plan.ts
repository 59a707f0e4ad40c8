/**
 * The named checks of the GPU run (scripts/gpu/README.md), their time budgets, and the choices made
 * from earlier results. Budgets are sized from ENGINE.md §8 (H100: tfjs-webgpu U-Net b8 @ 224 at
 * ~1.5 s a step, so 1 warm-up + 5 steps + shader compilation fit in a minute; ORT-WebGPU unmeasured)
 * so that the whole run fits in ~8 minutes; each check is also cut to the time left.
 */
import type { GpuRoute } from '@lvit-bench/core';

export const CHECK_GROUPS = ['adapters', 'self-test', 'torch', 'steps', 'profile', 'paper'] as const;
export type CheckGroup = (typeof CHECK_GROUPS)[number];

export const BUDGET_S = {
  adapters: 30,
  selfTest: 90,
  torch: 150,
  step: 75,
  profile: 90,
  /** Below this much time left, the paper-profile run is not started (one epoch would not finish). */
  paperMin: 60,
} as const;

/** Default total for the whole run; the device command's timeout leaves ~1 min above it for unpacking. */
export const DEFAULT_TOTAL_S = 480;
/** Kept back from every check's timeout so the results can still be written and tarred. */
export const RESERVE_S = 10;

export const STEP_MODELS = ['unet', 'lvit'] as const;
export type StepModel = (typeof STEP_MODELS)[number];
export const STEP_BATCHES = [2, 8] as const;

export interface StepConfig {
  model: StepModel;
  batch: number;
}

/** Small batch before large, U-Net before LViT, both routes per config (so both get figures early). */
export function stepOrder(routes: readonly GpuRoute[]): { route: GpuRoute; config: StepConfig }[] {
  const out: { route: GpuRoute; config: StepConfig }[] = [];
  for (const model of STEP_MODELS) for (const batch of STEP_BATCHES) for (const route of routes) out.push({ route, config: { model, batch } });
  return out;
}

export function configKey(c: StepConfig): string {
  return `${c.model}:${c.batch}`;
}

/** A check's timeout: its budget, cut to what is left of the total minus the reserve; 0 = do not start. */
export function timeoutS(budgetS: number, elapsedS: number, totalS: number): number {
  return Math.max(0, Math.min(budgetS, totalS - elapsedS - RESERVE_S));
}

/** `--only a,b`: the groups to run; adapters always runs (every later check depends on it). */
export function parseGroups(value: string | undefined): Set<CheckGroup> {
  if (value === undefined) return new Set(CHECK_GROUPS);
  const names = value.split(',').map((s) => s.trim()).filter(Boolean);
  const bad = names.filter((n) => !(CHECK_GROUPS as readonly string[]).includes(n));
  if (bad.length) throw new Error(`--only: unknown check ${bad.join(', ')} (checks: ${CHECK_GROUPS.join(', ')})`);
  return new Set(['adapters', ...names] as CheckGroup[]);
}

/**
 * The step to profile on a route: the one furthest behind PyTorch (largest ratio of medians), or,
 * without PyTorch figures, the slowest. Null when the route timed none.
 */
export function slowestStep(steps: Map<string, number>, torch: Map<string, number>): string | null {
  let worst: { key: string; score: number } | null = null;
  const useTorch = [...steps.keys()].some((k) => torch.has(k));
  for (const [key, ms] of steps) {
    if (useTorch && !torch.has(key)) continue;
    const score = useTorch ? ms / torch.get(key)! : ms;
    if (!worst || score > worst.score) worst = { key, score };
  }
  return worst?.key ?? null;
}
