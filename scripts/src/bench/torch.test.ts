import { describe, expect, it } from 'vitest';
import { parseTorchOutput, sideBySide, torchLines, TORCH_ATTEMPTS, TORCH_ROUNDS, TORCH_WARMUPS, type TorchRound } from './torch.js';

const UNET_LINE =
  '{"arch": "official", "base": 64, "res": 224, "batch": 2, "threads": 2, "params": 14751873, "step_ms": {"median": 1510.2, "min": 1480.0, "max": 1600.5, "n": 3}, "forward_ms": {"median": 400.1, "min": 390.0, "max": 410.0, "n": 3}, "torch": "1.13.0", "channels_last": false}';

describe('parseTorchOutput', () => {
  it("reads the script's step line and the wrapper's peak-RSS line after it", () => {
    const out = `some warning\n${UNET_LINE}\n{"maxrss_kb": 1048576}\n`;
    expect(parseTorchOutput(out)).toEqual({ step_ms: { median: 1510.2, min: 1480.0, max: 1600.5, n: 3 }, torch: '1.13.0', maxrssKB: 1048576 });
  });

  it("reads lvit_step.py's line; without the wrapper's line the peak is null", () => {
    const lvit = '{"model": "official-lvit", "batch": 2, "res": 224, "threads": 2, "step_ms": {"median": 1910.0, "min": 1890.0, "max": 1950.0, "n": 1}, "params_registered": 39933345, "params_reached": 29908033, "torch": "1.13.0"}';
    expect(parseTorchOutput(lvit)).toEqual({ step_ms: { median: 1910, min: 1890, max: 1950, n: 1 }, torch: '1.13.0', maxrssKB: null });
  });

  it('fails without a step line', () => {
    expect(() => parseTorchOutput('{"maxrss_kb": 5}\n')).toThrow(/no step_ms JSON line/);
    expect(() => parseTorchOutput('Traceback ...')).toThrow(/no step_ms JSON line/);
  });
});

describe('sideBySide', () => {
  it('alternates suite steps and torch rounds, and keeps both peaks', async () => {
    const calls: string[] = [];
    let rss = 2048 * 1024;
    const round: TorchRound = (reps) => {
      calls.push(`torch:${reps}`);
      rss += 1024;
      return { step_ms: { median: 10, min: 8, max: 12 }, torch: '1.13.0', maxrssKB: rss };
    };
    const step = async () => {
      calls.push('ours');
    };
    const r = await sideBySide({ config: 'test', step }, round, 2, () => {}, () => 3000);
    // The torch scripts' TORCH_WARMUPS run on our side too.
    expect(calls).toEqual([...Array.from({ length: TORCH_WARMUPS }, () => 'ours'), ...Array.from({ length: TORCH_ROUNDS }, () => ['ours', 'ours', 'torch:2']).flat()]);
    if ('unavailable' in r) throw new Error(r.unavailable);
    expect(r.peakRssMB).toEqual({ ours: 3000, torch: (2048 * 1024 + TORCH_ROUNDS * 1024) / 1024 });
    expect(torchLines(r)[2]).toBe(`    peak RSS: ours 3000 MB, torch ${(2048 + TORCH_ROUNDS).toFixed(0)} MB (ours/torch ${(3000 / (2048 + TORCH_ROUNDS)).toFixed(2)}x)`);
  });

  it('runs a failed torch round again, up to TORCH_ATTEMPTS times', async () => {
    let runs = 0;
    const flaky: TorchRound = () => {
      if (runs === 1 || runs === 2) {
        runs++;
        throw new Error('lvit_step.py failed (exit 1): RuntimeError: all elements of input should be between 0 and 1');
      }
      runs++;
      return { step_ms: { median: 10, min: 8, max: 12 }, torch: '1.13.0', maxrssKB: null };
    };
    const logs: string[] = [];
    const r = await sideBySide({ config: 'test', step: () => 0 }, flaky, 1, (m) => logs.push(m));
    expect('unavailable' in r).toBe(false);
    expect(runs).toBe(TORCH_ROUNDS + 2);
    expect(logs.filter((l) => l.includes('running it again: lvit_step.py failed'))).toHaveLength(2);
  });

  it('gives up after TORCH_ATTEMPTS failures of one round, without an install hint when torch ran', async () => {
    let runs = 0;
    const broken: TorchRound = () => {
      runs++;
      throw new Error('lvit_step.py failed (exit 1): RuntimeError: all elements of input should be between 0 and 1');
    };
    const r = await sideBySide({ config: 'test', step: () => 0 }, broken, 1, () => {});
    expect(runs).toBe(TORCH_ATTEMPTS);
    if (!('unavailable' in r)) throw new Error('expected unavailable');
    expect(r.unavailable).toContain('all elements of input');
    expect(r.unavailable).not.toContain('install');
  });

  it('reports a missing torch as unavailable, with the install hint', async () => {
    const r = await sideBySide({ config: 'test', step: () => 0 }, () => {
      throw new Error("unet_step.py failed (exit 1): ModuleNotFoundError: No module named 'torch'");
    }, 1, () => {});
    expect(r).toEqual(expect.objectContaining({ config: 'test', unavailable: expect.stringContaining("No module named 'torch'") }));
    expect((r as { unavailable: string }).unavailable).toContain('install Debian python3-torch');
  });
});
