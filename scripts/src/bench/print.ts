/** The bench's text report (bench.ts). */
import type { BackendReport } from './backend.js';
import type { Options } from './options.js';
import { ms } from './stats.js';
import { ENGINE_BAR_MS } from './targets.js';
import { torchLines } from './torch.js';

/** ENGINE.md §9: official LViT, batch 2 @ 224, PyTorch 1.13 + OpenBLAS on this 2-core CPU (not same-minute). */
const TORCH_LVIT_FULL_B2_MS = 1910;

function pct(v: number | null): string {
  return v === null ? '-' : `${v.toFixed(0)}%`;
}

function table(rows: string[][]): string {
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return rows.map((r) => r.map((cell, c) => (c === 0 || c === 1 ? cell.padEnd(widths[c]) : cell.padStart(widths[c]))).join('  ')).join('\n');
}

export function printReport(reports: BackendReport[], opts: Options): void {
  const out: string[] = [];
  out.push(`lvit-bench engine bench: node ${process.version}, reps ${opts.reps}, GLIBC_TUNABLES ${process.env.GLIBC_TUNABLES ? 'set' : 'unset'}`);
  out.push('Times: median (min–max) ms. Timings on a shared machine are noisy.');
  for (const r of reports) {
    out.push('');
    if (!r.info || r.unavailable) {
      out.push(`== ${r.label}: unavailable: ${r.unavailable}`);
      continue;
    }
    out.push(`== ${r.label}: ${r.info.detail} on ${r.info.device}`);
    if (r.ops.length > 0) {
      out.push(table([['op', 'shape', 'ms', 'GFLOPS', 'cpu ms', 'others'], ...r.ops.map((o) => [o.op, o.shape, ms(o.stats), o.gflops.toFixed(1), o.contention.cpu.medianMs.toFixed(1), pct(o.contention.othersBusyPct)])]));
    }
    if (r.steps.length > 0) {
      out.push('');
      out.push(
        table([
          ['train step', 'config', 'params', 'fwd GFLOP', 'ms/step', 'first', 'GFLOPS*', 'cpu ms', 'others', 'loss first→last', 'tensors'],
          ...r.steps.map((s) => [
            s.model,
            s.config,
            s.params.toLocaleString('en-US'),
            s.forwardGflop.toFixed(2),
            ms(s.stats),
            s.firstStepMs.toFixed(0),
            s.effectiveGflops.toFixed(1),
            s.contention.cpu.medianMs.toFixed(0),
            pct(s.contention.othersBusyPct),
            `${s.loss.first.toFixed(3)}→${s.loss.last.toFixed(3)}`,
            `${s.tensors.before}→${s.tensors.after}`,
          ]),
        ]),
      );
      out.push('  * effective GFLOPS = 3 x forward FLOPs / median step time. cpu ms: this process\'s CPU time per step (all threads);');
      out.push('    others: share of the machine used by other processes meanwhile (high = the wall times are inflated).');
      const bar = r.steps.find((s) => s.model === 'engine-bar-unet');
      if (bar && r.label === 'wasm-mt') {
        out.push(`  ENGINE.md bar (wasm-mt, 2 threads, same net): ${ENGINE_BAR_MS} ms/step; here ${bar.stats.medianMs.toFixed(0)} ms (${(bar.stats.medianMs / ENGINE_BAR_MS).toFixed(2)}x)`);
      }
      for (const s of r.steps.filter((x) => x.memory)) {
        const m = s.memory!;
        out.push(`  ${s.model} (${s.config}) ran in a child process: peak RSS ${m.rssMB.toFixed(0)} MB, wasm heap ${m.wasmHeapMB === null ? '-' : `${m.wasmHeapMB.toFixed(0)} MB`}`);
      }
      for (const s of r.steps.filter((x) => x.topKernels)) {
        out.push(`  top kernels, ${s.model} (${s.config}): ${s.topKernels!.map((k) => `${k.kernel} ${(100 * k.share).toFixed(1)}%`).join(', ')}`);
        if (s.sessionOutputMB !== undefined) {
          out.push(`    ORT session outputs: ${s.sessionOutputMB.toFixed(0)} MB a step, ${(s.sessionOutputCopiedMB ?? 0).toFixed(0)} MB of them copied once more (onnxruntime-node's binding copies every output: ~0.3 ms/MB on the Xeon VM)`);
        }
      }
    }
    out.push(...torchReportLines(r));
    for (const note of r.notes) out.push(`  note: ${note}`);
    const m = r.memory;
    if (m.rssMB > 0) out.push(`  peak memory: RSS ${m.rssMB.toFixed(0)} MB, JS heap ${m.heapUsedMB.toFixed(0)} MB${m.wasmHeapMB !== null ? `, wasm heap ${m.wasmHeapMB.toFixed(0)} MB` : ''}`);
  }
  process.stdout.write(out.join('\n') + '\n');
}

/** The side-by-side lines, and full LViT-T against ENGINE.md's PyTorch figure. */
function torchReportLines(r: BackendReport): string[] {
  const lines = r.sideBySide.flatMap(torchLines);
  const fullLvit = r.steps.find((s) => s.model === 'lvit-t' && s.config.includes('batch 2 @ 224'));
  const unet16 = r.sideBySide.find((t) => t.name === 'unet16');
  if (fullLvit && unet16 && !('unavailable' in unet16)) {
    const ratio = fullLvit.stats.medianMs / TORCH_LVIT_FULL_B2_MS;
    lines.push(`    full LViT-T batch 2 @ 224: ${fullLvit.stats.medianMs.toFixed(0)} ms vs the official model's ${TORCH_LVIT_FULL_B2_MS} ms in PyTorch (ENGINE.md §9, not the same minute): ${ratio.toFixed(2)}x (goal 1.5x)`);
  }
  return lines;
}
