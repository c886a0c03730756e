"""Generate the *shapes* vision-language benchmark: simple scenes in public formats.

Each image shows one to three shapes (circle, square, triangle) with a colour,
a size and a position. Annotations are written in the formats of the real
datasets, so the same dataset classes read them:

* captions / retrieval: COCO Karpathy json (``coco_karpathy_{split}.json``) and
  the COCO-format ground truth (``coco_karpathy_{val,test}_gt.json``);
* VQA: VQAv2 questions and annotations json (ten answers per question;
  yes/no, number and other answer types);
* NLVR2: jsonl with image pairs in NLVR2's layout (train images in numbered
  sub-folders), three statements per pair;
* RefCOCO: ``refs(unc).p`` and ``instances.json``;
* with ``--web N``, a noisy "web" corpus of N more images for pre-training
  and CapFilt (``web/``): alt-texts that are right, partly wrong (one colour,
  shape, size or count changed) or wholly wrong (another scene's caption, or
  text that is no caption at all), each labelled with its noise, in the
  authors' JSON format (``web/web_corpus.json``) and as WebDataset shards as
  img2dataset writes them (``web/shards/*.tar``).

Splits never share an image. The output depends only on the seed and sizes
(the web corpus is drawn last, so adding it leaves the other files as they are):
``python tools/generate_shapes.py data/shapes --seed 0 --train 600 --val 60 --test 100``.
"""

import argparse
import io
import json
import pickle
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

COLOURS = {
    'red': (215, 40, 40),
    'green': (40, 170, 60),
    'blue': (40, 80, 215),
    'yellow': (235, 200, 30),
}
SHAPES = ('circle', 'square', 'triangle')
SIZES = {'small': 0.22, 'large': 0.38}
NUMBER_WORDS = {1: 'one', 2: 'two', 3: 'three'}
CATEGORY_IDS = {shape: i + 1 for i, shape in enumerate(SHAPES)}
#: Karpathy-style splits -> COCO image folder.
FOLDERS = {'train': 'train2014', 'val': 'val2014', 'test': 'val2014'}


@dataclass
class Shape:
    kind: str
    colour: str
    size: str
    box: tuple[float, float, float, float]  # x, y, w, h in pixels

    @property
    def centre_x(self) -> float:
        return self.box[0] + self.box[2] / 2

    def phrase(self, with_size: bool = True) -> str:
        return f'{self.size} {self.colour} {self.kind}' if with_size else f'{self.colour} {self.kind}'


def sample_scene(rng: np.random.RandomState, image_size: int, max_shapes: int = 3) -> list[Shape]:
    """1..max_shapes shapes, left to right, not overlapping; no two share a colour
    or a kind, so "the red circle" and "the circle" name one shape."""
    count = rng.randint(1, max_shapes + 1)
    colours = rng.choice(list(COLOURS), count, replace=False)
    kinds = rng.choice(SHAPES, count, replace=False)
    picked = list(zip(colours.tolist(), kinds.tolist()))
    slot = image_size / count
    shapes = []
    for i, (colour, kind) in enumerate(picked):
        size = list(SIZES)[rng.randint(len(SIZES))]
        side = min(SIZES[size] * image_size, slot * 0.9)
        x = i * slot + rng.uniform(0, slot - side)
        y = rng.uniform(0, image_size - side)
        shapes.append(Shape(kind, colour, size, (float(x), float(y), float(side), float(side))))
    return shapes


def draw(shapes: list[Shape], image_size: int, rng: np.random.RandomState) -> Image.Image:
    background = tuple(int(v) for v in rng.randint(225, 256, size=3))
    image = Image.new('RGB', (image_size, image_size), background)
    pen = ImageDraw.Draw(image)
    for shape in shapes:
        x, y, w, h = shape.box
        colour = COLOURS[shape.colour]
        if shape.kind == 'circle':
            pen.ellipse([x, y, x + w, y + h], fill=colour)
        elif shape.kind == 'square':
            pen.rectangle([x, y, x + w, y + h], fill=colour)
        else:
            pen.polygon([(x + w / 2, y), (x, y + h), (x + w, y + h)], fill=colour)
    return image


