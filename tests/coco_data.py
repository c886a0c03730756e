"""A tiny dataset in the COCO Karpathy caption layout, written for tests."""

import json
from pathlib import Path

import numpy as np
from PIL import Image

COLOURS = {'red': (220, 30, 30), 'green': (30, 200, 30), 'blue': (30, 30, 220), 'yellow': (230, 220, 30)}


def write_coco_karpathy(root: Path, images_per_split: int = 4) -> Path:
    """Images of one coloured square each, captions naming the colour.

    Writes ``annotations/coco_karpathy_{train,val,test}.json`` and the COCO-format
    ``coco_karpathy_{val,test}_gt.json`` as BLIP/LAVIS publish them.
    """
    (root / 'annotations').mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    image_id = 0
    for split in ('train', 'val', 'test'):
        records, gt_images, gt_annotations = [], [], []
        folder = root / f'{split}2014'
        folder.mkdir(exist_ok=True)
        for i in range(images_per_split):
            image_id += 1
            colour = list(COLOURS)[i % len(COLOURS)]
            pixels = np.full((48, 64, 3), 245, dtype=np.uint8)
            x, y = rng.integers(0, 24, size=2)
            pixels[y : y + 24, x : x + 24] = COLOURS[colour]
            name = f'{split}2014/COCO_{split}2014_{image_id:012d}.jpg'
            Image.fromarray(pixels).save(root / name, quality=95)
            captions = [f'a {colour} square', f'a {colour} square on white', f'one {colour} box']
            if split == 'train':
                records += [{'image': name, 'caption': c, 'image_id': f'coco_{image_id}'} for c in captions]
            else:
                records.append({'image': name, 'caption': captions})
                gt_images.append({'id': image_id})
                gt_annotations += [
                    {'image_id': image_id, 'caption': c, 'id': len(gt_annotations) + k}
                    for k, c in enumerate(captions)
                ]
        (root / f'annotations/coco_karpathy_{split}.json').write_text(json.dumps(records))
        if split != 'train':
            gt = {'images': gt_images, 'annotations': gt_annotations}
            (root / f'annotations/coco_karpathy_{split}_gt.json').write_text(json.dumps(gt))
    return root


def data_options(root: Path) -> list[str]:
    """``--cfg-options`` pointing a caption config at ``root`` (its files, ground truth included)."""
    return [f'data_root={root}']
