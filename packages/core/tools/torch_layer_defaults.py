#!/usr/bin/python3
"""PyTorch's layer defaults, exported for packages/core/src/nn/layer-defaults.test.ts (same file format as
official_lvit_parity.py: manifest.json + data.bin, float32; maps channels last):
  bn:x<i>, bn:y<i>, bn:running_mean<i>, bn:running_var<i>   BatchNorm2d(4) in train mode on 3 batches
      [2,3,3,4] (NHWC), its outputs and running statistics after each (momentum 0.1, unbiased variance)
  bn:x_eval, bn:y_eval                                       eval mode with those trained statistics
  init:<layer>.weight/.bias   fresh default-initialised nn.Conv2d(4,512,3), nn.Linear(64,512),
      nn.ConvTranspose2d(32,512,2,2), nn.Conv1d(24,512,3) (suite layouts) and the official Vit.py MLP(64,256,64);
      meta.bounds: torch's kaiming_uniform(a=sqrt(5)) bound 1/sqrt(fan_in) per layer, from torch's own fan_in
  dropout:train, dropout:eval   F.dropout(ones(200000), p=0.1) in training and in eval
  /usr/bin/python3 torch_layer_defaults.py OUT_DIR
"""
import json, math, os, sys, types
import torch
import torch.nn as nn
import torch.nn.functional as F
out_dir = sys.argv[1]
torch.manual_seed(0)
tensors = []

bn = nn.BatchNorm2d(4); bn.train()
nhwc = lambda t: t.permute(0, 2, 3, 1)
for i in range(3):
    x = torch.randn(2, 4, 3, 3) * (1 + i) + i  # shifting statistics, so each update matters
    y = bn(x)
    tensors += [(f'bn:x{i}', nhwc(x)), (f'bn:y{i}', nhwc(y)), (f'bn:running_mean{i}', bn.running_mean.clone()), (f'bn:running_var{i}', bn.running_var.clone())]
bn.eval(); x = torch.randn(2, 4, 3, 3)
tensors += [('bn:x_eval', nhwc(x)), ('bn:y_eval', nhwc(bn(x)))]

# 512 outputs: enough bias values (512) for the distribution test to see a wrong bias bound
layers = {'conv2d': nn.Conv2d(4, 512, 3), 'linear': nn.Linear(64, 512), 'convT': nn.ConvTranspose2d(32, 512, 2, 2), 'conv1d': nn.Conv1d(24, 512, 3)}
bounds = {}
for name, l in layers.items():
    fan_in, _ = nn.init._calculate_fan_in_and_fan_out(l.weight)
    bounds[name] = 1 / math.sqrt(fan_in)
    w = l.weight.detach()
    w = {4: lambda t: t.permute(2, 3, 1, 0), 3: lambda t: t.permute(2, 1, 0), 2: lambda t: t.t()}[w.dim()](w)
    tensors += [(f'init:{name}.weight', w), (f'init:{name}.bias', l.bias)]
# The official ViT MLP (nets/Vit.py): xavier_uniform weights, N(0, 1e-6) biases.
timm = types.ModuleType('timm'); tm = types.ModuleType('timm.models'); tl = types.ModuleType('timm.models.layers')
tl.DropPath = None; timm.models = tm; tm.layers = tl
sys.modules.update({'timm': timm, 'timm.models': tm, 'timm.models.layers': tl})
here = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.environ.get('OFFICIAL_LVIT') or os.path.join(here, '..', '..', '..', '..', 'shared', 'tools', 'torch-reference', 'official-lvit'))
from nets.Vit import MLP
mlp = MLP(64, 256, 64)
tensors += [('init:mlp.fc1.weight', mlp.fc1.weight.t()), ('init:mlp.fc1.bias', mlp.fc1.bias)]

ones = torch.ones(200000)
tensors += [('dropout:train', F.dropout(ones, 0.1, training=True)), ('dropout:eval', F.dropout(ones, 0.1, training=False))]

os.makedirs(out_dir, exist_ok=True)
manifest, off = {}, 0
with open(os.path.join(out_dir, 'data.bin'), 'wb') as f:
    for k, v in tensors:
        arr = v.detach().float().contiguous().numpy().astype('<f4')
        f.write(arr.tobytes()); manifest[k] = {'shape': list(arr.shape), 'offset': off}; off += arr.size
json.dump({'torch': torch.__version__, 'bounds': bounds, 'tensors': manifest}, open(os.path.join(out_dir, 'manifest.json'), 'w'))
print(json.dumps({'ok': True, 'bounds': bounds}))