def captions(shapes: list[Shape]) -> list[str]:
    """Three captions naming the shapes from left to right."""
    full = ' and '.join(f'a {s.phrase()}' for s in shapes)
    short = ' and '.join(f'a {s.phrase(with_size=False)}' for s in shapes)
    count = NUMBER_WORDS[len(shapes)]
    plural = 'shape' if len(shapes) == 1 else 'shapes'
    return [full, f'{count} {plural}: {short}', f'there is {full}']


def questions(shapes: list[Shape], rng: np.random.RandomState) -> list[tuple[str, str, str]]:
    """(question, answer, answer type) triples about a scene."""
    target = shapes[rng.randint(len(shapes))]
    absent_colour = [c for c in COLOURS if all(s.colour != c for s in shapes)][0]
    probe = target.colour if rng.rand() < 0.5 else absent_colour
    return [
        ('how many shapes are there?', NUMBER_WORDS[len(shapes)], 'number'),
        (f'what color is the {target.kind}?', target.colour, 'other'),
        (f'is there a {probe} shape?', 'yes' if probe == target.colour else 'no', 'yes/no'),
        ('what shape is on the left?', shapes[0].kind, 'other'),
    ]


def ten_answers(answer: str, answer_type: str, rng: np.random.RandomState) -> list[str]:
    """Ten human answers: mostly the truth, sometimes a disagreeing annotator."""
    answers = [answer] * 10
    for i in rng.choice(10, rng.randint(0, 3), replace=False):
        if answer_type == 'yes/no':
            answers[i] = 'no' if answer == 'yes' else 'yes'
        elif answer_type == 'number':
            answers[i] = rng.choice([w for w in NUMBER_WORDS.values() if w != answer])
        else:
            answers[i] = f'the {answer}'  # same answer after normalisation
    return answers


class Writer:
    def __init__(self, root: Path, image_size: int, seed: int):
        self.root = root
        self.image_size = image_size
        self.rng = np.random.RandomState(seed)
        self.next_image_id = 1

    def coco_image(self, split: str) -> tuple[int, str, list[Shape]]:
        image_id = self.next_image_id
        self.next_image_id += 1
        folder = FOLDERS[split]
        name = f'{folder}/COCO_{folder}_{image_id:012d}.jpg'
        shapes = sample_scene(self.rng, self.image_size)
        path = self.root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        draw(shapes, self.image_size, self.rng).save(path, quality=95)
        return image_id, name, shapes

    def write_json(self, relative: str, content) -> None:
        path = self.root / relative
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(json.dumps(content))


def write_captions_and_vqa(writer: Writer, sizes: dict[str, int]) -> None:
    question_id = 1
    for split, count in sizes.items():
        karpathy, gt_images, gt_annotations, vqa_questions, vqa_annotations = [], [], [], [], []
        for _ in range(count):
            image_id, name, shapes = writer.coco_image(split)
            texts = captions(shapes)
            if split == 'train':
                karpathy += [{'image': name, 'caption': t, 'image_id': f'shapes_{image_id}'} for t in texts]
            else:
                karpathy.append({'image': name, 'caption': texts})
                gt_images.append({'id': image_id, 'file_name': name})
                gt_annotations += [
                    {'image_id': image_id, 'id': len(gt_annotations) + k, 'caption': t}
                    for k, t in enumerate(texts)
                ]
            for question, answer, answer_type in questions(shapes, writer.rng):
                vqa_questions.append({'image_id': image_id, 'question': question, 'question_id': question_id})
                answers = ten_answers(answer, answer_type, writer.rng)
                vqa_annotations.append(
                    {
                        'question_type': ' '.join(question.split()[:2]),
                        'multiple_choice_answer': answer,
                        'answers': [
                            {'answer': a, 'answer_confidence': 'yes', 'answer_id': k + 1}
                            for k, a in enumerate(answers)
                        ],
                        'image_id': image_id,
                        'answer_type': answer_type,
                        'question_id': question_id,
                    }
                )
                question_id += 1
        writer.write_json(f'annotations/coco_karpathy_{split}.json', karpathy)
        if split != 'train':
            gt = {
                'images': gt_images,
                'annotations': gt_annotations,
                'type': 'captions',
                'info': {},
                'licenses': [],
            }
            writer.write_json(f'annotations/coco_karpathy_{split}_gt.json', gt)
        subtype = f'shapes_{split}'
        header = {'info': {}, 'license': {}, 'data_subtype': subtype, 'data_type': 'mscoco'}
        writer.write_json(
            f'vqa/v2_OpenEnded_mscoco_{subtype}_questions.json',
            header | {'task_type': 'Open-Ended', 'questions': vqa_questions},
        )
        writer.write_json(
            f'vqa/v2_mscoco_{subtype}_annotations.json', header | {'annotations': vqa_annotations}
        )
    all_answers = sorted({*NUMBER_WORDS.values(), 'yes', 'no', *COLOURS, *SHAPES})
    writer.write_json('vqa/answer_list.json', all_answers)


