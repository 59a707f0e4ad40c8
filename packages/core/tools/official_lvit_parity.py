#!/usr/bin/python3
"""Whole-model parity export for LViT-T and U-Net: runs the OFFICIAL network code
(shared/tools/torch-reference/official-lvit/, HUANGLIZI/LViT @ a9b0b41, unmodified) with seeded random
weights (every parameter and BatchNorm buffer perturbed, so no block is an identity) and writes to OUT_DIR:
  manifest.json  {name: {shape, offset}} plus the config, torch version and parameter count
  data.bin       float32 little-endian, concatenated:
    <state-dict name>   perturbed weights and buffers (torch layouts: conv OIHW, Conv1d [out,in,k], Linear [out,in])
    input, text, target image NCHW, text [B,T,D], mask NCHW in {0,1}
    eval:<block>        eval-mode block outputs, already channels last (maps NHWC, tokens/text [B,N,C])
    train:<block>       the same in train mode (BatchNorm on batch statistics; dropout p set to 0, see below)
    train_state:<name>  BatchNorm running_mean/running_var after that one train-mode forward
    grad:<name>         gradients of the official loss WeightedDiceBCE(0.5, 0.5) of that forward
    grad64:<name>       the same in float64 (a copy of the model in double), the exact reference
    adam:<name>         parameters after one torch.optim.Adam(lr=1e-3) step on those gradients
  /usr/bin/python3 official_lvit_parity.py OUT_DIR --model lvit|unet [--res 64] [--batch 2]

--model unet: nets/UNet.py's blocks and forward unchanged, its constructor's hard-coded base width 64
scaled to 16 (reduced_unet below: the base-64 model takes over a minute per step on the cpu backend).
--model lvit: nets/LViT.py hard-codes the full widths (64..512, 196 tokens, 768-d text), so the model is
built from the official classes with the constructor arguments scaled (reduced_lvit below: base 16,
tokenGrid 4, text 32-d, heads 8 as upstream); the official forward and every block's code run unchanged.
Two attributes carry the hard-coded choices: VisionTransformer.forward picks a branch's behaviour from
`self.dim == 64` (the text level) / `== 512` (the deepest up level), and `dim` is read nowhere else, so
it is set to those role values; CTBN3 maps 10 text tokens to 196 patches, so it is rebuilt for 16.
GELU: nn.GELU is swapped for its erf formula written out (ErfGelu below), working around a NaN bug in
Debian torch's GELU backward.
Dropout: the masks of two random generators cannot agree, so train mode runs with every nn.Dropout at
p = 0 (the suite's dropout scaling is tested against torch in layer-defaults.test.ts).
The TS side: packages/core/src/models/lvit-parity.test.ts, packages/baselines/src/unet-parity.test.ts.
"""
import argparse, json, os, sys, types
ap = argparse.ArgumentParser()
ap.add_argument('out'); ap.add_argument('--model', choices=['lvit', 'unet'], required=True)
ap.add_argument('--res', type=int, default=64); ap.add_argument('--batch', type=int, default=2)
a = ap.parse_args()

# Stand-ins for packages Debian does not ship (as lvit_step.py): ml_collections.ConfigDict, timm's DropPath
# (drop_path is 0 in LViT, so the official code builds nn.Identity and never calls DropPath).
mc = types.ModuleType('ml_collections')
class ConfigDict(dict):
    def __getattr__(self, k):
        try: return self[k]
        except KeyError: raise AttributeError(k)
    def __setattr__(self, k, v): self[k] = v
mc.ConfigDict = ConfigDict
sys.modules['ml_collections'] = mc
import torch
timm = types.ModuleType('timm'); tm = types.ModuleType('timm.models'); tl = types.ModuleType('timm.models.layers')
tl.DropPath = None; timm.models = tm; tm.layers = tl
sys.modules.update({'timm': timm, 'timm.models': tm, 'timm.models.layers': tl})
here = os.path.dirname(os.path.abspath(__file__))
ref = os.environ.get('OFFICIAL_LVIT') or os.path.join(here, '..', '..', '..', '..', 'shared', 'tools', 'torch-reference', 'official-lvit')
sys.path.insert(0, ref)
import Config
from nets import LViT as L
from nets.Vit import VisionTransformer, Reconstruct, ConvTransBN
from nets import UNet as U
from nets.UNet import UNet

torch.manual_seed(0); torch.set_num_threads(2)
B, S = a.batch, a.res
BASE, GRID, TEXT_DIM, TEXT_TOKENS = 16, 4, 32, 10

