/**
 * Which on-disk layout holds a dataset under a data root, and where its folder is:
 * - staged (shared/data): `<root>/<dataset>/` (or `<root>` itself) with `text.csv` (MoNuSeg) or `splits.csv` (QaTa);
 * - lvit (the official download, LVIT.md §3.1): `<root>/` or `<root>/<name>/` with `Train_Folder/`,
 *   where <name> is one of LViT's folder names (MoNuSeg; Covid19 for QaTa) or ours.
 * 'auto' takes the one layout that is there; none, or both at once, is an error naming what was looked for.
 */
import { existsSync, statSync } from 'node:fs';
import { join } from 'node:path';
import type { DatasetName } from './sources.js';

export type DataLayout = 'staged' | 'lvit';
export const DATA_LAYOUTS: readonly DataLayout[] = ['staged', 'lvit'];

export interface DatasetSource {
  layout: DataLayout;
  /** The dataset folder (staged: the one with text.csv/splits.csv; lvit: the one with Train_Folder). */
  dir: string;
}

const LVIT_FOLDER_NAMES: Record<DatasetName, string[]> = {
  monuseg: ['MoNuSeg', 'monuseg'],
  qata: ['Covid19', 'QaTa-COV19', 'QaTa', 'qata'],
};

/** The paths whose existence marks the dataset folder of `layout`, in the order they are tried. */
function markers(root: string, dataset: DatasetName, layout: DataLayout): { dir: string; marker: string }[] {
  if (layout === 'staged') {
    const file = dataset === 'monuseg' ? 'text.csv' : 'splits.csv';
    return [join(root, dataset), root].map((dir) => ({ dir, marker: join(dir, file) }));
  }
  return [root, ...LVIT_FOLDER_NAMES[dataset].map((name) => join(root, name))].map((dir) => ({ dir, marker: join(dir, 'Train_Folder') }));
}

function isThere(marker: string, layout: DataLayout): boolean {
  return existsSync(marker) && (layout === 'staged' ? statSync(marker).isFile() : statSync(marker).isDirectory());
}

function find(root: string, dataset: DatasetName, layout: DataLayout): DatasetSource | undefined {
  const hit = markers(root, dataset, layout).find((m) => isThere(m.marker, layout));
  return hit === undefined ? undefined : { layout, dir: hit.dir };
}

function tried(root: string, dataset: DatasetName, layout: DataLayout): string {
  return markers(root, dataset, layout)
    .map((m) => m.marker)
    .join(', ');
}

/** The layout and folder of `dataset` under `root`; `layout` forces one, 'auto' detects it. */
export function findDatasetSource(root: string, dataset: DatasetName, layout: DataLayout | 'auto' = 'auto'): DatasetSource {
  if (layout === 'staged' || layout === 'lvit') {
    const source = find(root, dataset, layout);
    if (source !== undefined) return source;
    const what = layout === 'staged' ? `no staged ${dataset} dataset` : `no LViT-layout ${dataset} folder`;
    throw new Error(`${what}: none of ${tried(root, dataset, layout)} exists`);
  }
  if (layout !== 'auto') throw new Error(`unknown layout "${String(layout)}" (staged, lvit, auto)`);
  const found = DATA_LAYOUTS.map((l) => find(root, dataset, l)).filter((s): s is DatasetSource => s !== undefined);
  if (found.length === 1) return found[0];
  if (found.length > 1) {
    throw new Error(
      `${root}: both layouts hold ${dataset} (staged at ${found[0].dir}, LViT at ${found[1].dir}); pass --layout staged or --layout lvit`,
    );
  }
  throw new Error(
    `no ${dataset} dataset under ${root}: looked for the staged layout (${tried(root, dataset, 'staged')}) and the official LViT ` +
      `layout (${tried(root, dataset, 'lvit')}); pass --data-root DIR (and --layout staged|lvit to force one)`,
  );
}
