#!/usr/bin/python3
"""OpenCV goldens for the suite's cv2-exact preprocessing (packages/datasets/src/data/cv2-golden.test.ts).

LViT reads images with cv2.imread (3-channel BGR) and masks with cv2.imread(path, 0), resizes both with
cv2.resize's default INTER_LINEAR and thresholds masks at > 0 (LVIT.md §3.5). This script does exactly
that with real OpenCV (Debian python3-opencv) on small crops of staged images, so the expectations do not
come from the suite's own resize. No pixels are committed (the datasets are not ours to redistribute):
golden.json holds, per case and output size, the sha256 of cv2.resize(crop, (W, H)) as raw row-major HWC
uint8 (BGR for images), each output row's byte sum (to locate a mismatch), and for masks the sha256 of
(resized > 0) as 0/1 uint8. The test crops the same staged files itself.
Crops keep the real pipeline's scale factors: a 125-px MoNuSeg crop goes to 28 and 16 px as the 1000-px tile
goes to 224 and 128; a 112-px QaTa crop to 64 as the 224-px image to 128 (QaTa at 224 is a copy). One odd
size (27x23) takes OpenCV's scalar tail of the vertical pass (row length not a multiple of 8).
  /usr/bin/python3 make_golden.py [DATA_ROOT]     (default: ../../../../shared/data)
"""
import hashlib, json, os, sys
import cv2
import numpy as np

here = os.path.dirname(os.path.abspath(__file__))
root = sys.argv[1] if len(sys.argv) > 1 else os.path.join(here, '..', '..', '..', '..', 'shared', 'data')
CASES = [
    # name, image file, mask file, crop (x, y, size), output sizes (W, H)
    ('monuseg', 'monuseg/train/images/TCGA-21-5784-01Z-00-DX1.png', 'monuseg/train/masks/TCGA-21-5784-01Z-00-DX1.png',
     (375, 500, 125), [(28, 28), (16, 16), (27, 23)]),
    ('qata', 'qata/images/covid_1.png', 'qata/masks/mask_covid_1.png', (56, 56, 112), [(64, 64)]),
]

def read(path, flags):
    img = cv2.imread(path, flags)
    if img is None: sys.exit(f'make_golden.py: cv2 cannot read {path}')
    return img

manifest = {'opencv': cv2.__version__, 'cases': []}
for name, image_file, mask_file, (x, y, s), sizes in CASES:
    for kind, file, flags in [('image', image_file, cv2.IMREAD_COLOR), ('mask', mask_file, cv2.IMREAD_GRAYSCALE)]:
        full = read(os.path.join(root, file), flags)
        crop = np.ascontiguousarray(full[y:y + s, x:x + s])
        outputs = []
        for w, h in sizes:
            out = cv2.resize(crop, (w, h))  # default interpolation: INTER_LINEAR, as LViT
            entry = {'size': [w, h], 'sha256': hashlib.sha256(out.tobytes()).hexdigest(),
                     'rowSums': [int(v) for v in out.reshape(h, -1).astype(np.int64).sum(axis=1)]}
            if kind == 'mask': entry['maskSha256'] = hashlib.sha256((out > 0).astype(np.uint8).tobytes()).hexdigest()
            outputs.append(entry)
        manifest['cases'].append({'case': f'{name}-{kind}', 'kind': kind, 'source': file, 'crop': {'x': x, 'y': y, 'size': s},
                                  'channels': 3 if kind == 'image' else 1, 'outputs': outputs})
json.dump(manifest, open(os.path.join(here, 'golden.json'), 'w'), indent=1)
print(json.dumps({'ok': True, 'opencv': cv2.__version__, 'cases': len(manifest['cases'])}))