def reduced_lvit():
    """LViT.__init__ with its literals scaled (b = BASE, S = --res, tokens = GRID², text TEXT_DIM)."""
    m = L.LViT.__new__(L.LViT); torch.nn.Module.__init__(m)
    cfg = Config.get_CTranS_config(); b = BASE
    m.vis, m.n_channels, m.n_classes = False, 3, 1
    m.inc = L.ConvBatchNorm(3, b)
    for i, name in enumerate(['downVit', 'downVit1', 'downVit2', 'downVit3', 'upVit', 'upVit1', 'upVit2', 'upVit3']):
        lvl = i % 4; size = S >> lvl; patch = size // GRID
        setattr(m, name, VisionTransformer(cfg, False, img_size=size, channel_num=b << lvl, patch_size=patch, embed_dim=b << lvl))
    for name in ['downVit', 'upVit']: m._modules[name].CTBN3 = ConvTransBN(TEXT_TOKENS, GRID * GRID)
    for name, vit in m.named_children():
        if isinstance(vit, VisionTransformer):
            vit.dim = 64 if name == 'downVit' else 512 if name == 'upVit3' else -1  # the role, see the docstring
    m.down1 = L.DownBlock(b, b * 2, nb_Conv=2); m.down2 = L.DownBlock(b * 2, b * 4, nb_Conv=2)
    m.down3 = L.DownBlock(b * 4, b * 8, nb_Conv=2); m.down4 = L.DownBlock(b * 8, b * 8, nb_Conv=2)
    m.up4 = L.UpblockAttention(b * 16, b * 4, nb_Conv=2); m.up3 = L.UpblockAttention(b * 8, b * 2, nb_Conv=2)
    m.up2 = L.UpblockAttention(b * 4, b, nb_Conv=2); m.up1 = L.UpblockAttention(b * 2, b, nb_Conv=2)
    m.outc = torch.nn.Conv2d(b, 1, kernel_size=(1, 1), stride=(1, 1))
    m.last_activation = torch.nn.Sigmoid()
    for l in range(4):
        patch = (S >> l) // GRID
        setattr(m, f'reconstruct{l + 1}', Reconstruct(b << l, b << l, kernel_size=1, scale_factor=(patch, patch)))
    m.text_module4 = torch.nn.Conv1d(TEXT_DIM, b * 8, kernel_size=3, padding=1)
    m.text_module3 = torch.nn.Conv1d(b * 8, b * 4, kernel_size=3, padding=1)
    m.text_module2 = torch.nn.Conv1d(b * 4, b * 2, kernel_size=3, padding=1)
    m.text_module1 = torch.nn.Conv1d(b * 2, b, kernel_size=3, padding=1)
    return m

def reduced_unet():
    """UNet.__init__ with its hard-coded base width 64 scaled to BASE (nets/UNet.py's blocks and forward)."""
    m = UNet.__new__(UNet); torch.nn.Module.__init__(m); b = BASE
    m.n_channels, m.n_classes = 3, 1
    m.inc = U.ConvBatchNorm(3, b)
    m.down1 = U.DownBlock(b, b * 2, nb_Conv=2); m.down2 = U.DownBlock(b * 2, b * 4, nb_Conv=2)
    m.down3 = U.DownBlock(b * 4, b * 8, nb_Conv=2); m.down4 = U.DownBlock(b * 8, b * 8, nb_Conv=2)
    m.up4 = U.UpBlock(b * 16, b * 4, nb_Conv=2); m.up3 = U.UpBlock(b * 8, b * 2, nb_Conv=2)
    m.up2 = U.UpBlock(b * 4, b, nb_Conv=2); m.up1 = U.UpBlock(b * 2, b, nb_Conv=2)
    m.outc = torch.nn.Conv2d(b, 1, kernel_size=(1, 1))
    m.last_activation = torch.nn.Sigmoid()
    return m

if a.model == 'lvit':
    m = reduced_lvit()
    # suite feature name <- official module (each called once per forward); text outputs are [B,C,T]
    blocks = {'x1': 'inc', 'x2': 'down1', 'x3': 'down2', 'x4': 'down3', 'x5': 'down4',
              'text4': 'text_module4', 'text3': 'text_module3', 'text2': 'text_module2', 'text1': 'text_module1',
              'down1': 'downVit', 'down2': 'downVit1', 'down3': 'downVit2', 'down4': 'downVit3',
              'up4': 'upVit3', 'up3': 'upVit2', 'up2': 'upVit1', 'up1': 'upVit',
              'recon1': 'reconstruct1', 'recon2': 'reconstruct2', 'recon3': 'reconstruct3', 'recon4': 'reconstruct4',
              'dec4': 'up4', 'dec3': 'up3', 'dec2': 'up2', 'dec1': 'up1'}
else:
    m = reduced_unet()
    blocks = {k: k for k in ['inc', 'down1', 'down2', 'down3', 'down4', 'up4', 'up3', 'up2', 'up1']}

g = torch.Generator().manual_seed(1)
with torch.no_grad():
    for n, p in m.named_parameters():
        p.add_(0.2 * torch.randn(p.shape, generator=g) * (p.std() if p.numel() > 1 and p.std() > 0 else 1))
    for n, b in m.named_buffers():
        if n.endswith('running_mean'): b.copy_(0.1 * torch.randn(b.shape, generator=g))
        if n.endswith('running_var'): b.copy_(0.5 + torch.rand(b.shape, generator=g))
