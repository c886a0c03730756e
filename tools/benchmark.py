"""Captioning and VQA speed against Hugging Face transformers' BLIP on identical weights.

    python tools/benchmark.py --repeats 5              # CPU, all cores, batch 1 and 8 (the README)
    python tools/benchmark.py --threads 1 --repeats 3  # one core per side
    python tools/benchmark.py --repeats 5 --busy 2     # with another 2-thread job running
    python tools/benchmark.py --device cuda --low-precision bfloat16 float16

Each task builds BLIP-base at full size (ViT-B/16, BERT-base) twice, as
transformers' model (``BlipForConditionalGeneration`` for captions,
``BlipForQuestionAnswering`` for VQA) and as ours, with the same deterministic
random weights: every weight N(0, 0.02), LayerNorms at identity, and the
end-of-sequence logit raised by ``--eos-bias`` so that captions end at lengths
that differ between images (with plain random weights no beam ever ends before
``max_length``). Transformers' weights go into ours through our converter
(``hf_blip_to_blip``). Both run on the same random images, and the same
questions. Ours runs as the inferencers run it: at float32 on CPU with the
inference-only oneDNN modules swapped in once (``blip.models.cpu_inference.optimize``),
a step of model loading that is not timed, as transformers' model building is
not; a lower precision runs the plain model under autocast.

Decoding, the same numbers on both sides (both count the prompt tokens):

* captions: prompt ``[DEC] a picture of`` (4 tokens; transformers gets the
  processor's ``[CLS] a picture of [SEP]``, whose ``[CLS]`` its ``generate``
  replaces by ``[DEC]`` and whose ``[SEP]`` it drops); beam search with 3 beams,
  ``max_length=20`` (at most 16 new tokens), ``min_length=5`` (no end token
  before the first new word);
* VQA: answers start at ``[DEC]``; 3 beams, ``max_length=10``, ``min_length=1``
  (our VQA config). Images are 480 px as in BLIP's VQA. Questions are fed with
  ``[ENC]`` first on both sides (as our model encodes them) and all have the
  same token length, because transformers' ``generate`` attends to question
  padding and ours does not.
* the same beam-search stopping rule: since transformers 4.50 an input's
  search ends when its best *running* beam cannot beat its finished ones;
  4.38, which produced BLIP's published captions and is our default, weighed
  the best candidate, end tokens included, and may search on and find a
  better caption. Our model runs with ``beam_stop='best_running'`` against
  transformers >= 4.50 (``'best_candidate'`` against older versions), so both
  do the same search.

Each side runs in its own process (so that peak memory is its own), with the
same ``torch.set_num_threads``; each side has one untimed warm-up run at the
smallest batch size, then the runs alternate between the sides (A B B A A B
...) and the report gives the median time of ``--repeats`` timed runs per side
and the speed-up as the median of the ratios of the paired runs (each pair
saw the same load on a busy machine). On a machine shared with other
jobs prefer ``--threads 1``: with more threads every operation waits for all of
them, and one taken by another process stalls it. Peak memory is the peak
during a run above the memory held before it: on CPU the resident set
(``VmHWM`` reset through ``/proc/self/clear_refs``, after ``malloc_trim``
returned the memory glibc kept from earlier frees), on GPU
``torch.cuda.max_memory_allocated``. The script checks that both sides give
the same captions (token sequences up to the end token: transformers pads
finished beams with it) and answers, and with ``--low-precision`` reports our
model at lower precision against its float32 outputs: speed-up, identical
captions and CIDEr (pycocoevalcap's CIDEr-D on the lower-cased captions,
float32 captions as references), on the random model and on the trained tiny
shapes captioner of ``checkpoints/`` (random weights give nearly flat
next-token distributions, where rounding flips choices far more often than in
a trained model).

For each batch size it also splits both sides' time at the image tower
(hooks on transformers' ``vision_model`` and our ``image_encoder``; the rest is
decoding) and prints a floor under our time on this machine: the faster of
the two image towers plus, for every decoding step, one read of the weights
the step multiplies by (the decoder's linear layers but the cross-attention's
keys and values, computed once per image), timed as the fastest of five sums
over that many float32 values. On the machine at hand, no float32
implementation whose image tower is no faster than the faster of the two,
and which reads a step's weights from memory at every step, can beat the
speed-up it prints; it leaves out the products' arithmetic, which weighs more
at larger batches (there the true bound is lower).

The last line reads ``caption speedup vs transformers: X.XXx (identical
captions N/N)``, where the speed-up is the lowest over the batch sizes.
"""

