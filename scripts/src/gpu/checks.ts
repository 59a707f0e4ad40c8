/**
 * The GPU checks, one prepared run (scripts/gpu/README.md; scripts/gpu/run-checks.sh starts it on the
 * device machine):
 *   node scripts/dist/gpu/checks.js --out DIR [--pack DIR] [--work DIR] [--total 480] [--only GROUPS]
 * Runs, each in its own process under its own time budget (plan.ts), a failure recorded and the
 * next one run: adapters -> self-test (per route) -> torch -> steps -> route choice -> profile ->
 * paper. Writes DIR/results.json after every check, DIR/gpu-route.json (the measured choice) and
 * DIR/paper-run.tar.gz. Exit 3 when neither route has an adapter, 1 when a check failed, else 0.
 */
import { execFileSync } from 'node:child_process';
import { existsSync, mkdirSync, readdirSync, readFileSync, statSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join, resolve } from 'node:path';
import { fileURLToPath, pathToFileURL } from 'node:url';
import { chooseGpuRoute, GLIBC_TUNABLES_VALUE, GPU_ROUTES, writeJsonAtomic, type GpuRoute, type RouteTiming } from '@lvit-bench/core';
import { parseFlags, stringFlag } from '../lib/args.js';
import { childFailure, runChild, type ChildOutcome } from './child.js';
import type { AdaptersResult } from './in-process.js';
import { BUDGET_S, configKey, DEFAULT_TOTAL_S, parseGroups, RESERVE_S, slowestStep, stepOrder, timeoutS, type CheckGroup, type StepConfig } from './plan.js';

const DIST = dirname(fileURLToPath(import.meta.url));
const ROOT = resolve(DIST, '..', '..', '..');
const NODE = process.execPath;

type Status = 'ok' | 'failed' | 'timeout' | 'skipped';
interface CheckRecord {
  name: string;
  status: Status;
  budgetS?: number;
  ms?: number;
  result?: unknown;
  error?: string;
}
interface Timing {
  medianMs: number;
  minMs: number;
}
interface Options {
  out: string;
  pack: string;
  work: string;
  totalS: number;
  groups: Set<CheckGroup>;
}

class Run {
  readonly records: CheckRecord[] = [];
  private readonly t0 = Date.now();
  private readonly startedAt = new Date().toISOString();
  constructor(
    readonly opts: Options,
    readonly log: (m: string) => void,
  ) {}

  elapsedS(): number {
    return (Date.now() - this.t0) / 1000;
  }

  record(r: CheckRecord): CheckRecord {
    this.records.push(r);
    const tag = r.status === 'ok' ? 'ok' : `${r.status}${r.error ? `: ${r.error}` : ''}`;
    this.log(`[gpu-checks] ${r.name}: ${tag}${r.ms !== undefined ? ` (${(r.ms / 1000).toFixed(1)} s)` : ''}`);
    this.write('running');
    return r;
  }

  write(status: string, extra: Record<string, unknown> = {}): void {
    writeJsonAtomic(join(this.opts.out, 'results.json'), {
      schema: 'lvit-bench/gpu-checks@1',
      status,
      startedAt: this.startedAt,
      elapsedS: this.elapsedS(),
      totalBudgetS: this.opts.totalS,
      node: process.version,
      ...extra,
      checks: this.records,
    });
  }

  /** Runs one check's process under min(budget, time left); `parse` turns its output into the result. */
  async child(name: string, budgetS: number, command: string, args: string[], parse: (o: ChildOutcome) => unknown, env: NodeJS.ProcessEnv = {}, onLine?: (line: string) => void): Promise<CheckRecord> {
    const limit = timeoutS(budgetS, this.elapsedS(), this.opts.totalS);
    if (limit <= 0) return this.record({ name, status: 'skipped', error: 'no time left in the total budget' });
    this.log(`[gpu-checks] ${name} (budget ${limit.toFixed(0)} s)`);
    const log = (line: string) => (onLine?.(line), this.log(line));
    const o = await runChild(command, args, { timeoutMs: limit * 1000, env: { ...process.env, GLIBC_TUNABLES: GLIBC_TUNABLES_VALUE, ...env }, cwd: ROOT, log });
    const base = { name, budgetS: limit, ms: o.ms };
    if (o.code !== 0) return this.record({ ...base, status: o.timedOut ? 'timeout' : 'failed', error: childFailure(o, limit) });
    try {
      return this.record({ ...base, status: 'ok', result: parse(o) });
    } catch (e) {
      return this.record({ ...base, status: 'failed', error: `unreadable output: ${(e as Error).message}` });
    }
  }
}

