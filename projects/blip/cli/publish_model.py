"""Strip a training checkpoint down to its weights for release.

``python tools/publish_model.py work_dirs/x/epoch_10.pth blip-x.pth [--fp16]``
keeps ``state_dict`` and a small ``meta`` (no optimizer, no message hub), so
the file loads with ``torch.load(weights_only=True)`` anywhere, and prints its
sha256 (the first 8 hex digits are appended to the name, as OpenMMLab does).
"""

import argparse
import hashlib
from pathlib import Path


def publish(src: str, dst: str, fp16: bool = False) -> Path:
    import torch

    from blip.checkpoint import read_state_dict

    state_dict = read_state_dict(src)
    if fp16:
        state_dict = {k: v.half() if v.is_floating_point() else v for k, v in state_dict.items()}
    tmp = Path(dst).with_suffix('.tmp')
    torch.save({'meta': {'source': Path(src).name, 'fp16': fp16}, 'state_dict': state_dict}, tmp)
    digest = hashlib.sha256(tmp.read_bytes()).hexdigest()
    final = Path(dst).with_name(f'{Path(dst).stem}-{digest[:8]}{Path(dst).suffix}')
    tmp.replace(final)
    print(f'{final} sha256={digest}')
    return final


def main(argv=None):
    parser = argparse.ArgumentParser(description='Strip a checkpoint down to its weights')
    parser.add_argument('src', help='training checkpoint')
    parser.add_argument('dst', help='output file; the sha256 prefix is appended to its name')
    parser.add_argument('--fp16', action='store_true', help='store floating tensors as float16')
    args = parser.parse_args(argv)
    publish(args.src, args.dst, args.fp16)


if __name__ == '__main__':
    main()