import argparse
import contextlib
import ctypes
import functools
import multiprocessing
import os
import platform
import statistics
import time
from dataclasses import dataclass, field
from pathlib import Path

import torch

import _common  # noqa: F401  (makes `blip` importable from a clone)

REPO_ROOT = Path(__file__).resolve().parents[1]
EOS, PAD = 102, 0
PROMPT = 'a picture of '
QUESTIONS = (
    'what is the man holding',
    'what color is the bus',
    'how many dogs are there',
    'where is the cat sitting',
    'what is on the table',
    'is the woman wearing glasses',
    'what sport is being played',
    'why is the road wet',
)
WEIGHT_STD = 0.02
#: Tower sizes: 'base' is BLIP-base; 'tiny' checks that the script runs.
SIZES = {
    'base': dict(dims=768, layers=12, heads=12, ffn=3072, caption_image=384, vqa_image=480),
    'tiny': dict(dims=32, layers=2, heads=2, ffn=64, caption_image=64, vqa_image=64),
}


@dataclass(frozen=True)
class Task:
    name: str
    hf_class: str
    config: str
    num_beams: int
    max_length: int
    min_length: int
    unit: str


TASKS = {
    'caption': Task('caption', 'BlipForConditionalGeneration', 'blip-base_caption.py', 3, 20, 5, 'captions'),
    'vqa': Task('vqa', 'BlipForQuestionAnswering', 'blip-base_vqa.py', 3, 10, 1, 'answers'),
}


def parse_args(argv=None):
    parser = argparse.ArgumentParser(
        description="BLIP captioning and VQA speed against transformers' BLIP, same weights"
    )
    parser.add_argument('--device', default='cpu', help='cpu or cuda (cuda:N)')
    parser.add_argument('--batch-sizes', type=int, nargs='+', default=[1, 8])
    parser.add_argument('--repeats', type=int, default=1, help='timed runs per side and batch size')
    parser.add_argument(
        '--dtype',
        default='float32',
        choices=['float32', 'bfloat16', 'float16'],
        help='precision of both sides in the comparison (lower ones by autocast)',
    )
    parser.add_argument(
        '--low-precision',
        nargs='*',
        default=['bfloat16'],
        choices=['bfloat16', 'float16'],
        help='also run our model at these precisions against its float32 outputs (none: skip)',
    )
    parser.add_argument(
        '--tasks', nargs='+', default=['vqa', 'caption'], choices=sorted(TASKS), help='caption runs last'
    )
    parser.add_argument(
        '--threads',
        type=int,
        default=None,
        help='torch.set_num_threads on both sides (default: torch default)',
    )
    parser.add_argument(
        '--busy',
        type=int,
        default=0,
        metavar='THREADS',
        help='keep another job running the whole time: a process multiplying 2048 x 2048 matrices '
        'with this many threads (a machine shared with other work)',
    )
    parser.add_argument('--eos-bias', type=float, default=1.0, help='added to the end-token logit bias')
    parser.add_argument('--size', choices=sorted(SIZES), default='base', help=argparse.SUPPRESS)
    parser.add_argument('--seed', type=int, default=0)
    args = parser.parse_args(argv)
    if min(args.batch_sizes) < 1 or args.repeats < 1:
        parser.error('batch sizes and --repeats must be positive')
    args.tasks = sorted(set(args.tasks), key=lambda t: t == 'caption')
    return args


# --------------------------------------------------------------------------- models


