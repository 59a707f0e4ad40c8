import { nativeMemory } from './native.js';

/**
 * Recycles the output arrays of ORT kernels. A fresh `new Float32Array(n)` costs a zero fill, GC
 * churn and, without GLIBC_TUNABLES, fresh-page faults (ENGINE.md §1.1 b: 3-5 ms per MB here); a
 * training step allocates the same shapes every time, so disposed outputs are reused exactly.
 *
 * Safety: an array is recycled only while this pool is sure nobody else can see it:
 * - it was allocated here and its tensor's data record was the only owner (`own`);
 * - `escape` (readSync: dataSync/arraySync hand the very array to user code) makes it permanent;
 * - `noteAlias` (a cpu kernel produced an output that views the same ArrayBuffer, e.g. a
 *   contiguous Slice) makes it permanent too.
 *
 * Where native/memory.cc is built, arrays start on a 64-byte boundary (a view into a buffer 64 bytes
 * longer): V8 aligns to 16 bytes, and ORT's AVX-512 kernels then split every store over two cache
 * lines (memory.cc says what that cost).
 */
const ALIGNMENT = 64;

export type TypedArrayCtor = Float32ArrayConstructor | Int32ArrayConstructor | Uint8ArrayConstructor;
export type PooledArray = Float32Array | Int32Array | Uint8Array;

export class BufferPool {
  /** Buffers that may be recycled, with the data id that owns them. */
  private readonly owner = new WeakMap<ArrayBufferLike, object>();
  /** Where the aligned array of each buffer allocated here starts (bytes). */
  private readonly start = new WeakMap<ArrayBufferLike, number>();
  private readonly free = new Map<number, ArrayBuffer[]>();
  /**
   * Every free buffer with its array's byte size, oldest release first. Past `maxFreeBytes` the
   * oldest go (to the garbage collector): a shape no step uses any more (a self-test's, a first
   * eager step's) must not keep out the ones every step recycles.
   */
  private readonly age = new Map<ArrayBuffer, number>();
  private freeBytes = 0;
  hits = 0;
  misses = 0;

  constructor(private readonly maxFreeBytes = 1 << 30) {}

  acquire(ctor: TypedArrayCtor, length: number): PooledArray {
    const bytes = length * ctor.BYTES_PER_ELEMENT;
    const list = this.free.get(bytes);
    const buf = list?.pop();
    if (buf) {
      this.freeBytes -= bytes;
      this.age.delete(buf);
      this.hits++;
      return new ctor(buf, this.start.get(buf) ?? 0, length);
    }
    this.misses++;
    const memory = nativeMemory();
    if (!memory) return new ctor(length);
    const fresh = new ArrayBuffer(bytes + ALIGNMENT);
    const start = (ALIGNMENT - memory.addressModulo(new Uint8Array(fresh, 0, 1), ALIGNMENT)) % ALIGNMENT;
    this.start.set(fresh, start);
    return new ctor(fresh, start, length);
  }

  /** Marks `values` (allocated by `acquire`) as owned by the tensor data `dataId`. */
  own(values: PooledArray, dataId: object): void {
    this.owner.set(values.buffer, dataId);
  }

  /** The array left the backend's control (handed to user code): never recycle it. */
  escape(values: unknown): void {
    if (ArrayBuffer.isView(values)) this.owner.delete(values.buffer);
  }

  /** A tensor other than the owner uses this buffer (a view): never recycle it. */
  noteAlias(values: unknown, dataId: object): void {
    if (!ArrayBuffer.isView(values)) return;
    const o = this.owner.get(values.buffer);
    if (o !== undefined && o !== dataId) this.owner.delete(values.buffer);
  }

  /** The tensor data `dataId` was deleted; recycle its array if it was the sole owner. */
  release(values: unknown, dataId: object): void {
    if (!ArrayBuffer.isView(values) || this.owner.get(values.buffer) !== dataId) return;
    const buf = values.buffer as ArrayBuffer;
    this.owner.delete(buf);
    const start = this.start.get(buf) ?? 0;
    const bytes = values.byteLength;
    if (values.byteOffset !== start || bytes !== buf.byteLength - (this.start.has(buf) ? ALIGNMENT : 0)) return;
    if (bytes > this.maxFreeBytes) return;
    let list = this.free.get(bytes);
    if (!list) this.free.set(bytes, (list = []));
    list.push(buf);
    this.age.set(buf, bytes);
    this.freeBytes += bytes;
    for (const [oldest, size] of this.age) {
      if (this.freeBytes <= this.maxFreeBytes) break;
      const same = this.free.get(size)!;
      same.splice(same.indexOf(oldest), 1);
      this.age.delete(oldest);
      this.freeBytes -= size;
    }
  }

  get pooledBytes(): number {
    return this.freeBytes;
  }

  clear(): void {
    this.free.clear();
    this.age.clear();
    this.freeBytes = 0;
  }
}
