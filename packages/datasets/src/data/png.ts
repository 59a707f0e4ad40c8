/** Write 8-bit PNGs (qualitative figures: image, ground truth, prediction) atomically. */
import { writeFileAtomic } from '@lvit-bench/core';
import sharp from 'sharp';

/** Write `data` (row-major HWC uint8, 1 or 3 channels in RGB order) as a PNG at `path`. */
export async function writePng(path: string, data: Uint8Array, width: number, height: number, channels: 1 | 3): Promise<void> {
  if (!Number.isInteger(width) || !Number.isInteger(height) || width < 1 || height < 1) {
    throw new Error(`${path}: invalid PNG size ${width}x${height}`);
  }
  if (channels !== 1 && channels !== 3) throw new Error(`${path}: channels must be 1 or 3, got ${String(channels)}`);
  if (data.length !== width * height * channels) {
    throw new Error(`${path}: ${data.length} bytes do not fit ${width}x${height}x${channels}`);
  }
  try {
    // Without the colourspace sharp stores one raw channel as an RGB PNG.
    const raw = sharp(Buffer.from(data.buffer, data.byteOffset, data.length), { raw: { width, height, channels } });
    const png = await (channels === 1 ? raw.toColourspace('b-w') : raw).png().toBuffer();
    writeFileAtomic(path, png);
  } catch (err) {
    throw new Error(`${path}: cannot write PNG (${(err as Error).message})`);
  }
}