def nlvr_statement(left: list[Shape], right: list[Shape], rng: np.random.RandomState) -> tuple[str, bool]:
    kind = rng.choice(SHAPES)
    colour = rng.choice(list(COLOURS))
    templates = [
        (
            f'both images contain a {kind}',
            any(s.kind == kind for s in left) and any(s.kind == kind for s in right),
        ),
        (f'the left image contains a {colour} shape', any(s.colour == colour for s in left)),
        (f'the right image contains a {kind}', any(s.kind == kind for s in right)),
        ('the left image has more shapes than the right image', len(left) > len(right)),
    ]
    return templates[rng.randint(len(templates))]


#: Statements per NLVR image pair: one true, one false and a third whose label
#: alternates between pairs; an odd number of pairs gives an odd number of statements.
STATEMENTS_PER_PAIR = 3


def pair_statements(
    left: list[Shape], right: list[Shape], n: int, seen: dict, rng: np.random.RandomState
) -> list[tuple[str, bool]] | None:
    """``STATEMENTS_PER_PAIR`` distinct statements about a pair, labelled true,
    false, and true for even ``n``; None when one is not found in 50 draws.

    A statement is taken only while its sentence has been true and false equally
    often in the split (``seen``: sentence -> labels counted), so the sentence
    alone does not tell the label: only the images do.
    """
    statements: list[tuple[str, bool]] = []
    for wanted in (True, False, n % 2 == 0):
        for _ in range(50):
            sentence, label = nlvr_statement(left, right, rng)
            counts = seen.setdefault(sentence, {True: 0, False: 0})
            fresh = sentence not in (s for s, _ in statements)
            if label == wanted and fresh and counts[label] <= counts[not label]:
                statements.append((sentence, label))
                break
        else:
            return None
    for sentence, label in statements:
        seen[sentence][label] += 1
    return statements


def write_nlvr2(writer: Writer, sizes: dict[str, int]) -> None:
    """NLVR2 layout: ``nlvr2/images/train/<dir>/train-<n>-0-img{0,1}.png``, dev/test1 flat;
    the statements about pair ``n`` are ``<split>-<n>-0-<k>``."""
    names = {'train': 'train', 'val': 'dev', 'test': 'test1'}
    for split, count in sizes.items():
        lines, seen = [], {}
        nlvr_split = names[split]
        folder = Path('nlvr2/images') / nlvr_split
        for n in range(count):
            statements = None
            while statements is None:
                left = sample_scene(writer.rng, writer.image_size)
                right = sample_scene(writer.rng, writer.image_size)
                statements = pair_statements(left, right, n, seen, writer.rng)
            pair_folder = folder / str(n % 10) if split == 'train' else folder
            for k, (sentence, label) in enumerate(statements):
                record = {'identifier': f'{nlvr_split}-{n}-0-{k}', 'sentence': sentence, 'label': str(label)}
                if split == 'train':
                    record['directory'] = str(n % 10)
                lines.append(json.dumps(record))
            for side, shapes in (('img0', left), ('img1', right)):
                path = writer.root / pair_folder / f'{nlvr_split}-{n}-0-{side}.png'
                path.parent.mkdir(parents=True, exist_ok=True)
                draw(shapes, writer.image_size, writer.rng).save(path)
        path = writer.root / f'nlvr2/{nlvr_split}.json'
        path.write_text('\n'.join(lines) + '\n')


