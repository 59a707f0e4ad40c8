/**
 * Step progress for long epochs: a redrawn bar on stderr when it is a terminal, otherwise about ten
 * plain lines per epoch through `log` (so CI and `nohup` logs stay readable).
 */
export class ProgressReporter {
  private readonly tty: boolean;
  private started = 0;
  private drawn = false;

  constructor(
    private readonly enabled: boolean,
    private readonly log: (msg: string) => void,
  ) {
    this.tty = enabled && Boolean(process.stderr.isTTY);
  }

  startEpoch(): void {
    this.started = Date.now();
  }

  update(epoch: number, step: number, total: number, meanLoss: number): void {
    if (!this.enabled) return;
    const elapsed = (Date.now() - this.started) / 1000;
    const eta = step > 0 ? (elapsed / step) * (total - step) : 0;
    const text = `epoch ${epoch} step ${step}/${total} loss ${meanLoss.toFixed(4)} ${elapsed.toFixed(0)}s eta ${eta.toFixed(0)}s`;
    if (this.tty) {
      const width = 24;
      const filled = Math.round((width * step) / Math.max(total, 1));
      process.stderr.write(`\r[${'#'.repeat(filled)}${'.'.repeat(width - filled)}] ${text}\x1b[K`);
      this.drawn = true;
    } else {
      const every = Math.max(1, Math.floor(total / 10));
      if (step % every === 0 || step === total) this.log(text);
    }
  }

  /** End the bar's line before other output. */
  finish(): void {
    if (this.drawn) process.stderr.write('\n');
    this.drawn = false;
  }
}
