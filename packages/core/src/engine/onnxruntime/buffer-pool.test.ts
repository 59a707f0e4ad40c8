import { describe, expect, it } from 'vitest';
import { skipOutsideCi } from '../../io/prerequisite.js';
import { BufferPool } from './buffer-pool.js';
import { nativeMemory } from './native.js';

const memory = nativeMemory();
const noAlignment = skipOutsideCi('buffer-pool.test.ts', memory ? null : 'native/build/memory.node is not built: arrays keep V8\'s alignment');

describe('BufferPool', () => {

  it('recycles a released array for the next request of that byte size, under any element type', () => {
    const pool = new BufferPool();
    const a = pool.acquire(Float32Array, 1000);
    const owner = {};
    pool.own(a, owner);
    pool.release(a, owner);
    const b = pool.acquire(Int32Array, 1000);
    expect(b.buffer).toBe(a.buffer);
    expect(b.byteOffset).toBe(a.byteOffset);
    expect(b.length).toBe(1000);
    expect([pool.hits, pool.misses]).toEqual([1, 1]);
    expect(pool.acquire(Float32Array, 999).buffer, 'another size is a new array').not.toBe(a.buffer);
  });

  it('does not recycle an array someone else still sees, or one it did not allocate', () => {
    const pool = new BufferPool();
    const a = pool.acquire(Float32Array, 64);
    pool.own(a, {});
    pool.release(a, {}); // not the owner
    const foreign = new Float32Array(64);
    pool.release(foreign, {});
    expect(pool.pooledBytes).toBe(0);
  });

  it('past its byte budget it lets the least recently released arrays go, not the newest', () => {
    const pool = new BufferPool(3 * 4096);
    const owner = {};
    const arrays = [1024, 1024, 1024, 1024].map(() => pool.acquire(Float32Array, 1024));
    for (const a of arrays) {
      pool.own(a, owner);
      pool.release(a, owner);
    }
    expect(pool.pooledBytes).toBe(3 * 4096);
    const kept = [0, 1, 2].map(() => pool.acquire(Float32Array, 1024).buffer);
    expect(kept).toEqual([arrays[3].buffer, arrays[2].buffer, arrays[1].buffer]);
    expect(pool.acquire(Float32Array, 1024).buffer, 'the oldest went').not.toBe(arrays[0].buffer);
  });

  it.skipIf(noAlignment)('hands out 64-byte aligned arrays (native/memory.cc), recycled ones included', () => {
    const pool = new BufferPool();
    const owner = {};
    for (const n of [1, 7, 1000, 12_345, 1 << 20]) {
      const a = pool.acquire(Float32Array, n);
      expect(memory!.addressModulo(a, 64), `${n} floats`).toBe(0);
      expect(a.length).toBe(n);
      pool.own(a, owner);
      pool.release(a, owner);
      const again = pool.acquire(Uint8Array, 4 * n);
      expect(again.buffer).toBe(a.buffer);
      expect(memory!.addressModulo(again, 64)).toBe(0);
    }
  });
});