def referring_expressions(target: Shape, shapes: list[Shape]) -> list[str]:
    expressions = [f'the {target.colour} {target.kind}', f'the {target.kind}']
    if len(shapes) > 1:
        position = 'left' if target is shapes[0] else 'right' if target is shapes[-1] else 'middle'
        expressions.append(f'the shape on the {position}')
    return expressions


def write_refcoco(writer: Writer, sizes: dict[str, int]) -> None:
    """``refcoco/refs(unc).p`` + ``refcoco/instances.json`` over COCO train2014 images."""
    refs, images, annotations = [], [], []
    sent_id = 0
    ref_splits = {'train': ['train'], 'val': ['val'], 'test': ['testA', 'testB']}
    for split, count in sizes.items():
        for n in range(count):
            image_id, name, shapes = writer.coco_image('train')
            images.append(
                {
                    'id': image_id,
                    'file_name': Path(name).name,
                    'height': writer.image_size,
                    'width': writer.image_size,
                }
            )
            ref_split = ref_splits[split][n % len(ref_splits[split])]
            for shape in shapes:
                ann_id = len(annotations) + 1
                x, y, w, h = shape.box
                annotations.append(
                    {
                        'id': ann_id,
                        'image_id': image_id,
                        'bbox': [x, y, w, h],
                        'area': w * h,
                        'category_id': CATEGORY_IDS[shape.kind],
                        'iscrowd': 0,
                        'segmentation': [[x, y, x + w, y, x + w, y + h, x, y + h]],
                    }
                )
                sentences = []
                for text in referring_expressions(shape, shapes):
                    sentences.append({'tokens': text.split(), 'raw': text, 'sent_id': sent_id, 'sent': text})
                    sent_id += 1
                refs.append(
                    {
                        'sent_ids': [s['sent_id'] for s in sentences],
                        'file_name': f'COCO_train2014_{image_id:012d}_{ann_id}.jpg',
                        'ann_id': ann_id,
                        'ref_id': len(refs),
                        'image_id': image_id,
                        'split': ref_split,
                        'sentences': sentences,
                        'category_id': CATEGORY_IDS[shape.kind],
                    }
                )
    categories = [{'id': i, 'name': shape, 'supercategory': 'shape'} for shape, i in CATEGORY_IDS.items()]
    writer.write_json(
        'refcoco/instances.json', {'images': images, 'annotations': annotations, 'categories': categories}
    )
    with open(writer.root / 'refcoco/refs(unc).p', 'wb') as f:
        pickle.dump(refs, f)


#: The smallest image size whose shapes are still recognisable (the small ones are 22 % of it).
MIN_IMAGE_SIZE = 32
#: The web corpus's kinds of alt-text (the ``noise`` label of each).
WEB_NOISE = ('clean', 'partly wrong', 'wholly wrong')
#: Alt-texts of web images that describe nothing (file names, shop and page text).
WEB_JUNK = (
    'image {n}',
    'img_{n}.jpg',
    'click here to see more',
    'free shipping on all orders',
    'photo by user{n}',
    'thumbnail',
    'download wallpaper {n}',
    'best price today',
)