function readJson(path: string): unknown {
  return JSON.parse(readFileSync(path, 'utf8'));
}

// ---------------------------------------------------------------- the checks

async function adapters(run: Run): Promise<AdaptersResult | null> {
  const file = join(run.opts.work, 'adapters.json');
  const r = await run.child('adapters', BUDGET_S.adapters, NODE, [join(DIST, 'in-process.js'), 'adapters', '--json', file], () => readJson(file));
  return r.status === 'ok' ? (r.result as AdaptersResult) : null;
}

async function selfTests(run: Run, routes: GpuRoute[]): Promise<GpuRoute[]> {
  const passed: GpuRoute[] = [];
  for (const route of routes) {
    const file = join(run.opts.work, `self-test-${route}.json`);
    const r = await run.child(`self-test:${route}`, BUDGET_S.selfTest, NODE, [join(DIST, 'in-process.js'), 'self-test', route, '--json', file], () => readJson(file));
    if (r.status === 'ok') passed.push(route);
  }
  return passed;
}

/** PyTorch's step of the official nets on CUDA (scripts/gpu/torch_cuda_step.py), fp32, same shapes. */
async function torch(run: Run): Promise<Map<string, Timing>> {
  const configs = stepOrder(['webgpu']).map((s) => configKey(s.config));
  const script = join(run.opts.pack, 'torch-reference', 'lvit_step.py');
  const args = [join(ROOT, 'scripts', 'gpu', 'torch_cuda_step.py'), '--script', script, '--configs', configs.join(','), '--res', '224', '--reps', '10'];
  const r = await run.child('torch', BUDGET_S.torch, 'python3', args, (o) => o.stdout.trim().split('\n').map((l) => JSON.parse(l)), { PYTHONUNBUFFERED: '1' });
  const out = new Map<string, Timing>();
  for (const line of (r.result as { model: string; batch: number; step_ms?: { median: number; min: number } }[] | undefined) ?? []) {
    const model = line.model.replace(/^official-/, '');
    if (line.step_ms) out.set(`${model}:${line.batch}`, { medianMs: line.step_ms.median, minMs: line.step_ms.min });
  }
  return out;
}

/** One full-size train step config through the bench's child mode (bench/targets.ts). */
function benchStep(run: Run, name: string, budgetS: number, route: GpuRoute, c: StepConfig, extra: string[]): Promise<CheckRecord> {
  const file = join(run.opts.work, `${name.replace(/:/g, '-')}.json`);
  const args = [join(DIST, '..', 'bench.js'), '--backend', route, '--child-step', `${c.model}-full:${c.batch}`, '--json', file, ...extra];
  return run.child(name, budgetS, NODE, args, () => readJson(file));
}

async function steps(run: Run, routes: GpuRoute[]): Promise<Map<GpuRoute, Map<string, Timing>>> {
  const out = new Map<GpuRoute, Map<string, Timing>>(routes.map((r) => [r, new Map()]));
  const given = new Set<string>();
  for (const { route, config } of stepOrder(routes)) {
    const name = `step:${route}:${configKey(config)}`;
    if (given.has(`${route}:${config.model}`)) {
      run.record({ name, status: 'skipped', error: 'a smaller batch of this model failed or ran out of time on this route' });
      continue;
    }
    const r = await benchStep(run, name, BUDGET_S.step, route, config, ['--reps', '5']);
    const stats = (r.result as { stats?: Timing } | undefined)?.stats;
    if (r.status === 'ok' && stats) out.get(route)!.set(configKey(config), { medianMs: stats.medianMs, minMs: stats.minMs });
    else given.add(`${route}:${config.model}`);
  }
  return out;
}

