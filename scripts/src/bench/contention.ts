/** What else ran on the machine during a measurement, and this process's peak memory (bench.ts). */
import { wasmHeapBytes } from '@lvit-bench/core';
import { readFileSync } from 'node:fs';
import { summarize, type Stats } from './stats.js';

/** What else ran on the machine during a measurement (this VM is shared; see ENGINE.md's gate). */
export interface Contention {
  /** Process CPU time (all threads, incl. wasm pthreads) per repetition: insensitive to other jobs. */
  cpu: Stats;
  /** Share of the machine's CPU capacity used by other processes during the timed runs (from /proc/stat). */
  othersBusyPct: number | null;
}

export interface MemoryPeak {
  rssMB: number;
  heapUsedMB: number;
  wasmHeapMB: number | null;
}

export const memoryPeak: MemoryPeak = { rssMB: 0, heapUsedMB: 0, wasmHeapMB: null };

export function sampleMemory(): void {
  const m = process.memoryUsage();
  memoryPeak.rssMB = Math.max(memoryPeak.rssMB, m.rss / 2 ** 20);
  memoryPeak.heapUsedMB = Math.max(memoryPeak.heapUsedMB, m.heapUsed / 2 ** 20);
  const wasm = wasmHeapBytes();
  if (wasm !== null) memoryPeak.wasmHeapMB = Math.max(memoryPeak.wasmHeapMB ?? 0, wasm / 2 ** 20);
}

/** Jiffies of all CPUs (total, idle+iowait) from /proc/stat; null where it does not exist. */
export function cpuJiffies(): { total: number; idle: number } | null {
  try {
    const fields = readFileSync('/proc/stat', 'utf8').split('\n')[0].trim().split(/\s+/).slice(1).map(Number);
    return { total: fields.reduce((a, b) => a + b, 0), idle: fields[3] + (fields[4] ?? 0) };
  } catch {
    return null;
  }
}

/** Measures wall time, own CPU time and other processes' load around repeated runs. */
export class ContentionMeter {
  private readonly jiffies0 = cpuJiffies();
  private readonly own0 = process.cpuUsage();
  private readonly cpuSamples: number[] = [];
  private lap = process.cpuUsage();

  /** Call right before a timed repetition. */
  startRep(): void {
    this.lap = process.cpuUsage();
  }

  /** Call right after it; `timed` false for warm-ups. */
  endRep(timed: boolean): void {
    const d = process.cpuUsage(this.lap);
    if (timed) this.cpuSamples.push((d.user + d.system) / 1000);
  }

  finish(): Contention {
    const j1 = cpuJiffies();
    const own = process.cpuUsage(this.own0);
    let othersBusyPct: number | null = null;
    if (this.jiffies0 && j1 && j1.total > this.jiffies0.total) {
      const totalMs = (j1.total - this.jiffies0.total) * 10; // USER_HZ = 100
      const busyMs = totalMs - (j1.idle - this.jiffies0.idle) * 10;
      othersBusyPct = Math.max(0, (100 * (busyMs - (own.user + own.system) / 1000)) / totalMs);
    }
    return { cpu: summarize(this.cpuSamples), othersBusyPct };
  }
}

export function resetMemoryPeak(): void {
  memoryPeak.rssMB = 0;
  memoryPeak.heapUsedMB = 0;
  memoryPeak.wasmHeapMB = null;
}
