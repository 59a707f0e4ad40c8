import type { SegmentationModel } from './types.js';

/**
 * Model registry (timm-style): a name maps to a factory taking a plain config object, so
 * experiment configs stay data (`{ model: 'lvit-t', modelConfig: {...} }`).
 */
export interface ModelEntry<C = Record<string, unknown>> {
  name: string;
  description: string;
  /** Whether the model consumes per-token text features. */
  usesText: boolean;
  create(config: C & { seed: number }): SegmentationModel;
}

const registry = new Map<string, ModelEntry<any>>();

export function registerModel<C>(entry: ModelEntry<C>): void {
  registry.set(entry.name, entry);
}

export function getModelEntry(name: string): ModelEntry<any> {
  const entry = registry.get(name);
  if (!entry) {
    throw new Error(`Unknown model '${name}'. Registered models: ${listModels().join(', ') || '(none)'}`);
  }
  return entry;
}

export function createModel(name: string, config: Record<string, unknown> & { seed: number }): SegmentationModel {
  return getModelEntry(name).create(config);
}

export function listModels(): string[] {
  return [...registry.keys()].sort();
}