def hf_config(task: Task, size: str):
    from transformers import BlipConfig

    spec = SIZES[size]
    image_size = spec['vqa_image' if task.name == 'vqa' else 'caption_image']
    common = dict(
        hidden_size=spec['dims'],
        num_hidden_layers=spec['layers'],
        num_attention_heads=spec['heads'],
        intermediate_size=spec['ffn'],
    )
    return BlipConfig(
        # Our ViT, like mmpretrain's and BLIP's, uses LayerNorm eps 1e-6.
        vision_config=dict(common, image_size=image_size, patch_size=16, layer_norm_eps=1e-6),
        text_config=dict(
            common,
            vocab_size=30524,
            encoder_hidden_size=spec['dims'],
            bos_token_id=30522,
            eos_token_id=EOS,
            sep_token_id=EOS,
            pad_token_id=PAD,
            layer_norm_eps=1e-12,
        ),
    )


def _is_norm(name: str) -> bool:
    return any(norm in name for norm in ('LayerNorm', 'layer_norm', 'layernorm'))


def random_weights(named_shapes, seed: int, eos_bias: float) -> dict[str, torch.Tensor]:
    """Deterministic weights for transformers' parameter names, in their order."""
    generator = torch.Generator().manual_seed(seed)
    weights = {}
    for name, shape in named_shapes:
        if _is_norm(name):
            weights[name] = torch.ones(shape) if name.endswith('weight') else torch.zeros(shape)
        else:
            weights[name] = torch.randn(shape, generator=generator) * WEIGHT_STD
    weights['text_decoder.cls.predictions.bias'][EOS] += eos_bias
    return weights


def build_hf(task: Task, size: str, seed: int, eos_bias: float):
    import transformers

    transformers.logging.set_verbosity_error()
    model = getattr(transformers, task.hf_class)(hf_config(task, size)).eval()
    shapes = [(name, p.shape) for name, p in model.named_parameters()]
    weights = random_weights(shapes, seed, eos_bias)
    with torch.no_grad():
        for name, param in model.named_parameters():
            param.copy_(weights.pop(name))
    return model


def build_ours(task: Task, size: str, seed: int, eos_bias: float):
    """Our model with transformers' random weights, converted by ``hf_blip_to_blip``."""
    import transformers
    from mmengine.config import Config
    from mmengine.registry import DefaultScope

    from blip.converters import hf_blip_to_blip
    from blip.registry import MODELS

    with torch.device('meta'):
        skeleton = getattr(transformers, task.hf_class)(hf_config(task, size))
    shapes = [(name, p.shape) for name, p in skeleton.named_parameters()]
    weights = hf_blip_to_blip(random_weights(shapes, seed, eos_bias), task=task.name)

    config = Config.fromfile(str(REPO_ROOT / 'configs/blip/_base_/models' / task.config)).model
    spec = SIZES[size]
    arch = dict(
        embed_dims=spec['dims'],
        num_layers=spec['layers'],
        num_heads=spec['heads'],
        feedforward_channels=spec['ffn'],
    )
    med = dict(
        hidden_size=spec['dims'],
        num_hidden_layers=spec['layers'],
        num_attention_heads=spec['heads'],
        intermediate_size=spec['ffn'],
        encoder_width=spec['dims'],
    )
    generation = dict(
        strategy='beam',
        num_beams=task.num_beams,
        max_length=task.max_length,
        min_length=task.min_length,
        beam_stop=transformers_beam_stop(),
    )
    config.head.decoder.config.update(med)
    config.update(generation_cfg=generation)
    if task.name == 'caption':
        config.image_encoder.update(arch=arch, img_size=spec['caption_image'])
        config.update(prompt=PROMPT)
    else:
        config.image_encoder.update(arch=arch, img_size=spec['vqa_image'])
        config.text_encoder.config.update(med)
        config.head.update(inference_method='generate')
    with DefaultScope.overwrite_default_scope('blip'):
        model = MODELS.build(config.to_dict()).eval()
    model.load_state_dict(weights, strict=True)
    return model


def transformers_beam_stop() -> str:
    """Our ``beam_stop`` that does what the installed transformers' beam search does."""
    import transformers

    major, minor = (int(part) for part in transformers.__version__.split('.')[:2])
    return 'best_running' if (major, minor) >= (4, 50) else 'best_candidate'


