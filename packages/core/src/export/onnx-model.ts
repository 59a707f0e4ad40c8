import * as tf from '@tensorflow/tfjs';
import onnxProto from 'onnx-proto';
import type { SegmentationModel, TextEncoderInfo } from '../types.js';
import { traceForwardToOnnx, type TraceOutcome } from './trace.js';

/**
 * A trained model as a self-describing ONNX inference file: the eval-mode forward (export/trace.ts)
 * and, in the model's metadata_props, everything needed to feed it the way training did and to
 * trace it back to its run. Each field is one metadata key `lvit-bench.<field>` holding JSON.
 *
 * Graph: i0 image [1,H,W,C] float32 NHWC, channels in `channelOrder`, values = uint8 / 255 (no mean
 * or std: LViT's loader uses torchvision's to_tensor only); i1 text [1,T,D] (LViT-T only);
 * o0 foreground probability [1,H,W,1] (sigmoid), foreground = p > 0.5 (LVIT.md §4 test convention).
 */

export const ONNX_MODEL_FORMAT = 'lvit-bench/onnx@1';
const PREFIX = 'lvit-bench.';

export interface OnnxModelInfo {
  format: typeof ONNX_MODEL_FORMAT;
  /** Registered model ('unet', 'lvit-t', 'lvit-tw', 'transunet'): the architecture in the graph. */
  model: string;
  /** The run's model key as results name it (e.g. 'lvit-t+epi+lv'). */
  modelKey: string;
  modelConfig: Record<string, unknown>;
  /** [H, W, C] of i0 without the batch axis. */
  inputShape: [number, number, number];
  channelOrder: 'bgr' | 'rgb';
  normalisation: string;
  /** LViT-T: the encoder whose features i1 expects, and their [T, D]; null for image-only models. */
  textEncoder: TextEncoderInfo | null;
  textShape: [number, number] | null;
  runId: string;
  dataset: string;
  labelFraction: number;
  seed: number;
  /** 1-based epoch of the best checkpoint that was exported. */
  checkpointEpoch: number | null;
  dataManifestHash: string;
  gitCommit: string;
  gitDirty: boolean;
}

export const IMAGE_NORMALISATION = 'float32(uint8) / 255 per channel (torchvision to_tensor), no mean/std';

/** The model's eval-mode forward as ONNX, traced on `image` (and `text`), with `info` as metadata. */
export function exportModelToOnnx(
  model: SegmentationModel,
  info: OnnxModelInfo,
  image: tf.Tensor4D,
  text: tf.Tensor3D | null,
): TraceOutcome {
  if (model.usesText !== (info.textShape !== null)) {
    throw new Error(`export/onnx-model.ts: ${info.model} ${model.usesText ? 'reads' : 'does not read'} text, but the export info says text shape ${JSON.stringify(info.textShape)}`);
  }
  if (!tf.util.arraysEqual(image.shape.slice(1), info.inputShape)) {
    throw new Error(`export/onnx-model.ts: trace image [${image.shape.join(',')}] does not match the input shape [1,${info.inputShape.join(',')}]`);
  }
  const forward = (x: tf.Tensor, t?: tf.Tensor) => model.forward(x as tf.Tensor4D, (t ?? null) as tf.Tensor3D | null, { training: false });
  const metadata = Object.fromEntries(Object.entries(info).map(([k, v]) => [PREFIX + k, JSON.stringify(v)]));
  return traceForwardToOnnx(forward, text ? [image, text] : [image], { producerName: 'lvit-bench', graphName: info.modelKey, metadata });
}

/** Reads the metadata of a file written by `exportModelToOnnx`; errors name `file` and what is wrong. */
export function readOnnxModelInfo(bytes: Uint8Array, file: string): OnnxModelInfo {
  let props: { key?: string | null; value?: string | null }[];
  try {
    props = onnxProto.onnx.ModelProto.decode(bytes).metadataProps ?? [];
  } catch (err) {
    throw new Error(`${file}: not an ONNX model (${(err as Error).message})`);
  }
  const fields: Record<string, unknown> = {};
  for (const { key, value } of props) {
    if (!key?.startsWith(PREFIX)) continue;
    try {
      fields[key.slice(PREFIX.length)] = JSON.parse(value ?? '');
    } catch {
      throw new Error(`${file}: metadata '${key}' is not JSON`);
    }
  }
  if (fields.format !== ONNX_MODEL_FORMAT) {
    throw new Error(`${file}: not an lvit-bench model (metadata '${PREFIX}format' is ${JSON.stringify(fields.format)}, expected "${ONNX_MODEL_FORMAT}"); export one with \`npx lvit export --run RUN_DIR\``);
  }
  const info = fields as unknown as OnnxModelInfo;
  const shape = info.inputShape;
  if (!Array.isArray(shape) || shape.length !== 3 || !shape.every((d) => Number.isInteger(d) && d > 0)) {
    throw new Error(`${file}: metadata inputShape ${JSON.stringify(shape)} is not [H, W, C]`);
  }
  if (info.channelOrder !== 'bgr' && info.channelOrder !== 'rgb') throw new Error(`${file}: metadata channelOrder ${JSON.stringify(info.channelOrder)} is not bgr or rgb`);
  const text = info.textShape;
  if (text !== null && !(Array.isArray(text) && text.length === 2 && text.every((d) => Number.isInteger(d) && d > 0))) {
    throw new Error(`${file}: metadata textShape ${JSON.stringify(text)} is not null or [T, D]`);
  }
  if ((text === null) !== (info.textEncoder === null)) throw new Error(`${file}: metadata has a text shape but no text encoder, or the reverse`);
  return info;
}
