#!/usr/bin/python3
"""Forward parity export for TransUNet: runs the OFFICIAL network code (shared/tools/torch-reference/transunet/,
Beckschen/TransUNet @ 02ef0010, unmodified) with seeded random weights (every parameter and BatchNorm buffer
perturbed, so no block is an identity) in eval mode, and writes to OUT_DIR:
  manifest.json  {name: {shape, offset}} for weights (torch state-dict names and layouts: conv OIHW, Linear [out,in]),
                 the input 'input' (NCHW) and block outputs 'out:<block>' (NCHW maps, [B,N,C] tokens)
  data.bin       float32 little-endian, concatenated.
  /usr/bin/python3 transunet_parity.py OUT_DIR [--preset tiny|full] [--res 32]
The TS side is packages/baselines/src/transunet-parity.test.ts.
"""
import argparse, json, os, sys, types
ap = argparse.ArgumentParser()
ap.add_argument('out'); ap.add_argument('--preset', default='tiny'); ap.add_argument('--res', type=int, default=32)
ap.add_argument('--batch', type=int, default=2)
a = ap.parse_args()

mc = types.ModuleType('ml_collections')
class ConfigDict(dict):
    def __init__(self, d=None): super().__init__(d or {})
    def __getattr__(self, k):
        try: return self[k]
        except KeyError: raise AttributeError(k)
    def __setattr__(self, k, v): self[k] = v
mc.ConfigDict = ConfigDict
sys.modules['ml_collections'] = mc
here = os.path.dirname(os.path.abspath(__file__))
ref = os.environ.get('TRANSUNET_REF') or os.path.join(here, '..', '..', '..', '..', 'shared', 'tools', 'torch-reference', 'transunet')
sys.path.insert(0, ref)
import torch
import numpy as np
from networks.vit_seg_modeling import VisionTransformer, CONFIGS

torch.manual_seed(0); torch.set_num_threads(2)
cfg = CONFIGS['R50-ViT-B_16']
cfg.n_classes = 1; cfg.n_skip = 3
cfg.patches.grid = (a.res // 16, a.res // 16)
if a.preset == 'tiny':  # the TS test's TINY config: every block, small widths (head_channels is fixed at 512 upstream)
    cfg.hidden_size = 32; cfg.transformer.num_layers = 2; cfg.transformer.num_heads = 4; cfg.transformer.mlp_dim = 64
    cfg.resnet.num_layers = (1, 2, 1); cfg.resnet.width_factor = 0.5
    cfg.decoder_channels = (32, 16, 16, 8); cfg.skip_channels = [256, 128, 32, 16]
m = VisionTransformer(cfg, img_size=a.res, num_classes=1)
g = torch.Generator().manual_seed(1)
with torch.no_grad():
    for n, p in m.named_parameters():
        p.add_(0.2 * torch.randn(p.shape, generator=g) * (p.std() if p.numel() > 1 and p.std() > 0 else 1))
    for n, b in m.named_buffers():
        if n.endswith('running_mean'): b.copy_(0.1 * torch.randn(b.shape, generator=g))
        if n.endswith('running_var'): b.copy_(0.5 + torch.rand(b.shape, generator=g))
m.eval()
outs = {}
def hook(name, pick=None):
    def f(_m, _i, o): outs[name] = (o[0] if isinstance(o, tuple) else o).detach().clone()
    return f
hm = m.transformer.embeddings.hybrid_model
hm.root.register_forward_hook(hook('hybrid.root'))
for i in (1, 2, 3): getattr(hm.body, f'block{i}').register_forward_hook(hook(f'hybrid.body.block{i}'))
m.transformer.embeddings.register_forward_hook(hook('embeddings'))
for i, l in enumerate(m.transformer.encoder.layer): l.register_forward_hook(hook(f'encoder.layer.{i}'))
m.transformer.encoder.encoder_norm.register_forward_hook(hook('encoder_norm'))
m.decoder.conv_more.register_forward_hook(hook('decoder.conv_more'))
for i, b in enumerate(m.decoder.blocks): b.register_forward_hook(hook(f'decoder.blocks.{i}'))
x = torch.rand(a.batch, 3, a.res, a.res, generator=g)
with torch.no_grad(): outs['segmentation_head'] = m(x)
os.makedirs(a.out, exist_ok=True)
manifest, off = {}, 0
with open(os.path.join(a.out, 'data.bin'), 'wb') as f:
    items = [(k, v) for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')]
    items += [('input', x)] + [('out:' + k, v) for k, v in outs.items()]
    for k, v in items:
        arr = v.detach().float().contiguous().numpy().astype('<f4')
        f.write(arr.tobytes()); manifest[k] = {'shape': list(arr.shape), 'offset': off}; off += arr.size
json.dump({'preset': a.preset, 'res': a.res, 'torch': torch.__version__, 'params': sum(p.numel() for p in m.parameters()), 'tensors': manifest},
          open(os.path.join(a.out, 'manifest.json'), 'w'))
print(json.dumps({'ok': True, 'params': sum(p.numel() for p in m.parameters())}))