def images_for(task: Task, size: str, batch: int, seed: int) -> torch.Tensor:
    spec = SIZES[size]
    image_size = spec['vqa_image' if task.name == 'vqa' else 'caption_image']
    generator = torch.Generator().manual_seed(seed + 1)
    return torch.randn(batch, 3, image_size, image_size, generator=generator)


def questions_for(batch: int) -> list[str]:
    return [QUESTIONS[i % len(QUESTIONS)] for i in range(batch)]


# --------------------------------------------------------------------------- worker processes


def _rss_mb(field_name: str) -> float:
    with open('/proc/self/status') as status:
        for line in status:
            if line.startswith(field_name + ':'):
                return int(line.split()[1]) / 1024
    raise RuntimeError(f'{field_name} not in /proc/self/status')


def _release_free_memory() -> None:
    """Return the memory glibc's allocator keeps after frees to the system (no-op elsewhere)."""
    with contextlib.suppress(OSError, AttributeError):
        ctypes.CDLL('libc.so.6').malloc_trim(0)


class MemoryMeter:
    """Peak memory of one run above the memory held before it (MB), and the absolute peak.

    On CPU the allocator first returns the memory it keeps from earlier frees
    (model building, earlier runs) to the system: the run's resident peak then
    counts what the run itself holds at once.
    """

    def __init__(self, device: torch.device):
        self.device = device

    def start(self) -> None:
        if self.device.type == 'cuda':
            torch.cuda.synchronize(self.device)
            torch.cuda.reset_peak_memory_stats(self.device)
            self.before = torch.cuda.memory_allocated(self.device) / 2**20
        else:
            _release_free_memory()
            with open('/proc/self/clear_refs', 'w') as clear_refs:
                clear_refs.write('5')  # resets VmHWM to the current resident set
            self.before = _rss_mb('VmRSS')

    def stop(self) -> tuple[float, float]:
        if self.device.type == 'cuda':
            peak = torch.cuda.max_memory_allocated(self.device) / 2**20
        else:
            peak = _rss_mb('VmHWM')
        return peak - self.before, peak


class ModuleClock:
    """Seconds spent in a module's forward and its number of calls, by hooks."""

    def __init__(self, module: torch.nn.Module, device: torch.device):
        self.sync = (lambda: torch.cuda.synchronize(device)) if device.type == 'cuda' else (lambda: None)
        self.reset()
        module.register_forward_pre_hook(self._enter)
        module.register_forward_hook(self._leave)

    def reset(self) -> None:
        self.seconds, self.calls = 0.0, 0

    def _enter(self, module, args) -> None:
        self.sync()
        self._start = time.perf_counter()

    def _leave(self, module, args, output) -> None:
        self.sync()
        self.seconds += time.perf_counter() - self._start
        self.calls += 1


def step_weight_bytes(decoder: torch.nn.Module) -> int:
    """Bytes of the weights every decoding step multiplies by: all the decoder's
    linear layers but the cross-attention's keys and values (computed once per image)."""
    return sum(
        module.weight.nbytes
        for name, module in decoder.named_modules()
        if isinstance(module, torch.nn.Linear)
        and not name.endswith(('crossattention.self.key', 'crossattention.self.value'))
    )