def partly_wrong(shapes: list[Shape], rng: np.random.RandomState) -> tuple[list[Shape], str]:
    """The scene with one thing changed: a shape's colour, kind or size, or a shape more or fewer."""
    changed = [Shape(s.kind, s.colour, s.size, s.box) for s in shapes]
    target = changed[rng.randint(len(changed))]
    choices = ['colour', 'kind', 'size', 'count']
    change = choices[rng.randint(len(choices))]
    if change == 'colour':
        free = [c for c in COLOURS if all(s.colour != c for s in changed)]
        old, target.colour = target.colour, free[rng.randint(len(free))]
        return changed, f'colour {old} -> {target.colour}'
    if change == 'kind':
        free = [k for k in SHAPES if all(s.kind != k for s in changed)]
        if free:
            old, target.kind = target.kind, free[rng.randint(len(free))]
            return changed, f'shape {old} -> {target.kind}'
    if change == 'size' or len(changed) == 3 and change == 'kind':
        old, target.size = target.size, 'large' if target.size == 'small' else 'small'
        return changed, f'size {old} -> {target.size}'
    if len(changed) > 1 and (len(changed) == 3 or rng.rand() < 0.5):
        changed.remove(target)
        return changed, f'count {len(shapes)} -> {len(changed)}'
    colour = [c for c in COLOURS if all(s.colour != c for s in changed)][0]
    kind = [k for k in SHAPES if all(s.kind != k for s in changed)][0]
    changed.append(Shape(kind, colour, 'small', target.box))
    return changed, f'count {len(shapes)} -> {len(changed)}'


def web_alt_text(
    shapes: list[Shape], rng: np.random.RandomState, noise: tuple[float, float], image_size: int
) -> dict:
    """An alt-text of a web image and its label: ``{'caption', 'noise', 'noise_detail'}``.

    ``noise``: the fractions of partly and wholly wrong texts; the others are
    one of the image's three captions. A partly wrong text is a caption of
    the scene with one thing changed (:func:`partly_wrong`); a wholly wrong one
    is the caption of an unrelated scene or, one time in four, text that is
    not a caption.
    """
    draw_noise = rng.rand()
    template = rng.randint(3)
    right = captions(shapes)
    if draw_noise < noise[0]:
        while True:  # a change the text shows (the short caption names no sizes)
            changed, detail = partly_wrong(shapes, rng)
            if captions(changed)[template] not in right:
                return dict(caption=captions(changed)[template], noise='partly wrong', noise_detail=detail)
    if draw_noise < noise[0] + noise[1]:
        if rng.rand() < 0.25:
            junk = WEB_JUNK[rng.randint(len(WEB_JUNK))].format(n=rng.randint(10000))
            return dict(caption=junk, noise='wholly wrong', noise_detail='not a caption')
        while True:
            other = captions(sample_scene(rng, image_size))[template]
            if other not in right:
                return dict(caption=other, noise='wholly wrong', noise_detail='another scene')
    return dict(caption=right[template], noise='clean', noise_detail='')


def write_web_corpus(
    writer: Writer, count: int, noise: tuple[float, float] = (0.3, 0.3), shard_size: int = 250
) -> None:
    """``count`` web images with one labelled alt-text each: ``web/images/``, the
    authors' JSON (``web/web_corpus.json``) and img2dataset-style shards
    (``web/shards/{00000..}.tar``, with ``_stats.json``)."""
    from blip.datasets.corpus_shards import ShardWriter

    entries = []
    shard_writer = None
    for index in range(count):
        if index % shard_size == 0:
            if shard_writer is not None:
                shard_writer.close()
            shard_writer = ShardWriter(writer.root / f'web/shards/{index // shard_size:05d}.tar')
        shapes = sample_scene(writer.rng, writer.image_size)
        buffer = io.BytesIO()
        draw(shapes, writer.image_size, writer.rng).save(buffer, format='JPEG', quality=95)
        name = f'images/web_{index:06d}.jpg'
        (writer.root / 'web' / name).parent.mkdir(parents=True, exist_ok=True)
        (writer.root / 'web' / name).write_bytes(buffer.getvalue())
        alt = web_alt_text(shapes, writer.rng, noise, writer.image_size)
        entries.append(dict(image=name, **alt))
        # img2dataset's keys: shard number and index, 9 digits.
        key = f'{index // shard_size:05d}{index % shard_size:04d}'
        text = dict(text=alt['caption'], source='web', noise=alt['noise'], noise_detail=alt['noise_detail'])
        shard_writer.write(key, buffer.getvalue(), 'jpg', texts=[text], image=name, caption=alt['caption'])
    if shard_writer is not None:
        shard_writer.close()
    writer.write_json('web/web_corpus.json', entries)