function chooseRoute(run: Run, timed: Map<GpuRoute, Map<string, Timing>>, adapter: string): string | undefined {
  const keys = [...new Set([...timed.values()].flatMap((m) => [...m.keys()]))];
  const timings: RouteTiming[] = keys.map((config) => ({ config, medianMs: Object.fromEntries([...timed].filter(([, m]) => m.has(config)).map(([r, m]) => [r, m.get(config)!.medianMs])) }));
  const choice = chooseGpuRoute(timings, adapter, new Date());
  if (!choice) {
    run.record({ name: 'route-choice', status: 'skipped', error: 'no route timed a step' });
    return undefined;
  }
  const file = join(run.opts.work, 'gpu-route.json');
  writeJsonAtomic(file, choice);
  writeJsonAtomic(join(run.opts.out, 'gpu-route.json'), choice);
  run.record({ name: 'route-choice', status: 'ok', result: choice });
  return file;
}

async function profiles(run: Run, timed: Map<GpuRoute, Map<string, Timing>>, torchTimes: Map<string, Timing>): Promise<void> {
  const torchMedians = new Map([...torchTimes].map(([k, t]) => [k, t.medianMs]));
  for (const [route, times] of timed) {
    const key = slowestStep(new Map([...times].map(([k, t]) => [k, t.medianMs])), torchMedians);
    if (!key) continue;
    const [model, batch] = key.split(':');
    await benchStep(run, `profile:${route}:${key}`, BUDGET_S.profile, route, { model: model as StepConfig['model'], batch: Number(batch) }, ['--reps', '1', '--profile']);
  }
}

/**
 * Epochs of the MoNuSeg paper profile for U-Net on `auto` (the measured-faster route that the
 * suite's training can use), until the budget ends; the backend auto chose is recorded.
 */
async function paper(run: Run, routeFile: string | undefined): Promise<void> {
  const left = timeoutS(Number.POSITIVE_INFINITY, run.elapsedS(), run.opts.totalS) - RESERVE_S;
  if (left < BUDGET_S.paperMin) {
    run.record({ name: 'paper', status: 'skipped', error: `${left.toFixed(0)} s left, under the ${BUDGET_S.paperMin} s a first epoch needs` });
    return;
  }
  const runs = join(run.opts.work, 'runs');
  const data = join(run.opts.pack, 'data');
  const args = [join(DIST, '..', 'reproduce.js'), '--profile', 'paper', '--models', 'unet', '--datasets', 'monuseg', '--fractions', '100', '--seeds', '666'];
  args.push('--backend', 'auto', '--data-root', join(data, 'root'), '--cache-dir', join(data, 'cache'), '--runs-dir', runs, '--no-report');
  let backend = 'not reported';
  const onLine = (line: string) => {
    if (line.includes('[engine] backend ')) backend = line.replace(/^.*\[engine\] /, '');
  };
  const r = await run.child('paper', left, NODE, args, () => 'finished', routeFile ? { LVIT_GPU_ROUTE_FILE: routeFile } : {}, onLine);
  r.result = { backend, ...paperProgress(runs), tar: tarRuns(run.opts.out, runs) };
  run.write('running');
}

function paperProgress(runs: string): { epochs: number; last?: unknown; checkpointsLeftBehind: Record<string, number> } {
  const dir = join(runs, 'paper', 'monuseg', 'unet', 'f100', 's666');
  const log = join(dir, 'log.jsonl');
  const lines = existsSync(log) ? readFileSync(log, 'utf8').trim().split('\n').filter(Boolean) : [];
  const ckpt = join(dir, 'checkpoint');
  const sizes = existsSync(ckpt) ? Object.fromEntries(readdirSync(ckpt).map((f) => [f, statSync(join(ckpt, f)).size])) : {};
  return { epochs: lines.length, last: lines.length ? JSON.parse(lines[lines.length - 1]) : undefined, checkpointsLeftBehind: sizes };
}

/** The run folder without its checkpoints (U-Net + Adam state is ~180 MB, over what comes back). */
function tarRuns(out: string, runs: string): string {
  if (!existsSync(runs)) return 'no run folder was written';
  const file = join(out, 'paper-run.tar.gz');
  execFileSync('tar', ['-czf', file, '--exclude=checkpoint', '-C', dirname(runs), 'runs']);
  return `${file} (${statSync(file).size} bytes; checkpoints left out)`;
}

// ---------------------------------------------------------------- summary