@functools.cache
def read_seconds(num_bytes: int, device: torch.device, tries: int = 5) -> float:
    """The fastest of ``tries`` sums over ``num_bytes`` of float32 values: reading them once
    (measured once per worker: each precision's model has the same decoder)."""
    values = torch.ones(num_bytes // 4, device=device)
    times = []
    for _ in range(tries + 1):  # the first one warms up
        start = time.perf_counter()
        values.sum().item()
        times.append(time.perf_counter() - start)
    return min(times[1:])


def _worker(side: str, task_name: str, args: argparse.Namespace, conn) -> None:
    """One side of the comparison: builds its model, then runs batches on request."""
    if args.threads:
        torch.set_num_threads(args.threads)
    import blip  # noqa: F401

    task = TASKS[task_name]
    device = torch.device(args.device)
    from blip.models.cpu_inference import optimize

    def build(precision: str):
        """The model, clocks on its image tower and decoder steps, and our decoding floor."""
        if side == 'transformers':
            model = build_hf(task, args.size, args.seed, args.eos_bias).to(device)
            return (
                model,
                ModuleClock(model.vision_model, device),
                ModuleClock(model.text_decoder.cls, device),
                None,
            )
        model = build_ours(task, args.size, args.seed, args.eos_bias).to(device)
        model.precision = precision
        step_bytes = step_weight_bytes(model.head.decoder)
        floor = (step_bytes, read_seconds(step_bytes, device))
        # As the inferencers run it: optimized on CPU at float32 (a no-op on a GPU).
        if precision == 'float32':
            optimize(model)
        return (
            model,
            ModuleClock(model.image_encoder, device),
            ModuleClock(model.head.decoder.cls, device),
            floor,
        )

    models = {}  # per precision, built on first use (not timed)
    tokenizer = None
    if side == 'transformers':
        from blip.models import BlipTokenizer

        tokenizer = BlipTokenizer('bert-base-uncased')
    meter = MemoryMeter(device)
    conn.send('ready')
    while True:
        request = conn.recv()
        if request is None:
            return
        batch, precision = request
        key = 'float32' if side == 'transformers' else precision
        if key not in models:
            models[key] = build(key)
        model, tower, steps, floor = models[key]
        images = images_for(task, args.size, batch, args.seed).to(device)
        questions = questions_for(batch)
        run = _hf_run if side == 'transformers' else _our_run
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        meter.start()
        tower.reset()
        steps.reset()
        start = time.perf_counter()
        outputs = run(model, task, images, questions, precision, tokenizer)
        if device.type == 'cuda':
            torch.cuda.synchronize(device)
        seconds = time.perf_counter() - start
        memory = meter.stop()
        conn.send((seconds, outputs, memory, tower.seconds, steps.calls, floor))


def _hf_run(model, task, images, questions, precision, tokenizer):
    from blip.models.precision import inference_precision

    kwargs = dict(num_beams=task.num_beams, max_length=task.max_length, min_length=task.min_length)
    with torch.no_grad(), inference_precision(precision, images.device):
        if task.name == 'caption':
            prompt = tokenizer(PROMPT, return_tensors='pt').input_ids.to(images.device)  # [CLS] prompt [SEP]
            sequences = model.generate(images, input_ids=prompt.repeat(len(images), 1), **kwargs)
        else:
            tokens = tokenizer(questions, padding='longest', return_tensors='pt').to(images.device)
            tokens.input_ids[:, 0] = tokenizer.enc_token_id
            sequences = model.generate(
                input_ids=tokens.input_ids,
                pixel_values=images,
                attention_mask=tokens.attention_mask,
                **kwargs,
            )
    return sequences.cpu().tolist()


def _our_run(model, task, images, questions, precision, tokenizer):
    from mmpretrain.structures import DataSample

    with torch.no_grad(), model.inference_precision(images.device):
        if task.name == 'caption':
            sequences, _ = model.generate(images)
            return sequences.cpu().tolist()
        samples = model.predict(images, [DataSample(question=q) for q in questions])
    return [sample.pred_answer for sample in samples]


class Side:
    """A worker process running one side."""

    def __init__(self, context, side: str, task: Task, args: argparse.Namespace):
        self.name = side
        self.conn, child = context.Pipe()
        self.process = context.Process(target=_worker, args=(side, task.name, args, child), daemon=True)
        self.process.start()

    def wait_ready(self) -> None:
        if self.conn.recv() != 'ready':
            raise RuntimeError(f'{self.name} worker failed to start')

    def run(self, batch: int, precision: str):
        self.conn.send((batch, precision))
        return self.conn.recv()

    def close(self) -> None:
        with contextlib.suppress(OSError):
            self.conn.send(None)
        self.process.join(timeout=60)


# --------------------------------------------------------------------------- measurement


@dataclass
class Runs:
    seconds: list[float] = field(default_factory=list)
    outputs: list = field(default_factory=list)
    memory: list[tuple[float, float]] = field(default_factory=list)
    tower_seconds: list[float] = field(default_factory=list)
    steps: int = 0
    #: Ours: (bytes of weights every decoding step reads, seconds to read them once).
    floor: tuple[int, float] | None = None

    def add(self, result) -> None:
        seconds, outputs, memory, tower_seconds, self.steps, self.floor = result
        self.seconds.append(seconds)
        self.outputs = outputs
        self.memory.append(memory)
        self.tower_seconds.append(tower_seconds)

    @property
    def tower_median(self) -> float:
        return statistics.median(self.tower_seconds)

    @property
    def median(self) -> float:
        return statistics.median(self.seconds)

    @property
    def peak(self) -> tuple[float, float]:
        return max(m[0] for m in self.memory), max(m[1] for m in self.memory)


def until_eos(sequences: list[list[int]]) -> list[tuple[int, ...]]:
    return [tuple(row[: row.index(EOS) + 1] if EOS in row else row) for row in sequences]


def measure(task: Task, args: argparse.Namespace) -> dict:
    """Run both sides (and our lower precisions) on every batch size; timings, outputs, memory."""
    context = multiprocessing.get_context('spawn')
    sides = [Side(context, name, task, args) for name in ('transformers', 'blip')]
    runs: dict[tuple[str, str, int], Runs] = {}
    try:
        for side in sides:
            side.wait_ready()
        precisions = [args.dtype] + [p for p in args.low_precision if p != args.dtype]
        plan = [(side, args.dtype) for side in sides] + [(sides[1], p) for p in precisions[1:]]
        for side, precision in plan:  # warm-up
            side.run(min(args.batch_sizes), precision)
        for batch in args.batch_sizes:
            for repeat in range(args.repeats):
                order = plan if repeat % 2 == 0 else plan[::-1]
                for side, precision in order:
                    key = (side.name, precision, batch)
                    runs.setdefault(key, Runs()).add(side.run(batch, precision))
    finally:
        for side in sides:
            side.close()
    return runs


def decoded(task: Task, outputs, tokenizer) -> list[str]:
    """Texts of a run's outputs: our VQA gives answers, the rest token ids."""
    if outputs and isinstance(outputs[0], str):
        return list(outputs)
    texts = tokenizer.batch_decode(outputs, skip_special_tokens=True)
    # The caption prompt is stripped by characters, as our model does.
    return [text[len(PROMPT) :] for text in texts] if task.name == 'caption' else texts


def cider(candidates: list[str], references: list[str]) -> float:
    """CIDEr-D of ``candidates`` with one reference each (pycocoevalcap, no PTB tokenizer)."""
    from pycocoevalcap.cider.cider import Cider

    gts = {i: [ref.lower()] for i, ref in enumerate(references)}
    res = {i: [cand.lower()] for i, cand in enumerate(candidates)}
    return float(Cider().compute_score(gts, res)[0])


def machine(device: torch.device) -> str:
    if device.type == 'cuda':
        return torch.cuda.get_device_name(device)
    name = platform.processor() or platform.machine()
    with contextlib.suppress(OSError), open('/proc/cpuinfo') as cpuinfo:
        for line in cpuinfo:
            if line.startswith('model name'):
                name = line.split(':', 1)[1].strip()
                break
    return f'{name}, {os.cpu_count()} cores'


def _mb(value: float) -> str:
    return f'{value:,.0f} MB'


def report(task: Task, args: argparse.Namespace, runs: dict, tokenizer) -> tuple[float, int, int]:
    """Print one task's table; return (lowest speed-up, identical outputs, outputs compared)."""
    device = torch.device(args.device)
    memory_kind = 'GPU memory allocated' if device.type == 'cuda' else 'resident memory'
    print(
        f'\n{task.name}: beam {task.num_beams}, max_length {task.max_length}, '
        f'min_length {task.min_length} (lengths count the prompt tokens), {args.dtype}'
    )
    print(
        f'{"batch":>5}  {"side":<12} {"images/s":>9} {"median s":>9}  runs  peak {memory_kind} (above model)'
    )
    speedups, identical, compared = [], 0, 0
    for batch in args.batch_sizes:
        theirs, ours = runs[('transformers', args.dtype, batch)], runs[('blip', args.dtype, batch)]
        for name, side in (('transformers', theirs), ('blip', ours)):
            above, peak = side.peak
            rate, count, memory = batch / side.median, len(side.seconds), f'{_mb(peak)} ({_mb(above)})'
            print(f'{batch:>5}  {name:<12} {rate:>9.3f} {side.median:>9.2f}  {count:>4}  {memory}')
        if task.name == 'caption':
            same = [a == b for a, b in zip(until_eos(theirs.outputs), until_eos(ours.outputs))]
        else:
            same = [a == b for a, b in zip(decoded(task, theirs.outputs, tokenizer), ours.outputs)]
        identical += sum(same)
        compared += len(same)
        # Runs alternate between the sides: the ratio of each pair of neighbouring
        # runs saw the same load; their median is robust to a load that changes.
        speedups.append(statistics.median(t / o for t, o in zip(theirs.seconds, ours.seconds)))
        print(
            f'{batch:>5}  speed-up {speedups[-1]:.2f}x, identical {task.unit} {sum(same)}/{len(same)}, '
            f"peak memory above the model {ours.peak[0] / max(theirs.peak[0], 1e-9):.2f}x transformers'"
        )
        _report_split(batch, theirs, ours)
    first = min(args.batch_sizes)
    theirs_text = decoded(task, runs[('transformers', args.dtype, first)].outputs, tokenizer)
    ours_text = decoded(task, runs[('blip', args.dtype, first)].outputs, tokenizer)
    for i, (a, b) in enumerate(zip(theirs_text, ours_text)):
        if i < 2 or a != b:
            print(f'  {task.unit[:-1]} {i} (batch {first}): transformers {a!r} | blip {b!r}')
    for precision in args.low_precision:
        if precision == args.dtype:
            continue
        _report_low_precision(task, args, runs, tokenizer, precision)
    return min(speedups), identical, compared


def _report_split(batch: int, theirs: Runs, ours: Runs) -> None:
    """Each side's time in its image tower and in the rest (decoding), and the least
    time our decoding could take: every step reads the decoder's weights once."""
    rest_theirs, rest_ours = theirs.median - theirs.tower_median, ours.median - ours.tower_median
    print(
        f'{batch:>5}  image tower: transformers {theirs.tower_median:.2f} s, ours {ours.tower_median:.2f} s; '
        f'the rest (decoding): transformers {rest_theirs:.2f} s, ours {rest_ours:.2f} s '
        f'({rest_theirs / max(rest_ours, 1e-9):.2f}x)'
    )
    step_bytes, read = ours.floor
    floor = min(theirs.tower_median, ours.tower_median) + ours.steps * read
    rate = f'{1e3 * read:.1f} ms, {step_bytes / read / 1e9:.1f} GB/s measured'
    print(
        f'{batch:>5}  floor: the faster image tower and {ours.steps} steps that each read the '
        f"decoder's {step_bytes / 2**20:,.0f} MB once ({rate}): {floor:.2f} s, "
        f'a speed-up of at most {theirs.median / floor:.2f}x here'
    )


def _report_low_precision(task, args, runs, tokenizer, precision) -> None:
    for batch in args.batch_sizes:
        reference, low = runs[('blip', args.dtype, batch)], runs[('blip', precision, batch)]
        theirs = runs[('transformers', args.dtype, batch)]
        ref_text, low_text = (
            decoded(task, reference.outputs, tokenizer),
            decoded(task, low.outputs, tokenizer),
        )
        same = sum(a == b for a, b in zip(ref_text, low_text))
        print(
            f'{batch:>5}  blip {precision}: {batch / low.median:.3f} images/s, '
            f'{reference.median / low.median:.2f}x {args.dtype}, '
            f'{theirs.median / low.median:.2f}x transformers {args.dtype}; '
            f'identical {task.unit} {same}/{len(ref_text)} ({100 * same / len(ref_text):.0f}%); '
            f'peak {_mb(low.peak[1])} ({_mb(low.peak[0])})'
        )
    if task.name == 'caption':
        # CIDEr's document frequencies need a corpus: the largest batch.
        batch = max(args.batch_sizes)
        references = decoded(task, runs[('blip', args.dtype, batch)].outputs, tokenizer)
        candidates = decoded(task, runs[('blip', precision, batch)].outputs, tokenizer)
        # Too few distinct captions leave no n-gram informative (zero document weight).
        score = f'{cider(candidates, references):.3f}' if len(set(references)) >= 4 else 'n/a'
        print(
            f'       CIDEr-D of the {precision} captions against the {args.dtype} ones '
            f'(batch {batch}, 10 = all identical): {score}'
        )


def trained_model_agreement(args: argparse.Namespace, tokenizer, num_images: int = 200) -> None:
    """Lower-precision captions of a trained model against its float32 ones.

    Random weights give nearly flat next-token distributions, where rounding
    flips choices easily; a trained model's are peaked. The trained model at
    hand is the tiny shapes captioner shipped in ``checkpoints/``, run on
    scenes drawn by ``tools/generate_shapes.py``.
    """
    import numpy as np

    from blip import get_model
    from blip.apis import build_inferencer
    from blip.cli.generate_shapes import draw, sample_scene

    try:
        model = get_model('blip-tiny_shapes_caption', pretrained=True, device=args.device)
    except (OSError, RuntimeError, ValueError) as error:
        print(f'trained-model agreement skipped: {error}')
        return
    rng = np.random.RandomState(args.seed)
    images = [draw(sample_scene(rng, 96), 96, rng) for _ in range(num_images)]
    inferencer = build_inferencer(model)
    captions = {}
    for precision in [args.dtype, *args.low_precision]:
        model.precision = precision
        captions[precision] = [r['pred_caption'] for r in inferencer(images, batch_size=50)]
    for precision in args.low_precision:
        if precision == args.dtype:
            continue
        same = sum(a == b for a, b in zip(captions[args.dtype], captions[precision]))
        print(
            f'trained model (blip-tiny_shapes_caption, {num_images} shapes scenes), {precision} against '
            f'{args.dtype}: identical captions {same}/{num_images} ({100 * same / num_images:.1f}%), '
            f'CIDEr-D {cider(captions[precision], captions[args.dtype]):.3f}'
        )


def _busy_loop(threads: int, stop) -> None:
    """Another job on the machine: large matrix products until ``stop`` is set."""
    torch.set_num_threads(threads)
    a = torch.randn(2048, 2048)
    while not stop.is_set():
        a = torch.tanh(a @ a)


def main(argv=None) -> dict:
    args = parse_args(argv)
    threads_before = torch.get_num_threads()
    if args.threads:
        torch.set_num_threads(args.threads)
    busy = stop = None
    if args.busy:
        context = multiprocessing.get_context('spawn')
        stop = context.Event()
        busy = context.Process(target=_busy_loop, args=(args.busy, stop), daemon=True)
        busy.start()
    try:
        return _main(args)
    finally:
        torch.set_num_threads(threads_before)
        if busy is not None:
            stop.set()
            busy.join(timeout=30)


def _main(args: argparse.Namespace) -> dict:
    device = torch.device(args.device)
    threads = args.threads or torch.get_num_threads()
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(
        f'device: {device} ({machine(device)}), {threads} thread(s) per side, torch {torch.__version__}, '
        f'load average {load:.2f} at start, repeats {args.repeats}, size {args.size}'
        + (f', another job busy with {args.busy} thread(s)' if args.busy else '')
    )
    from blip.models import BlipTokenizer

    tokenizer = BlipTokenizer('bert-base-uncased')
    question_lengths = {len(ids) for ids in tokenizer(list(QUESTIONS)).input_ids}
    assert len(question_lengths) == 1, 'benchmark questions must have one token length'

    results = {}
    for name in args.tasks:
        task = TASKS[name]
        runs = measure(task, args)
        results[name] = report(task, args, runs, tokenizer)
        if name == 'caption' and args.low_precision:
            trained_model_agreement(args, tokenizer)
    load = os.getloadavg()[0] if hasattr(os, 'getloadavg') else float('nan')
    print(f'\nload average {load:.2f} at the end')
    for name in args.tasks:
        speedup, identical, compared = results[name]
        unit = TASKS[name].unit
        print(f'{name} speedup vs transformers: {speedup:.2f}x (identical {unit} {identical}/{compared})')
    return results


if __name__ == '__main__':
    main()
