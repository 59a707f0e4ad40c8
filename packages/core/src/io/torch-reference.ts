import * as tf from '@tensorflow/tfjs';
import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { join } from 'node:path';
import type { TorchTensor } from '../nn/torch-state-dict.js';

/**
 * Test support for parity with PyTorch references: the python that has Debian's torch, and the reader
 * of the tensor exports that the tools/*_parity.py scripts write (manifest.json: {name: {shape, offset}};
 * data.bin: float32 little-endian, concatenated).
 */

/** Debian's python3-torch / python3-opencv live under the system python (another python3 on PATH may lack them). */
export const REFERENCE_PYTHON = '/usr/bin/python3';

/** Why `REFERENCE_PYTHON` cannot import `modules`, with the apt line that fixes it; null when it can. */
export function pythonModulesMissing(modules: string[], aptPackages: string): string | null {
  const r = spawnSync(REFERENCE_PYTHON, ['-c', `import ${modules.join(', ')}`], { encoding: 'utf8' });
  if (r.status === 0) return null;
  const why = r.error ? r.error.message : (r.stderr ?? '').trim().split('\n').pop();
  return `${REFERENCE_PYTHON} cannot import ${modules.join(', ')} (${why}); install: apt-get install -y ${aptPackages}`;
}

/** Why torch cannot run here, or null. */
export function torchMissing(): string | null {
  return pythonModulesMissing(['torch', 'numpy'], 'python3-torch libopenblas0-pthread');
}

export interface TensorExport {
  /** Everything the script recorded besides the tensors (torch version, config, parameter count). */
  meta: Record<string, unknown>;
  names: string[];
  /** The tensor `name`, or undefined. */
  get(name: string): TorchTensor | undefined;
  /** The tensor `name`; throws naming the file when absent. */
  need(name: string): TorchTensor;
}

/** Reads `dir`/manifest.json + `dir`/data.bin. */
export function readTensorExport(dir: string): TensorExport {
  const manifestPath = join(dir, 'manifest.json');
  const { tensors, ...meta } = JSON.parse(readFileSync(manifestPath, 'utf8')) as {
    tensors: Record<string, { shape: number[]; offset: number }>;
  };
  const buf = readFileSync(join(dir, 'data.bin'));
  const all = new Float32Array(buf.buffer, buf.byteOffset, buf.byteLength / 4);
  const get = (name: string): TorchTensor | undefined => {
    const t = tensors[name];
    if (!t) return undefined;
    const n = t.shape.reduce((a, b) => a * b, 1);
    if (t.offset + n > all.length) throw new Error(`torch-reference.ts: '${name}' runs past the end of ${join(dir, 'data.bin')}`);
    return { shape: t.shape, data: all.slice(t.offset, t.offset + n) };
  };
  const need = (name: string): TorchTensor => {
    const t = get(name);
    if (!t) throw new Error(`torch-reference.ts: ${manifestPath} has no tensor '${name}'`);
    return t;
  };
  return { meta, names: Object.keys(tensors), get, need };
}

/** A torch NCHW map of an export as an NHWC tensor (the caller owns it). */
export function nchwToNhwc(t: TorchTensor): tf.Tensor4D {
  if (t.shape.length !== 4) throw new Error(`torch-reference.ts: expected an NCHW map, got [${t.shape.join(',')}]`);
  return tf.tidy(() => tf.transpose(tf.tensor4d(t.data, t.shape as [number, number, number, number]), [0, 2, 3, 1]));
}

/** How far the suite's values are from a reference tensor: max |a - b|, max |b| and their ratio. */
export interface Deviation {
  name: string;
  maxAbs: number;
  maxRef: number;
  /** maxAbs / maxRef (maxAbs itself when the reference is all zeros). */
  rel: number;
}

export function deviation(name: string, actual: ArrayLike<number>, ref: TorchTensor): Deviation {
  if (actual.length !== ref.data.length) {
    throw new Error(`torch-reference.ts: '${name}' has ${actual.length} values, the reference [${ref.shape.join(',')}] ${ref.data.length}`);
  }
  let maxAbs = 0;
  let maxRef = 0;
  for (let i = 0; i < actual.length; i++) {
    maxAbs = Math.max(maxAbs, Math.abs(actual[i] - ref.data[i]));
    maxRef = Math.max(maxRef, Math.abs(ref.data[i]));
  }
  return { name, maxAbs, maxRef, rel: maxRef > 0 ? maxAbs / maxRef : maxAbs };
}

/** One line per deviation, for the test log. */
export function formatDeviations(title: string, rows: Deviation[]): string {
  const lines = rows.map((r) => `${r.name.padEnd(48)} max|d| ${r.maxAbs.toExponential(2)}  rel ${r.rel.toExponential(2)}`);
  return `${title}\n${lines.join('\n')}`;
}