class ErfGelu(torch.nn.Module):
    """nn.GELU's exact (erf) form written out: Debian's torch 1.13.0a0 GeluBackward0 returns NaN now and
    then for the same inputs (seen in 2 of 3 runs; uninitialised memory, not the math), so autograd
    differentiates erf instead. Same function to float32 rounding."""
    def forward(self, x): return 0.5 * x * (1 + torch.erf(x * 0.7071067811865476))
for mod in m.modules():
    if isinstance(mod, torch.nn.Dropout): mod.p = 0.0
    for name, sub in list(mod.named_children()):
        if isinstance(sub, torch.nn.GELU): setattr(mod, name, ErfGelu())
state0 = {k: v.detach().clone() for k, v in m.state_dict().items() if not k.endswith('num_batches_tracked')}

x = torch.rand(B, 3, S, S, generator=g)
text = torch.randn(B, TEXT_TOKENS, TEXT_DIM, generator=g)
y = (torch.rand(B, 1, S, S, generator=g) > 0.7).float()

outs = {}
def channels_last(name, o):
    if o.dim() == 4: return o.permute(0, 2, 3, 1)
    if name.startswith('text'): return o.transpose(1, 2)
    return o
hooks = []
for key, mod in blocks.items():
    hooks += [m.get_submodule(mod).register_forward_hook(lambda _m, _i, o, key=key: outs.__setitem__(key, channels_last(key, o).detach().clone()))]
run = (lambda: m(x, text)) if a.model == 'lvit' else (lambda: m(x))

m.eval()
with torch.no_grad(): out = run()
tensors = [('eval:' + k, v) for k, v in outs.items()] + [('eval:out', out.permute(0, 2, 3, 1))]

def weighted_dice_bce(p, t):
    """utils.py WeightedDiceBCE(dice_weight=0.5, BCE_weight=0.5) with WeightedBCE([.5,.5]), WeightedDiceLoss([.5,.5])."""
    pf, tf_ = p.reshape(-1), t.reshape(-1)
    bce = torch.nn.functional.binary_cross_entropy(pf, tf_, reduction='none')
    pos, neg = (tf_ > 0.5).float(), (tf_ < 0.5).float()
    bce_loss = (0.5 * pos * bce / (pos.sum() + 1e-12)).sum() + (0.5 * neg * bce / (neg.sum() + 1e-12)).sum()
    w = 0.5; pb, tb = (p * w).reshape(p.shape[0], -1), (t * w).reshape(p.shape[0], -1)
    dice = 1 - (2 * (pb * tb).sum(-1) + 1e-5) / ((pb * pb).sum(-1) + (tb * tb).sum(-1) + 1e-5)
    return 0.5 * dice.mean() + 0.5 * bce_loss

import copy
m64 = copy.deepcopy(m).double().train()
m.train(); outs.clear()
out = run()
weighted_dice_bce(out, y).backward()
tensors += [('train:' + k, v) for k, v in outs.items()] + [('train:out', out.detach().permute(0, 2, 3, 1))]
tensors += [('train_state:' + k, v) for k, v in m.state_dict().items() if k.endswith(('running_mean', 'running_var'))]
bad = [n for n, p in m.named_parameters() if p.grad is not None and not torch.isfinite(p.grad).all()]
if bad: sys.exit(f'official_lvit_parity.py: torch gave non-finite gradients for {bad[:3]} (of {len(bad)})')
tensors += [('grad:' + n, p.grad) for n, p in m.named_parameters() if p.grad is not None]
# The same step in float64: the exact gradient that both float32 codes approximate (grad64:<name>).
for h in list(hooks): h.remove()
as_float = torch.Tensor.float
torch.Tensor.float = lambda t: t  # the official forward starts with x = x.float(); keep the double input
out64 = m64(x.double(), text.double()) if a.model == 'lvit' else m64(x.double())
torch.Tensor.float = as_float
weighted_dice_bce(out64, y.double()).backward()
tensors += [('grad64:' + n, p.grad) for n, p in m64.named_parameters() if p.grad is not None]
opt = torch.optim.Adam(m.parameters(), lr=1e-3)
opt.step()
tensors += [('adam:' + n, p) for n, p in m.named_parameters()]

os.makedirs(a.out, exist_ok=True)
manifest, off = {}, 0
with open(os.path.join(a.out, 'data.bin'), 'wb') as f:
    items = list(state0.items()) + [('input', x), ('text', text), ('target', y)] + tensors
    for k, v in items:
        arr = v.detach().float().contiguous().numpy().astype('<f4')
        f.write(arr.tobytes()); manifest[k] = {'shape': list(arr.shape), 'offset': off}; off += arr.size
config = {'baseChannels': BASE, 'imageSize': S, 'tokenGrid': GRID, 'textDim': TEXT_DIM, 'textTokens': TEXT_TOKENS} if a.model == 'lvit' else {'baseChannels': BASE, 'imageSize': S}
params = sum(p.numel() for p in m.parameters())
json.dump({'model': a.model, 'config': config, 'batch': B, 'torch': torch.__version__, 'params': params, 'tensors': manifest},
          open(os.path.join(a.out, 'manifest.json'), 'w'))
print(json.dumps({'ok': True, 'model': a.model, 'params': params}))
