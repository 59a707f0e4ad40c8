import * as tf from '@tensorflow/tfjs';
import { beforeAll, describe, expect, it } from 'vitest';
import { skipOutsideCi } from '../../io/prerequisite.js';
import { activateOnnxruntime } from './activate.test-util.js';
import type { OnnxruntimeBackend } from './backend.js';
import { createBenchStep } from './bench-unet.js';
import { nativeConvFilter, nativeConvFilterStatus } from './native.js';

/**
 * A long run stays flat: ~50 training steps of a small U-Net (batch norm, LViT loss, Adam) keep the
 * tensor count, tensor bytes, the session cache and process RSS bounded. Plus the buffer pool's
 * safety rules: arrays handed to user code and arrays viewed by other tensors are never recycled.
 */

beforeAll(activateOnnxruntime);

const backend = () => tf.backend() as OnnxruntimeBackend;

describe('memory over a long run', () => {
  it('50 steps: tensors, bytes, sessions and RSS stay flat', () => {
    // Big enough that leaking one step's buffers (~20 MB) per step would dwarf GC wobble.
    const step = createBenchStep({ base: 8, batch: 2, res: 64, seed: 1 });
    for (let i = 0; i < 5; i++) step.step();
    const start = { mem: tf.memory(), sessions: backend().numSessions(), rss: process.memoryUsage().rss };
    let loss = 0;
    for (let i = 0; i < 45; i++) loss = step.step();
    const end = { mem: tf.memory(), sessions: backend().numSessions(), rss: process.memoryUsage().rss };
    expect(Number.isFinite(loss)).toBe(true);
    expect(end.mem.numTensors).toBe(start.mem.numTensors);
    expect(end.mem.numBytes).toBe(start.mem.numBytes);
    expect(end.sessions).toBe(start.sessions);
    // Steady state reuses pooled buffers; RSS may wobble with GC (seen: +74 MB with other test
    // files running) but must not grow per step: 45 leaked steps would be ~900 MB.
    expect(end.rss - start.rss).toBeLessThan(192 * 1024 * 1024);
    expect(backend().pool.hits).toBeGreaterThan(backend().pool.misses);
    step.dispose();
  });
});

// Base 16: the convs' filters take the native NCHWc layout kernel (channels divisible by the block size).
const noLayouts = skipOutsideCi('memory.test.ts', nativeConvFilter() ? null : `the native filter layouts are not in use (${nativeConvFilterStatus()})`);

describe.skipIf(noLayouts)('steady state of a step', () => {
  it('leaves no backend data behind and takes every array from the pool', () => {
    // A kernel's own intermediate (the filter layouts of the NCHWc convs) must be disposed by it: left
    // to tfjs's data WeakMap, it counted as alive at the flush and its array never came back to the pool.
    const step = createBenchStep({ base: 16, batch: 2, res: 32, seed: 1 });
    for (let i = 0; i < 3; i++) step.step();
    const start = { ids: backend().data.numDataIds(), misses: backend().pool.misses };
    for (let i = 0; i < 3; i++) step.step();
    expect(backend().data.numDataIds() - start.ids).toBe(0);
    // The loss read hands its array to user code (never recycled): at most one fresh array a step.
    expect(backend().pool.misses - start.misses).toBeLessThanOrEqual(3);
    step.dispose();
  });
});

describe('buffer pool safety', () => {
  it('an array returned by dataSync keeps its values after the tensor is disposed and reused shapes run', () => {
    const a = tf.tensor(new Float32Array(16384).fill(2));
    const b = tf.add(a, a); // ORT output, pool-owned
    const seen = b.dataSync();
    b.dispose();
    for (let i = 0; i < 3; i++) tf.tidy(() => tf.mul(a, 5 + i).dataSync()); // same size: would reuse b's buffer
    expect(seen[0]).toBe(4);
    expect(seen[16383]).toBe(4);
    a.dispose();
  });

  it('a contiguous slice (a view of the same buffer) survives disposal of its source', () => {
    const a = tf.tensor(new Float32Array(16384).fill(1));
    const b = tf.add(a, a); // pool-owned, all 2
    const view = tf.slice(b, [0], [8192]); // cpu kernel: subarray of b's buffer
    b.dispose();
    tf.tidy(() => tf.mul(a, 7)); // same size as b: must not land in b's buffer
    const v = view.dataSync();
    expect(v[0]).toBe(2);
    expect(v[8191]).toBe(2);
    tf.dispose([a, view]);
  });
});