def generate(
    root: Path,
    seed: int = 0,
    train: int = 600,
    val: int = 60,
    test: int = 100,
    image_size: int = 96,
    web: int = 0,
    web_noise: tuple[float, float] = (0.3, 0.3),
    web_shard_size: int = 250,
) -> Path:
    """Write the whole benchmark under ``root``; returns ``root``.

    ``web``: images of the noisy web corpus (none by default); ``web_noise``:
    the fractions of its partly and wholly wrong alt-texts; ``web_shard_size``:
    images per shard.

    Raises:
        ValueError: A split without images, images under ``MIN_IMAGE_SIZE``
            pixels, a negative ``web``, web noise fractions outside [0, 1] or
            summing to more than 1, or shards without images.
    """
    for name, count in (('train', train), ('val', val), ('test', test)):
        if count < 1:
            raise ValueError(f'{name} must be at least 1 (images per split), got {count}')
    if image_size < MIN_IMAGE_SIZE:
        raise ValueError(f'image_size must be at least {MIN_IMAGE_SIZE} pixels, got {image_size}')
    if web < 0:
        raise ValueError(f'web must be at least 0 (web images), got {web}')
    if min(web_noise) < 0 or sum(web_noise) > 1:
        raise ValueError(
            f'web_noise must be two fractions of at least 0 summing to at most 1, got {web_noise}'
        )
    if web_shard_size < 1:
        raise ValueError(f'web_shard_size must be at least 1 (images per shard), got {web_shard_size}')
    writer = Writer(Path(root), image_size, seed)
    sizes = {'train': train, 'val': val, 'test': test}
    write_captions_and_vqa(writer, sizes)
    write_nlvr2(writer, sizes)
    write_refcoco(writer, sizes)
    if web:
        write_web_corpus(writer, web, web_noise, web_shard_size)
    return writer.root


def at_least(minimum: int):
    """An argparse type: an integer of at least ``minimum``."""

    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f'not an integer: {text!r}') from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f'must be at least {minimum}, got {value}')
        return value

    return parse


def main(argv=None):
    parser = argparse.ArgumentParser(
        description=__doc__.split('\n')[0], formatter_class=argparse.ArgumentDefaultsHelpFormatter
    )
    parser.add_argument('root', help='output folder, e.g. data/shapes')
    parser.add_argument(
        '--seed', type=int, default=0, help='random seed; the output depends only on it and the sizes'
    )
    parser.add_argument(
        '--train', type=at_least(1), default=600, help='training images (and NLVR pairs) per task'
    )
    parser.add_argument('--val', type=at_least(1), default=60, help='validation images (and pairs) per task')
    parser.add_argument('--test', type=at_least(1), default=100, help='test images (and pairs) per task')
    parser.add_argument(
        '--image-size',
        type=at_least(MIN_IMAGE_SIZE),
        default=96,
        help='width and height of the images in pixels',
    )
    parser.add_argument('--web', type=at_least(0), default=0, help='images of the noisy web corpus (web/)')
    parser.add_argument(
        '--web-noise',
        type=float,
        nargs=2,
        default=(0.3, 0.3),
        metavar=('PARTLY', 'WHOLLY'),
        help='fractions of partly and wholly wrong web alt-texts',
    )
    parser.add_argument('--web-shard-size', type=at_least(1), default=250, help='web images per shard')
    args = parser.parse_args(argv)
    root = generate(
        Path(args.root),
        args.seed,
        args.train,
        args.val,
        args.test,
        args.image_size,
        args.web,
        tuple(args.web_noise),
        args.web_shard_size,
    )
    print(f'shapes benchmark written to {root}')


if __name__ == '__main__':
    main()
