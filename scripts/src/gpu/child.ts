import { spawn } from 'node:child_process';

/**
 * One check's process (scripts/src/gpu/checks.ts): its stdout kept, its stderr echoed and its tail
 * kept for the record, stopped at its time budget (SIGTERM, then SIGKILL 5 s later: a Dawn or CUDA
 * call can ignore the first).
 */
export interface ChildOutcome {
  code: number | null;
  signal: string | null;
  timedOut: boolean;
  /** `stopWhen` matched a line (of either stream) and the child was stopped then. */
  stopped: boolean;
  ms: number;
  stdout: string;
  stderrTail: string[];
}

const TAIL_LINES = 25;
const KILL_GRACE_MS = 5000;

export function runChild(
  command: string,
  args: string[],
  opts: { timeoutMs: number; env?: NodeJS.ProcessEnv; cwd?: string; log: (line: string) => void; stopWhen?: (line: string) => boolean },
): Promise<ChildOutcome> {
  const t0 = performance.now();
  return new Promise((resolve) => {
    const tail: string[] = [];
    let stdout = '';
    let timedOut = false;
    let stopped = false;
    const child = spawn(command, args, { cwd: opts.cwd, env: opts.env ?? process.env, stdio: ['ignore', 'pipe', 'pipe'] });
    const watch = (chunk: string) => {
      if (!stopped && opts.stopWhen && chunk.split('\n').some(opts.stopWhen)) {
        stopped = true;
        child.kill('SIGTERM');
      }
    };
    const kill = setTimeout(() => {
      timedOut = true;
      child.kill('SIGTERM');
      setTimeout(() => child.kill('SIGKILL'), KILL_GRACE_MS).unref();
    }, opts.timeoutMs);
    child.stdout.setEncoding('utf8').on('data', (chunk: string) => {
      stdout += chunk;
      watch(chunk);
    });
    child.stderr.setEncoding('utf8').on('data', (chunk: string) => {
      watch(chunk);
      for (const line of chunk.split('\n').filter(Boolean)) {
        opts.log(`  | ${line}`);
        tail.push(line);
        if (tail.length > TAIL_LINES) tail.shift();
      }
    });
    const finish = (code: number | null, signal: string | null) => {
      clearTimeout(kill);
      resolve({ code, signal, timedOut, stopped, ms: performance.now() - t0, stdout, stderrTail: tail });
    };
    child.on('error', (e) => {
      tail.push(`cannot start ${command}: ${e.message}`);
      finish(null, null);
    });
    child.on('close', finish);
  });
}

/** A one-line reason for a child that did not succeed. */
export function childFailure(o: ChildOutcome, budgetS: number): string {
  if (o.timedOut) return `stopped at its ${budgetS.toFixed(0)} s budget`;
  const last = [...o.stderrTail].reverse().find((l) => /error|failed|abort|cannot|not available/i.test(l)) ?? o.stderrTail[o.stderrTail.length - 1];
  return `exit ${o.code ?? o.signal}${last ? `: ${last.trim()}` : ''}`;
}
