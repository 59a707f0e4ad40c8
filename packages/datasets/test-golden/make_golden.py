#!/usr/bin/python3
"""OpenCV goldens for the suite's cv2-exact preprocessing (packages/datasets/src/data/cv2-golden.test.ts).

LViT reads images with cv2.imread (3-channel BGR) and masks with cv2.imread(path, 0), resizes both with
cv2.resize's default INTER_LINEAR and thresholds masks at > 0 (LVIT.md §3.5). This script does exactly
that with real OpenCV (Debian python3-opencv) on small crops of staged images, so the expectations do not
come from the suite's own resize. For each case it writes, in this folder:
  <case>.src.png                 the source crop (cv2.imwrite: lossless; re-read it with cv2.imread)
  <case>.<W>x<H>.u8              cv2.resize(crop, (W, H)) as raw uint8, row-major HWC (BGR for images)
  <case>.<W>x<H>.mask.u8         masks only: (resized > 0) as 0/1 uint8
  golden.json                    cases, sizes, source files, crop boxes, OpenCV version
Crops keep the real pipeline's scale factors: a 125-px MoNuSeg crop goes to 28 and 16 px as the 1000-px tile
goes to 224 and 128; a 112-px QaTa crop to 64 as the 224-px image to 128 (QaTa at 224 is a copy). One odd
size (27x23) takes OpenCV's scalar tail of the vertical pass (row length not a multiple of 8).
Licences: MoNuSeg CC BY-NC-SA 4.0 (Kumar et al.); QaTa-COV19 images named covid_* (not BIMCV's) CC BY-NC-SA
3.0 IGO per dataset-ninja (unverified; Degerli et al.). Small derived crops, non-commercial, attribution kept
(README.md here).
  /usr/bin/python3 make_golden.py [DATA_ROOT]     (default: ../../../../shared/data)
"""
import json, os, sys
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
        case = f'{name}-{kind}'
        cv2.imwrite(os.path.join(here, f'{case}.src.png'), crop, [cv2.IMWRITE_PNG_COMPRESSION, 9])
        assert np.array_equal(read(os.path.join(here, f'{case}.src.png'), flags), crop)
        for w, h in sizes:
            out = cv2.resize(crop, (w, h))  # default interpolation: INTER_LINEAR, as LViT
            out.tofile(os.path.join(here, f'{case}.{w}x{h}.u8'))
            if kind == 'mask': (out > 0).astype(np.uint8).tofile(os.path.join(here, f'{case}.{w}x{h}.mask.u8'))
        manifest['cases'].append({'case': case, 'kind': kind, 'source': file, 'crop': {'x': x, 'y': y, 'size': s},
                                  'channels': 3 if kind == 'image' else 1, 'sizes': [[w, h] for w, h in sizes]})
json.dump(manifest, open(os.path.join(here, 'golden.json'), 'w'), indent=1)
print(json.dumps({'ok': True, 'opencv': cv2.__version__, 'cases': len(manifest['cases'])}))
