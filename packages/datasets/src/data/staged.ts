/**
 * The layout of shared/data (see its READMEs):
 *   monuseg/{train,val,test}/{images,masks}/NAME.png + text.csv (image,text,split)
 *   qata/images/NAME.png, qata/masks/mask_NAME.png, splits.csv (image,mask,split,image_staged),
 *   text_trainval.csv (train+val, SGSeg captions), text_test_sgseg.csv, text.csv (verbatim LViT test)
 */
import { join } from 'node:path';
import { readCsvTable } from './csv.js';
import { SPLIT_NAMES, type SplitName } from './prepared.js';
import { listImageFiles, readManifest, requireNonEmpty, requireUniqueIds, stem, type SourceListing, type SourceSample } from './sources.js';

/** The image name and sentence of a text-table row; an empty one is an error naming the row. */
function textRow(values: Record<string, string>, where: string): { image: string; text: string } {
  const image = values.image.trim();
  const text = values.text.trim();
  if (image === '') throw new Error(`${where}: empty image name`);
  if (text === '') throw new Error(`${where}: empty text for ${image}`);
  return { image, text };
}

function parseSplit(value: string, where: string): SplitName {
  const v = value.trim();
  if (v === 'train' || v === 'val' || v === 'test') return v;
  throw new Error(`${where}: split "${value}" is not train, val or test`);
}

export function listStagedMonuseg(datasetDir: string): SourceListing {
  const csvPath = join(datasetDir, 'text.csv');
  const table = readCsvTable(csvPath, ['image', 'text', 'split']);
  const splits: Record<SplitName, SourceSample[]> = { train: [], val: [], test: [] };
  const notes = ['MoNuSeg: LViT split 24/6/14; test images are lossless PNG conversions of LViT\'s TIFFs (pixel-identical).'];
  const rowsBySplit: Record<SplitName, Map<string, { text: string; line: number }>> = { train: new Map(), val: new Map(), test: new Map() };
  for (const { line, values } of table.rows) {
    const where = `${csvPath} line ${line}`;
    const split = parseSplit(values.split, where);
    const { image, text } = textRow(values, where);
    if (rowsBySplit[split].has(image)) throw new Error(`${where}: duplicate row for ${image}`);
    rowsBySplit[split].set(image, { text, line });
  }
  for (const split of SPLIT_NAMES) {
    const imageDir = join(datasetDir, split, 'images');
    const maskDir = join(datasetDir, split, 'masks');
    const images = new Set(listImageFiles(imageDir, `${split} images`, notes));
    const masks = new Set(listImageFiles(maskDir, `${split} masks`, notes));
    for (const [image, { text, line }] of rowsBySplit[split]) {
      if (!images.has(image)) throw new Error(`${csvPath} line ${line}: text row for ${image} but no image ${join(imageDir, image)}`);
      if (!masks.has(image)) throw new Error(`${join(maskDir, image)}: missing mask for image ${join(imageDir, image)}`);
      splits[split].push({ id: stem(image), imagePath: join(imageDir, image), maskPath: join(maskDir, image), text });
    }
    for (const image of images) {
      if (!rowsBySplit[split].has(image)) throw new Error(`${join(imageDir, image)}: image has no text row (split ${split}) in ${csvPath}`);
    }
    for (const mask of masks) {
      if (!images.has(mask)) throw new Error(`${join(maskDir, mask)}: mask has no image in ${imageDir}`);
    }
    requireUniqueIds(splits[split], imageDir);
  }
  const listing: SourceListing = {
    datasetDir,
    splits,
    auxFiles: [csvPath],
    manifest: readManifest(datasetDir),
    notes,
  };
  requireNonEmpty(listing, { train: csvPath, val: csvPath, test: csvPath });
  return listing;
}

export type QataTestText = 'sgseg' | 'lvit';