function fmt(t: Timing | undefined): string {
  return t ? `${t.medianMs.toFixed(0)} (${t.minMs.toFixed(0)})` : '-';
}

function summary(timed: Map<GpuRoute, Map<string, Timing>>, torchTimes: Map<string, Timing>): string[] {
  const keys = stepOrder(['webgpu']).map((s) => configKey(s.config));
  const rows = [['step @ 224', ...GPU_ROUTES, 'torch fp32', ...GPU_ROUTES.map((r) => `${r}/torch`)]];
  for (const k of keys) {
    const t = torchTimes.get(k);
    const ratio = (r: GpuRoute) => {
      const m = timed.get(r)?.get(k);
      return m && t ? `${(m.medianMs / t.medianMs).toFixed(1)}x` : '-';
    };
    rows.push([k.replace(':', ' b'), ...GPU_ROUTES.map((r) => fmt(timed.get(r)?.get(k))), fmt(t), ...GPU_ROUTES.map(ratio)]);
  }
  const widths = rows[0].map((_, c) => Math.max(...rows.map((r) => r[c].length)));
  return ['ms/step, median (min):', ...rows.map((r) => r.map((cell, c) => cell.padEnd(widths[c])).join('  '))];
}

// ---------------------------------------------------------------- main

function parseOptions(argv: string[]): Options {
  const flags = parseFlags(argv, { out: 'string', pack: 'string', work: 'string', total: 'string', only: 'string' } as const);
  const out = stringFlag(flags, 'out');
  if (!out) throw new Error('usage: node scripts/dist/gpu/checks.js --out DIR [--pack DIR] [--work DIR] [--total SECONDS] [--only GROUPS]');
  const totalS = Number(stringFlag(flags, 'total') ?? DEFAULT_TOTAL_S);
  if (!(totalS > 0)) throw new Error(`--total must be a positive number of seconds, got ${stringFlag(flags, 'total')}`);
  return {
    out: resolve(out),
    pack: resolve(stringFlag(flags, 'pack') ?? join(ROOT, '.gpu-pack')),
    work: resolve(stringFlag(flags, 'work') ?? join(tmpdir(), 'lvit-gpu-checks')),
    totalS,
    groups: parseGroups(stringFlag(flags, 'only')),
  };
}

async function main(argv: string[]): Promise<number> {
  const opts = parseOptions(argv);
  for (const d of [opts.out, opts.work]) mkdirSync(d, { recursive: true });
  const run = new Run(opts, (m) => process.stderr.write(`${m}\n`));
  const found = await adapters(run);
  const routes = GPU_ROUTES.filter((r) => found?.[r].ok);
  if (routes.length === 0) {
    const why = found ? GPU_ROUTES.map((r) => `${r}: ${(found[r] as { error?: string }).error}`).join('; ') : 'the adapter check itself failed';
    run.write('no-adapter', { message: `no WebGPU adapter on either route (${why})` });
    process.stderr.write(`[gpu-checks] no WebGPU adapter on either route, nothing timed (${why}); see ${join(opts.out, 'results.json')}\n`);
    return 3;
  }
  const adapter = found!.webgpu.ok ? found!.webgpu.value.description : 'adapter of onnxruntime-node\'s Dawn';
  const usable = opts.groups.has('self-test') ? await selfTests(run, routes) : routes;
  const torchTimes = opts.groups.has('torch') ? await torch(run) : new Map<string, Timing>();
  const timed = opts.groups.has('steps') ? await steps(run, usable) : new Map<GpuRoute, Map<string, Timing>>();
  const routeFile = chooseRoute(run, timed, adapter);
  if (opts.groups.has('profile')) await profiles(run, timed, torchTimes);
  if (opts.groups.has('paper')) await paper(run, routeFile);
  const failed = run.records.filter((r) => r.status === 'failed').length;
  run.write(failed ? 'partial' : 'ok');
  process.stdout.write(summary(timed, torchTimes).join('\n') + '\n');
  process.stdout.write(`[gpu-checks] ${run.records.length} checks in ${run.elapsedS().toFixed(0)} s, ${failed} failed; ${join(opts.out, 'results.json')}\n`);
  return failed ? 1 : 0;
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    (code) => process.exit(code),
    (e) => {
      console.error(`[gpu-checks] ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
