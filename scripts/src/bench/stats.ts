/** Timing summaries shared by the bench modules. */
export interface Stats {
  medianMs: number;
  minMs: number;
  maxMs: number;
  n: number;
  samplesMs: number[];
}

export function summarize(samples: number[]): Stats {
  const sorted = [...samples].sort((a, b) => a - b);
  const mid = sorted.length >> 1;
  const median = sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
  return { medianMs: median, minMs: sorted[0], maxMs: sorted[sorted.length - 1], n: samples.length, samplesMs: samples };
}

export function ms(stats: Stats): string {
  const f = (v: number) => (v >= 100 ? v.toFixed(0) : v.toFixed(1));
  return `${f(stats.medianMs)} (${f(stats.minMs)}–${f(stats.maxMs)})`;
}