export function listStagedQata(datasetDir: string, testText: QataTestText): SourceListing {
  const splitsPath = join(datasetDir, 'splits.csv');
  const trainValPath = join(datasetDir, 'text_trainval.csv');
  const testPath = join(datasetDir, testText === 'lvit' ? 'text.csv' : 'text_test_sgseg.csv');
  const imageDir = join(datasetDir, 'images');
  const maskDir = join(datasetDir, 'masks');

  const splitRows = readCsvTable(splitsPath, ['image', 'mask', 'split', 'image_staged']);
  const texts = new Map<string, { text: string; split: SplitName; where: string }>();
  for (const path of [trainValPath, testPath]) {
    for (const { line, values } of readCsvTable(path, ['image', 'text', 'split']).rows) {
      const where = `${path} line ${line}`;
      const { image, text } = textRow(values, where);
      if (texts.has(image)) throw new Error(`${where}: duplicate text row for ${image} (first in ${texts.get(image)!.where})`);
      texts.set(image, { text, split: parseSplit(values.split, where), where });
    }
  }
  const notes: string[] = [];
  const images = new Set(listImageFiles(imageDir, 'images', notes));
  const masks = new Set(listImageFiles(maskDir, 'masks', notes));
  const splits: Record<SplitName, SourceSample[]> = { train: [], val: [], test: [] };
  const known = new Set<string>();
  const unstaged: Record<SplitName, number> = { train: 0, val: 0, test: 0 };
  for (const { line, values } of splitRows.rows) {
    const where = `${splitsPath} line ${line}`;
    const image = values.image.trim();
    const mask = values.mask.trim();
    const split = parseSplit(values.split, where);
    known.add(image);
    const entry = texts.get(image);
    if (entry === undefined) {
      throw new Error(`${where}: image ${image} has no text row in ${split === 'test' ? testPath : trainValPath}`);
    }
    if (entry.split !== split) throw new Error(`${entry.where}: split ${entry.split} for ${image}, but ${where} says ${split}`);
    if (!masks.has(mask)) throw new Error(`${join(maskDir, mask)}: missing mask for ${image} (${where})`);
    if (values.image_staged.trim() !== '1') {
      unstaged[split]++;
      continue;
    }
    if (!images.has(image)) throw new Error(`${join(imageDir, image)}: missing image (${where} marks it staged)`);
    splits[split].push({ id: stem(image), imagePath: join(imageDir, image), maskPath: join(maskDir, mask), text: entry.text });
  }
  for (const [image, entry] of texts) {
    if (!known.has(image)) throw new Error(`${entry.where}: text row for ${image}, which is not in ${splitsPath}`);
  }
  for (const image of images) {
    if (!known.has(image)) throw new Error(`${join(imageDir, image)}: image has no row in ${splitsPath}`);
  }
  for (const split of SPLIT_NAMES) requireUniqueIds(splits[split], imageDir);

  notes.push(
    'QaTa train/val text: SGSeg-normalised captions (text_trainval.csv), not LViT\'s verbatim train text (not public).',
    testText === 'lvit'
      ? 'QaTa test text: verbatim LViT sentences (text.csv); their style differs from the SGSeg-style train text.'
      : 'QaTa test text: SGSeg-normalised captions (text_test_sgseg.csv), same style as the train text.',
    'QaTa train/val partition: SGSeg\'s positional 80/20 split (5716/1429); identity with LViT\'s partition is unverified.',
  );
  for (const split of SPLIT_NAMES) {
    if (unstaged[split] > 0) {
      const kept = splits[split].length;
      notes.push(
        `QaTa ${split}: only the ${kept} staged images of ${kept + unstaged[split]} are used ` +
          `(shared/data stages ${kept} ${split} images to fit its size budget); ${split} metrics are over these.`,
      );
    }
  }
  const listing: SourceListing = {
    datasetDir,
    splits,
    auxFiles: [splitsPath, trainValPath, testPath],
    manifest: readManifest(datasetDir),
    notes,
  };
  requireNonEmpty(listing, { train: splitsPath, val: splitsPath, test: splitsPath });
  return listing;
}
