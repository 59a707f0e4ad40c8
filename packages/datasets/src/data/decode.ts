/**
 * Decode image files the way LViT's `cv2.imread` sees them (LVIT.md §3.5):
 * - images: 3 channels, grey replicated, alpha dropped, BGR order by default;
 * - masks: one grey channel (`cv2.imread(path, 0)`).
 * Decoding uses sharp (libvips). Errors name the file.
 */
import sharp from 'sharp';
import type { ImageU8 } from './resize.js';

export type ChannelOrder = 'bgr' | 'rgb';

interface Decoded {
  data: Uint8Array;
  width: number;
  height: number;
  /** Channels of `data` as sharp returns them (1-4). */
  channels: number;
  /** The file stores grey (1 or 2 channels), so every colour channel sharp returns is equal. */
  grey: boolean;
}

async function decodeRaw(bytes: Uint8Array, path: string): Promise<Decoded> {
  try {
    const image = sharp(bytes, { failOn: 'error' });
    const meta = await image.metadata();
    if (meta.depth !== undefined && meta.depth !== 'uchar') {
      throw new Error(`${meta.depth} samples are not supported (8-bit images only)`);
    }
    const { data, info } = await image.raw().toBuffer({ resolveWithObject: true });
    if (data.length !== info.width * info.height * info.channels) {
      throw new Error(`decoded ${data.length} bytes for ${info.width}x${info.height}x${info.channels}`);
    }
    const grey = meta.channels !== undefined && meta.channels <= 2 && !meta.isPalette;
    return { data: new Uint8Array(data.buffer, data.byteOffset, data.length), width: info.width, height: info.height, channels: info.channels, grey };
  } catch (err) {
    throw new Error(`${path}: cannot decode image (${(err as Error).message})`);
  }
}

/** `cv2.imread(path)`: 3 channels, HWC, in `order` (cv2 gives BGR). */
export async function decodeImageBytes(bytes: Uint8Array, path: string, order: ChannelOrder = 'bgr'): Promise<ImageU8 & { grey: boolean }> {
  const d = await decodeRaw(bytes, path);
  const n = d.width * d.height;
  const out = new Uint8Array(n * 3);
  const cn = d.channels;
  // sharp returns grey as 1 (or grey+alpha as 2) channel(s), colour as 3 (or RGBA as 4).
  const colour = cn >= 3;
  const [first, last] = order === 'bgr' ? [2, 0] : [0, 2];
  for (let i = 0; i < n; i++) {
    const p = i * cn;
    if (colour) {
      out[3 * i] = d.data[p + first];
      out[3 * i + 1] = d.data[p + 1];
      out[3 * i + 2] = d.data[p + last];
    } else {
      const v = d.data[p];
      out[3 * i] = v;
      out[3 * i + 1] = v;
      out[3 * i + 2] = v;
    }
  }
  return { data: out, width: d.width, height: d.height, channels: 3, grey: d.grey || !colour };
}

/**
 * `cv2.imread(path, 0)`: one grey channel. Grey files are taken as stored; colour files are
 * converted with the ITU-R 601 weights cv2 uses (0.299 R + 0.587 G + 0.114 B), which only matters
 * for masks saved in colour (any non-zero pixel stays non-zero for the `> 0` threshold).
 */
export async function decodeMaskBytes(bytes: Uint8Array, path: string): Promise<ImageU8> {
  const d = await decodeRaw(bytes, path);
  const n = d.width * d.height;
  const out = new Uint8Array(n);
  const cn = d.channels;
  for (let i = 0; i < n; i++) {
    const p = i * cn;
    if (cn >= 3 && !d.grey) {
      out[i] = Math.round(0.299 * d.data[p] + 0.587 * d.data[p + 1] + 0.114 * d.data[p + 2]);
    } else out[i] = d.data[p];
  }
  return { data: out, width: d.width, height: d.height, channels: 1 };
}
