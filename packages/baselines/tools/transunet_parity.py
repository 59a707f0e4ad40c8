#!/usr/bin/python3
"""Forward parity export for TransUNet: runs the OFFICIAL network code (shared/tools/torch-reference/transunet/,
Beckschen/TransUNet @ 02ef0010, unmodified) with seeded random weights (every parameter and BatchNorm buffer
perturbed, so no block is an identity) in eval mode, and writes to OUT_DIR:
  manifest.json  {name: {shape, offset}} for weights (torch state-dict names and layouts: conv OIHW, Linear [out,in]),
                 the input 'input' (NCHW) and block outputs 'out:<block>' (NCHW maps, [B,N,C] tokens)
  data.bin       float32 little-endian, concatenated.
  /usr/bin/python3 transunet_parity.py OUT_DIR [--preset tiny|full] [--res 32] [--npz-grid G] [--grad]
With --grad it also writes 'target' (a seeded mask) and 'grad:<param>': every parameter's gradient of the
suite's loss (LViT's WeightedDiceBCE: 0.5 soft Dice + 0.5 class-balanced BCE on the sigmoid output) in
train mode with dropout 0, computed in float64 from the same float32 weights and input: a reference for
float32 gradients (packages/baselines/src/transunet-gradients.test.ts).
With --npz-grid G it also writes OUT_DIR/imagenet21k.npz: random arrays under the ImageNet-21k
R50+ViT-B_16.npz key layout (HWIO conv kernels, [in, out] Dense kernels, [hidden, heads, d] attention
kernels, a [1, G*G+1, hidden] position embedding with its class token, plus keys load_from ignores),
and loads it with the official VisionTransformer.load_from before the export, so the exported weights
are what load_from made of the file (the test packages/baselines/src/transunet-npz.test.ts).
The TS side is packages/baselines/src/transunet-parity.test.ts.
"""
import argparse, json, os, sys, types
ap = argparse.ArgumentParser()
ap.add_argument('out'); ap.add_argument('--preset', default='tiny'); ap.add_argument('--res', type=int, default=32)
ap.add_argument('--batch', type=int, default=2)
ap.add_argument('--npz-grid', type=int, default=0)
ap.add_argument('--grad', action='store_true')
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
os.makedirs(a.out, exist_ok=True)
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
if a.npz_grid:
    rs = np.random.RandomState(2)
    hid, heads = cfg.hidden_size, cfg.transformer.num_heads
    def arr(*shape, loc=0.0, scale=0.5): return (loc + scale * rs.randn(*shape)).astype(np.float32)
    hwio = lambda w: arr(*w.shape[2:], w.shape[1], w.shape[0])
    npz = {'embedding/kernel': hwio(m.transformer.embeddings.patch_embeddings.weight), 'embedding/bias': arr(hid),
           'Transformer/encoder_norm/scale': arr(hid, loc=1), 'Transformer/encoder_norm/bias': arr(hid),
           'Transformer/posembed_input/pos_embedding': arr(1, a.npz_grid ** 2 + 1, hid),
           'cls': arr(1, 1, hid), 'head/kernel': arr(hid, 5), 'head/bias': arr(5), 'pre_logits/kernel': arr(hid, hid)}
    for i in range(cfg.transformer.num_layers):
        r = f'Transformer/encoderblock_{i}/'
        for n in ('query', 'key', 'value'):
            npz[r + f'MultiHeadDotProductAttention_1/{n}/kernel'] = arr(hid, heads, hid // heads)
            npz[r + f'MultiHeadDotProductAttention_1/{n}/bias'] = arr(heads, hid // heads)
        npz[r + 'MultiHeadDotProductAttention_1/out/kernel'] = arr(heads, hid // heads, hid)
        npz[r + 'MultiHeadDotProductAttention_1/out/bias'] = arr(hid)
        npz[r + 'MlpBlock_3/Dense_0/kernel'] = arr(hid, cfg.transformer.mlp_dim); npz[r + 'MlpBlock_3/Dense_0/bias'] = arr(cfg.transformer.mlp_dim)
        npz[r + 'MlpBlock_3/Dense_1/kernel'] = arr(cfg.transformer.mlp_dim, hid); npz[r + 'MlpBlock_3/Dense_1/bias'] = arr(hid)
        for n in ('LayerNorm_0', 'LayerNorm_2'): npz[r + n + '/scale'] = arr(hid, loc=1); npz[r + n + '/bias'] = arr(hid)
    hm = m.transformer.embeddings.hybrid_model
    npz['conv_root/kernel'] = hwio(hm.root.conv.weight)
    npz['gn_root/scale'] = arr(hm.width, loc=1); npz['gn_root/bias'] = arr(hm.width)
    for bname, block in hm.body.named_children():
        for uname, unit in block.named_children():
            k = f'{bname}/{uname}/'
            for c, gn in (('conv1', 'gn1'), ('conv2', 'gn2'), ('conv3', 'gn3')) + ((('conv_proj', 'gn_proj'),) if hasattr(unit, 'downsample') else ()):
                w = getattr(unit, 'downsample' if c == 'conv_proj' else c).weight
                npz[k + c + '/kernel'] = hwio(w)
                npz[k + gn + '/scale'] = arr(w.shape[0], loc=1); npz[k + gn + '/bias'] = arr(w.shape[0])
    np.savez(os.path.join(a.out, 'imagenet21k.npz'), **npz)
    m.load_from(np.load(os.path.join(a.out, 'imagenet21k.npz')))
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
state = {k: v.detach().clone() for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')}
extra = []
if a.grad:
    target = (torch.rand(a.batch, 1, a.res, a.res, generator=g) > 0.7).float()
    for mod in m.modules():
        if isinstance(mod, torch.nn.Dropout): mod.p = 0.0
    md = m.double().train()  # float32 values are exact in float64: the same weights and input
    p = torch.sigmoid(md(x.double())).flatten(1)
    t = target.double().flatten(1)
    dice = 1 - (2 * (p * t).sum(1) + 4e-5) / ((p * p).sum(1) + (t * t).sum(1) + 4e-5)
    bce = torch.nn.functional.binary_cross_entropy(p, t, reduction='none')
    pos, neg = (t > 0.5).double(), (t < 0.5).double()
    balanced = 0.5 * (pos * bce).sum() / (pos.sum() + 1e-12) + 0.5 * (neg * bce).sum() / (neg.sum() + 1e-12)
    loss = 0.5 * dice.mean() + 0.5 * balanced
    loss.backward()
    extra = [('target', target), ('loss', loss.detach().reshape(1))] + [('grad:' + n, q.grad) for n, q in md.named_parameters()]
manifest, off = {}, 0
with open(os.path.join(a.out, 'data.bin'), 'wb') as f:
    items = list(state.items())
    items += [('input', x)] + [('out:' + k, v) for k, v in outs.items()] + extra
    for k, v in items:
        arr = v.detach().float().contiguous().numpy().astype('<f4')
        f.write(arr.tobytes()); manifest[k] = {'shape': list(arr.shape), 'offset': off}; off += arr.size
json.dump({'preset': a.preset, 'res': a.res, 'torch': torch.__version__, 'params': sum(q.numel() for q in m.parameters()), 'tensors': manifest},
          open(os.path.join(a.out, 'manifest.json'), 'w'))
print(json.dumps({'ok': True, 'params': sum(q.numel() for q in m.parameters())}))
