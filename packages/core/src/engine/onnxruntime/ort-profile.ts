import * as tf from '@tensorflow/tfjs';
import { mkdtempSync, readFileSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { OnnxruntimeBackend } from './backend.js';
import { NATIVE_KERNEL, onnxruntimeStats, sessionOutputBytes } from './stats.js';

/**
 * Reads a profile ORT wrote (`OrtSessionOptions.profileFilePrefix`, Chrome trace JSON) and sums the
 * node time of each run by the tfjs kernel that wrote the node (recorded programs name their nodes
 * `<kernel>#<n>`, deferred.ts) and by ONNX op type. Nodes ORT's optimiser fused or inserted keep a
 * name derived from one of the originals, or none (booked as '(ORT-inserted)').
 */
export interface ProgramProfile {
  /** Program runs in the file. */
  runs: number;
  /** Wall time of the runs, ms (model_run events). */
  runMs: number;
  byKernel: ProfileRow[];
  byOp: ProfileRow[];
  /** MB the step's sessions returned as outputs (`recordSessionOutputs`); set by `profileRecordedStep`. */
  outputMB?: number;
  /** Of those, MB copied once more on the way back (all of them where onnxruntime-node's binding runs the sessions). */
  copiedMB?: number;
}

export interface ProfileRow {
  name: string;
  /** Per run, ms. */
  ms: number;
  /** Nodes per run. */
  nodes: number;
}

interface TraceEvent {
  cat?: string;
  name?: string;
  dur?: number;
  args?: { op_name?: string };
}

export function summarizeOrtProfile(file: string): ProgramProfile {
  let events: TraceEvent[];
  try {
    events = JSON.parse(readFileSync(file, 'utf8')) as TraceEvent[];
  } catch (e) {
    throw new Error(`engine/onnxruntime/ort-profile.ts: ${file} is not an ORT profile (${(e as Error).message})`);
  }
  const runs = events.filter((e) => e.cat === 'Session' && e.name === 'model_run');
  const n = Math.max(1, runs.length);
  const byKernel = new Map<string, ProfileRow>();
  const byOp = new Map<string, ProfileRow>();
  for (const e of events) {
    if (e.cat !== 'Node' || !e.name?.endsWith('_kernel_time')) continue;
    const node = e.name.slice(0, -'_kernel_time'.length);
    const hash = node.indexOf('#');
    const ms = (e.dur ?? 0) / 1000 / n;
    addTo(byKernel, hash > 0 ? node.slice(0, hash) : '(ORT-inserted)', ms, 1 / n);
    addTo(byOp, e.args?.op_name ?? '?', ms, 1 / n);
  }
  return { runs: runs.length, runMs: runs.reduce((a, e) => a + (e.dur ?? 0), 0) / 1000 / n, byKernel: sorted(byKernel), byOp: sorted(byOp) };
}

function addTo(rows: Map<string, ProfileRow>, name: string, ms: number, nodes: number): void {
  const row = rows.get(name) ?? { name, ms: 0, nodes: 0 };
  row.ms += ms;
  row.nodes += nodes;
  rows.set(name, row);
}

const sorted = (rows: Map<string, ProfileRow>) => [...rows.values()].sort((a, b) => b.ms - a.ms);

/**
 * Runs `step` once with ORT's profiler on the recorded programs and returns where their time went
 * (all programs of the step merged, plus the native kernels run between their graphs: rows
 * named by their kernel in `byKernel`, `(native) <kernel>` in `byOp`), or null where the active
 * backend records no programs (another backend, or deferral off). The profile files are deleted.
 */
export async function profileRecordedStep(step: () => unknown): Promise<ProgramProfile | null> {
  const backend = tf.backend();
  if (!(backend instanceof OnnxruntimeBackend) || !backend.deferred) return null;
  const dir = mkdtempSync(join(tmpdir(), 'lvit-ort-profile-'));
  try {
    backend.startProgramProfiling(join(dir, 'program'));
    let files: string[];
    const nativeBefore = nativeRows();
    const bytesBefore = sessionOutputBytes();
    try {
      await step();
    } finally {
      files = backend.endProgramProfiling();
    }
    const bytesAfter = sessionOutputBytes();
    const outputMB = (bytesAfter.returned - bytesBefore.returned) / 2 ** 20;
    const copiedMB = (bytesAfter.copied - bytesBefore.copied) / 2 ** 20;
    return { ...withNativeKernels(mergeProfiles(files.map(summarizeOrtProfile)), nativeBefore, nativeRows()), outputMB, copiedMB };
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
}

/** Time and calls of the native kernels run between program graphs so far, by kernel. */
function nativeRows(): Map<string, { ms: number; calls: number }> {
  const prefix = `${NATIVE_KERNEL} `;
  return new Map(onnxruntimeStats().filter((s) => s.kernel.startsWith(prefix)).map((s) => [s.kernel.slice(prefix.length), { ms: s.ms, calls: s.calls }]));
}

/** The profile with the native kernels that ran between two `nativeRows()` snapshots. */
function withNativeKernels(profile: ProgramProfile, before: ReturnType<typeof nativeRows>, after: ReturnType<typeof nativeRows>): ProgramProfile {
  const byKernel = new Map(profile.byKernel.map((r) => [r.name, { ...r }]));
  const byOp = new Map(profile.byOp.map((r) => [r.name, { ...r }]));
  for (const [kernel, { ms, calls }] of after) {
    const earlier = before.get(kernel) ?? { ms: 0, calls: 0 };
    if (calls === earlier.calls) continue;
    addTo(byKernel, kernel, ms - earlier.ms, calls - earlier.calls);
    addTo(byOp, `${NATIVE_KERNEL} ${kernel}`, ms - earlier.ms, calls - earlier.calls);
  }
  return { ...profile, byKernel: sorted(byKernel), byOp: sorted(byOp) };
}

/** Several programs' profiles as one: per-run times added. */
function mergeProfiles(profiles: ProgramProfile[]): ProgramProfile {
  const merge = (rows: ProfileRow[][]) => {
    const m = new Map<string, ProfileRow>();
    for (const r of rows.flat()) addTo(m, r.name, r.ms, r.nodes);
    return sorted(m);
  };
  return {
    runs: profiles.reduce((a, p) => a + p.runs, 0),
    runMs: profiles.reduce((a, p) => a + p.runMs, 0),
    byKernel: merge(profiles.map((p) => p.byKernel)),
    byOp: merge(profiles.map((p) => p.byOp)),
  };
}
