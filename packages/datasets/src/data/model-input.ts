/**
 * One image file prepared for a trained model exactly as `loadDataset` prepares a dataset
 * (LVIT.md §3.5): decode as cv2.imread (3 channels in the training order; grey replicated, alpha
 * dropped) -> cv2.resize INTER_LINEAR to the model size -> /255. Masks: grey -> INTER_LINEAR -> > 0,
 * so Dice/IoU against them are the evaluation's numbers.
 */
import { readFileSync } from 'node:fs';
import { decodeImageBytes, decodeMaskBytes, type ChannelOrder } from './decode.js';
import { u8ToUnit } from './prepared.js';
import { resizeLinearU8, thresholdMask } from './resize.js';

export interface ModelInput {
  /** [size*size*3] HWC in the training channel order, values in [0,1]. */
  input: Float32Array;
  /** The file's own size. */
  width: number;
  height: number;
  /** The file's pixels as RGB uint8 HWC at its own size (for overlays). */
  rgb: Uint8Array;
}

function readBytes(path: string, what: string): Uint8Array {
  try {
    return readFileSync(path);
  } catch (err) {
    throw new Error(`${path}: cannot read ${what} (${(err as NodeJS.ErrnoException).code ?? (err as Error).message})`);
  }
}

export async function readModelInput(path: string, size: number, order: ChannelOrder): Promise<ModelInput> {
  const bytes = readBytes(path, 'image');
  const ordered = await decodeImageBytes(bytes, path, order);
  const rgb = order === 'rgb' ? ordered : await decodeImageBytes(bytes, path, 'rgb');
  return { input: u8ToUnit(resizeLinearU8(ordered, size, size).data), width: rgb.width, height: rgb.height, rgb: rgb.data };
}

/** A ground-truth mask at the model size ({0,1} per pixel, [size*size]), as evaluation sees it. */
export async function readModelMask(path: string, size: number): Promise<{ mask: Uint8Array; width: number; height: number }> {
  const mask = await decodeMaskBytes(readBytes(path, 'mask'), path);
  return { mask: thresholdMask(resizeLinearU8(mask, size, size).data), width: mask.width, height: mask.height };
}

/** A {0,1} mask at the model size brought back to the file's size (INTER_LINEAR of 0/255, then >= 128). */
export function maskToSize(mask: Uint8Array, size: number, width: number, height: number): Uint8Array {
  const u8 = resizeLinearU8({ data: mask.map((v) => (v ? 255 : 0)), width: size, height: size, channels: 1 }, width, height).data;
  return u8.map((v) => (v >= 128 ? 1 : 0));
}
