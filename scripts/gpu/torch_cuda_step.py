#!/usr/bin/env python3
"""PyTorch's train step of the official U-Net and LViT on CUDA, for the GPU checks
(scripts/src/gpu/checks.ts). It runs the shared step script (../shared/tools/torch-reference/
lvit_step.py, copied into the GPU pack) unchanged, once per config in one process:
- every tensor and parameter it makes lands on the GPU (torch.set_default_device('cuda'));
- time.perf_counter first waits for the GPU (torch.cuda.synchronize), so the script's per-step
  times cover the kernels, not only their launches;
- fp32: TF32 is off for matmul and cuDNN (ENGINE.md §8 gives both; the issue's bar is fp32).
  python3 torch_cuda_step.py --script PATH/lvit_step.py --configs unet:2,unet:8,lvit:2,lvit:8 [--res 224] [--reps 10]
Prints one JSON line per config: the script's own line plus device and precision, or an error.
"""
import argparse, contextlib, io, json, runpy, sys, time

ap = argparse.ArgumentParser()
ap.add_argument('--script', required=True)
ap.add_argument('--configs', required=True)
ap.add_argument('--res', type=int, default=224)
ap.add_argument('--reps', type=int, default=10)
a = ap.parse_args()

import torch
if not torch.cuda.is_available():
    print(json.dumps({'error': f'torch {torch.__version__}: no CUDA device (torch.cuda.is_available() is False)'}), flush=True)
    sys.exit(3)
torch.backends.cuda.matmul.allow_tf32 = False
torch.backends.cudnn.allow_tf32 = False
torch.set_default_device('cuda')
_host_clock = time.perf_counter
time.perf_counter = lambda: (torch.cuda.synchronize(), _host_clock())[1]

for config in a.configs.split(','):
    model, batch = config.split(':')
    sys.argv = [a.script, '--model', model, '--batch', batch, '--res', str(a.res), '--reps', str(a.reps)]
    printed = io.StringIO()
    try:
        with contextlib.redirect_stdout(printed):
            runpy.run_path(a.script, run_name='__main__')
        record = json.loads(printed.getvalue().strip().splitlines()[-1])
    except Exception as e:  # one config failing (e.g. out of memory) must not stop the others
        record = {'model': 'official-' + model, 'batch': int(batch), 'error': f'{type(e).__name__}: {e}'.splitlines()[0]}
    record.update(device=torch.cuda.get_device_name(), tf32=False, peak_mem_mb=torch.cuda.max_memory_allocated() / 2**20)
    print(json.dumps(record), flush=True)
    torch.cuda.empty_cache()
    torch.cuda.reset_peak_memory_stats()
