/** What a run is and where it lives: the matrix cell, its folder and id, and what runs of one dataset share. */
import { existsSync, readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { BackendInfo, ContrastiveLabel, RunResult, TextEncoderInfo } from '@lvit-bench/core';
import { parseRunResult } from '@lvit-bench/report';
import type { PreparedDataset } from '@lvit-bench/datasets';
import type { DatasetName } from '../configs/base.js';
import type { ScheduleConfig } from '../configs/base.js';
import type { ProfileConfig } from '../configs/profiles.js';

export const LABELS_FILE = 'labels.json';
export const RESULT_FILE = 'result.json';
/** Image channel order every run trains with: cv2.imread's, as the official loader. */
export const CHANNEL_ORDER = 'bgr' as const;

/** One cell of the experiment matrix. */
export interface RunSpec {
  /** Registered model name, or a semi-supervised variant of one (configs/semi.ts). */
  model: string;
  dataset: DatasetName;
  labelFraction: number;
  seed: number;
  /** Initialise from the trained U-Net of the same dataset, fraction and seed (the official "pretrain"). */
  unetInit?: boolean;
  /** TransUNet only: the ImageNet-21k `.npz` its encoder starts from (`--transunet-weights`). */
  transunetWeights?: string;
}

/**
 * The model as results and run folders name it: `lvit-t`, `lvit-t+unet-init` for the U-Net-initialised
 * variant, `transunet+in21k` for TransUNet from ImageNet-21k weights (kept apart from its from-scratch runs).
 */
export function modelKeyOf(spec: RunSpec): string {
  if (spec.transunetWeights !== undefined) return `${spec.model}+in21k`;
  return spec.unetInit ? `${spec.model}+unet-init` : spec.model;
}

/** What every run of one dataset shares: prepared data, text features and provenance. */
export interface RunContext {
  profile: ProfileConfig;
  data: PreparedDataset;
  channelOrder: 'bgr' | 'rgb';
  text: { lookup: (text: string) => Float32Array; shape: [number, number]; info: TextEncoderInfo } | null;
  /** The dataset's published LV-loss contrastive labels at the model grid, when a run needs them. */
  contrastiveLabels: ContrastiveLabel[] | null;
  backend: BackendInfo;
  git: { commit: string; dirty: boolean };
  runsRoot: string;
  /** Discard interrupted runs' checkpoints instead of continuing them (`--restart`). */
  restart: boolean;
  log: (msg: string) => void;
}

export function runDirOf(runsRoot: string, profile: string, spec: RunSpec): string {
  return join(runsRoot, profile, spec.dataset, modelKeyOf(spec), `f${spec.labelFraction}`, `s${spec.seed}`);
}

export function runIdOf(profile: string, spec: RunSpec): string {
  return `${profile}/${spec.dataset}/${modelKeyOf(spec)}/f${spec.labelFraction}/s${spec.seed}`;
}


/** The schedule a run trains with: stage 2 of a semi-supervised run has its own where the profile gives one. */
export function scheduleOf(profile: ProfileConfig, dataset: DatasetName, semi: boolean): ScheduleConfig {
  return ((semi && profile.semiSchedules) || profile.schedules)[dataset];
}

/** Whether `path` holds a finished run: a result that parses and validates against its schema. */
export function readResult(path: string): { status: 'missing' } | { status: 'complete'; result: RunResult } | { status: 'invalid'; reason: string } {
  if (!existsSync(path)) return { status: 'missing' };
  try {
    return { status: 'complete', result: parseRunResult(readFileSync(path, 'utf8'), path) };
  } catch (err) {
    return { status: 'invalid', reason: (err as Error).message };
  }
}
