/**
 * The GPU checks' entries, run as the device would run them but on this machine, which has no GPU:
 * both must stop at once with a one-line reason (and checks.js with its JSON record) instead of
 * timing anything. checks.js is the built entry (scripts/dist, built by turbo before the tests).
 */
import { spawnSync } from 'node:child_process';
import { mkdtempSync, readFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';

const scripts = join(dirname(fileURLToPath(import.meta.url)), '..', '..');
const work = mkdtempSync(join(tmpdir(), 'lvit-gpu-checks-'));

describe('checks.js on a machine without a GPU', () => {
  it('records both routes\' reasons, times nothing and exits 3', () => {
    const out = join(work, 'out');
    const r = spawnSync(process.execPath, [join(scripts, 'dist', 'gpu', 'checks.js'), '--out', out, '--work', join(work, 'work')], { encoding: 'utf8', timeout: 60_000 });
    expect(r.status).toBe(3);
    expect(r.stderr).toMatch(/\[gpu-checks\] no WebGPU adapter on either route, nothing timed \(onnxruntime-webgpu: .+; webgpu: .+\)/);
    const results = JSON.parse(readFileSync(join(out, 'results.json'), 'utf8'));
    expect(results).toMatchObject({ schema: 'lvit-bench/gpu-checks@1', status: 'no-adapter' });
    expect(results.checks.map((c: { name: string }) => c.name)).toEqual(['adapters']);
    const adapters = results.checks[0].result;
    expect(adapters.webgpu).toMatchObject({ ok: false });
    expect(adapters.webgpu.error).toMatch(/no WebGPU adapter|software\/fallback adapter/);
    expect(adapters['onnxruntime-webgpu']).toMatchObject({ ok: false });
    expect(adapters['onnxruntime-webgpu'].error).toMatch(/WebGPU EP did not start: .*adapter/);
  });

  it('rejects an unknown --only group before doing anything', () => {
    const r = spawnSync(process.execPath, [join(scripts, 'dist', 'gpu', 'checks.js'), '--out', join(work, 'o2'), '--only', 'steps,warp'], { encoding: 'utf8' });
    expect(r.status).toBe(1);
    expect(r.stderr.trim()).toBe('[gpu-checks] --only: unknown check warp (checks: adapters, self-test, torch, steps, profile, paper)');
  });
});

describe('run-checks.sh', () => {
  const sh = join(scripts, 'gpu', 'run-checks.sh');

  it('needs $OUT', () => {
    const env = { ...process.env };
    delete env.OUT;
    const r = spawnSync('bash', [sh], { encoding: 'utf8', env });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/^run-checks\.sh: OUT is not set/);
  });

  it('names pack.sh when the pack was not carried', () => {
    const r = spawnSync('bash', [sh], { encoding: 'utf8', env: { ...process.env, OUT: join(work, 'o3'), LVIT_GPU_PACK: join(work, 'no-pack') } });
    expect(r.status).toBe(2);
    expect(r.stderr.trim()).toMatch(/no-pack\/node\.xz is missing: run scripts\/gpu\/pack\.sh here, then name .* in the run's carry/);
  });
});
