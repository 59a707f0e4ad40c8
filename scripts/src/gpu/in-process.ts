/**
 * The GPU checks that run inside one node process (scripts/src/gpu/checks.ts starts each in its own,
 * so a Dawn crash costs one check):
 *   node scripts/dist/gpu/in-process.js adapters --json FILE
 *   node scripts/dist/gpu/in-process.js self-test webgpu|onnxruntime-webgpu --json FILE
 * Each writes its result to FILE; a failure is an exit code 1 with a one-line message.
 */
import { execFileSync } from 'node:child_process';
import { pathToFileURL } from 'node:url';
import { createDawnGpu, describeWebgpuAdapter, gradientSelfTest, GPU_ROUTES, initBackend, probeOrtWebgpu, syncReadbackFailure, writeJsonAtomic, type GpuRoute } from '@lvit-bench/core';

type Probe<T> = { ok: true; value: T } | { ok: false; error: string };

async function probe<T>(f: () => T | Promise<T>): Promise<Probe<T>> {
  try {
    return { ok: true, value: await f() };
  } catch (e) {
    return { ok: false, error: (e instanceof Error ? e.message : String(e)).split('\n')[0] };
  }
}

export interface AdaptersResult {
  webgpu: Probe<Awaited<ReturnType<typeof describeWebgpuAdapter>>>;
  'onnxruntime-webgpu': Probe<ReturnType<typeof probeOrtWebgpu>>;
  nvidiaSmi: Probe<string>;
}

/** What each route finds; a software adapter does not count (wasm is faster than one). */
async function adapters(): Promise<AdaptersResult> {
  const webgpu = await probe(async () => {
    const report = await describeWebgpuAdapter((await createDawnGpu()).gpu);
    if (report.software) throw new Error(`only a software/fallback adapter (${report.description})`);
    return report;
  });
  const ort = await probe(() => probeOrtWebgpu());
  const nvidiaSmi = await probe(() =>
    execFileSync('nvidia-smi', ['--query-gpu=name,driver_version,memory.total,clocks.sm,clocks.max.sm,temperature.gpu,utilization.gpu', '--format=csv'], { encoding: 'utf8', stdio: ['ignore', 'pipe', 'pipe'] }).trim(),
  );
  return { webgpu, 'onnxruntime-webgpu': ort, nvidiaSmi };
}

/**
 * initBackend runs the engine's one-step gradient self-test against stock cpu (read back
 * asynchronously); its figures are kept, and whether the route can also read synchronously, which
 * the suite's training loop needs (tfjs-webgpu in Node cannot: webgpu-adapter.ts).
 */
async function selfTest(route: GpuRoute) {
  const info = await initBackend(route, { log: (m) => process.stderr.write(`${m}\n`), asyncReads: true });
  return { backend: info, selfTest: await gradientSelfTest(info.name), syncReadback: syncReadbackFailure() ?? 'ok' };
}

async function main(argv: string[]): Promise<void> {
  const [what, route] = argv;
  const json = argv[argv.indexOf('--json') + 1];
  if (!argv.includes('--json') || !json) throw new Error('usage: in-process.js adapters|self-test ROUTE --json FILE');
  if (what === 'adapters') return writeJsonAtomic(json, await adapters());
  if (what === 'self-test' && (GPU_ROUTES as readonly string[]).includes(route)) return writeJsonAtomic(json, await selfTest(route as GpuRoute));
  throw new Error(`in-process.js: unknown check '${argv.slice(0, 2).join(' ')}' (adapters, self-test ${GPU_ROUTES.join('|')})`);
}

if (import.meta.url === pathToFileURL(process.argv[1] ?? '').href) {
  main(process.argv.slice(2)).then(
    () => process.exit(0),
    (e) => {
      console.error(`[gpu-checks] ${e instanceof Error ? e.message : String(e)}`);
      process.exit(1);
    },
  );
}
