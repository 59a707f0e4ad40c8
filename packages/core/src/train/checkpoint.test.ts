import * as tf from '@tensorflow/tfjs';
import * as fs from 'node:fs';
import * as os from 'node:os';
import * as path from 'node:path';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import {
  captureModelState,
  CheckpointData,
  copyMatchingWeights,
  loadCheckpoint,
  loadModelState,
  saveCheckpoint,
} from './checkpoint.js';
import { Adam } from './optim.js';
import { TinySegNet } from './synthetic.js';

let dir: string;
beforeAll(async () => {
  await tf.setBackend('cpu');
  dir = fs.mkdtempSync(path.join(os.tmpdir(), 'lvit-ckpt-'));
});
afterAll(() => fs.rmSync(dir, { recursive: true, force: true }));

function sampleCheckpoint(): CheckpointData {
  const model = new TinySegNet({ seed: 4 });
  const opt = new Adam(model.namedParameters(), { lr: 0.01 });
  opt.step({ 'head.weight': tf.onesLike(model.head.weight) });
  const ckpt: CheckpointData = {
    model: captureModelState(model),
    optimizer: opt.getState(),
    loop: {
      epoch: 3,
      bestValDice: 0.71,
      bestEpoch: 2,
      epochsWithoutImprovement: 1,
      rng: { order: 123, augment: 4294967295 },
      curves: [{ epoch: 1, trainLoss: 0.5, valDice: 0.6, valIoU: 0.4, lr: 1e-3, timeSec: 1 }],
      globalStep: 12,
      finished: false,
      earlyStopped: false,
    },
    extra: { note: 'x', nested: { a: [1, 2] } },
    blobs: { 'perImage/a b/c': new Float32Array([0.25, -1, 3.5]), flags: new Uint8Array([1, 0, 7]) },
  };
  opt.dispose();
  model.dispose();
  return ckpt;
}

describe('checkpoints', () => {
  it('round-trip model, optimizer, loop state, extra and blobs exactly', async () => {
    const file = path.join(dir, 'ck1');
    const ckpt = sampleCheckpoint();
    await saveCheckpoint(file, ckpt);
    const back = await loadCheckpoint(file);
    expect(Object.keys(back.model)).toEqual(Object.keys(ckpt.model));
    for (const [k, v] of Object.entries(ckpt.model)) {
      expect(back.model[k].shape).toEqual(v.shape);
      expect(Array.from(back.model[k].data)).toEqual(Array.from(v.data));
    }
    expect(back.optimizer!.slots['head.weight'].step).toBe(1);
    expect(Array.from(back.optimizer!.slots['head.weight'].m)).toEqual(Array.from(ckpt.optimizer!.slots['head.weight'].m));
    expect(back.loop).toEqual(ckpt.loop);
    expect(back.extra).toEqual(ckpt.extra);
    expect(back.blobs!['perImage/a b/c']).toBeInstanceOf(Float32Array);
    expect(Array.from(back.blobs!['perImage/a b/c'])).toEqual([0.25, -1, 3.5]);
    expect(back.blobs!.flags).toBeInstanceOf(Uint8Array);
    expect(Array.from(back.blobs!.flags)).toEqual([1, 0, 7]);
    // Nothing but the checkpoint is left in the folder (the temp file was renamed).
    expect(fs.readdirSync(dir).filter((f) => f.startsWith('.ck1'))).toEqual([]);
  });

  it('a truncated or corrupted file is an error naming the file', async () => {
    const file = path.join(dir, 'ck2');
    await saveCheckpoint(file, sampleCheckpoint());
    const bytes = fs.readFileSync(file);
    fs.writeFileSync(file, bytes.subarray(0, bytes.length - 10));
    await expect(loadCheckpoint(file)).rejects.toThrow(new RegExp(`${file}.*truncated or corrupt`));
    const flipped = Buffer.from(bytes);
    flipped[flipped.length - 100] ^= 0xff;
    fs.writeFileSync(file, flipped);
    await expect(loadCheckpoint(file)).rejects.toThrow(/checksum mismatch/);
    fs.writeFileSync(file, 'not a checkpoint');
    await expect(loadCheckpoint(file)).rejects.toThrow(/ck2/);
    await expect(loadCheckpoint(path.join(dir, 'missing'))).rejects.toThrow(/cannot read checkpoint/);
  });

  it('loadModelState restores by name; strict mode rejects missing names; shapes must match', () => {
    const a = new TinySegNet({ seed: 1 });
    const b = new TinySegNet({ seed: 2 });
    const state = captureModelState(a);
    const report = loadModelState(b, state);
    expect(report.missing).toEqual([]);
    expect(Array.from(b.head.weight.dataSync())).toEqual(Array.from(a.head.weight.dataSync()));
    expect(Array.from(b.body.norm.runningVar.dataSync())).toEqual(Array.from(a.body.norm.runningVar.dataSync()));

    const partial = { ...state };
    delete partial['head.bias'];
    expect(() => loadModelState(b, partial)).toThrow(/missing: head\.bias/);
    expect(loadModelState(b, partial, { strict: false }).missing).toEqual(['head.bias']);
    const wrong = { ...state, 'head.bias': { shape: [2], data: new Float32Array(2) } };
    expect(() => loadModelState(b, wrong, { strict: false })).toThrow(/'head\.bias' has shape \[2\]/);
    a.dispose();
    b.dispose();
  });

  it('copyMatchingWeights copies tensors whose name and shape match, from a map or a file', async () => {
    const src = new TinySegNet({ seed: 5, width: 4 });
    const dst = new TinySegNet({ seed: 6, width: 8 }); // body.* and head.weight differ in shape
    const fromMap = new Map<string, tf.Tensor>(src.namedState().map(([n, v]) => [n, v]));
    fromMap.set('unrelated.weight', tf.zeros([1]));
    const { copied, skipped } = copyMatchingWeights(fromMap, dst);
    expect(copied).toEqual(['head.bias']);
    expect(skipped).toContain('unrelated.weight');
    expect(skipped).toContain('body.conv.weight');
    expect(dst.head.bias!.dataSync()[0]).toBe(src.head.bias!.dataSync()[0]);

    const file = path.join(dir, 'src-model');
    await saveCheckpoint(file, { model: captureModelState(src) });
    const same = new TinySegNet({ seed: 7, width: 4 });
    const fromFile = copyMatchingWeights(file, same);
    expect(fromFile.copied.length).toBe(src.namedState().length);
    expect(fromFile.skipped).toEqual([]);
    expect(Array.from(same.body.conv.weight.dataSync())).toEqual(Array.from(src.body.conv.weight.dataSync()));
    [src, dst, same].forEach((m) => m.dispose());
  });
});
