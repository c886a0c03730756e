"""Tests of ``blip.evaluation.CaptionMetric`` (needs Java; about 10 s, mostly METEOR's JVM)."""

import json
import logging
import os
import shutil
import stat
import sys
import uuid
from pathlib import Path

import pytest
from mmengine.evaluator import Evaluator
from mmengine.logging import MMLogger
from mmengine.registry import METRICS as ROOT_METRICS
from mmengine.registry import DefaultScope
from mmpretrain.structures import DataSample

import blip  # noqa: F401  (registers the blip scope)
from blip.evaluation import CaptionMetric, caption_metric, meteor, ptb_tokenizer, spice
from blip.evaluation.java_tools import pycocoevalcap_dir
from blip.evaluation.ptb_tokenizer import corenlp_jar, tokenize
from blip.evaluation.spice import SpiceScorer

pytestmark = pytest.mark.skipif(shutil.which('java') is None, reason='caption metrics need Java')

# Hand-written ground truth (image id -> captions) and predictions, with
# capitals, punctuation, a line break and non-ASCII text.
GROUND_TRUTH = {
    391895: [
        'A man with a red helmet on a small moped on a dirt road.',
        'Man riding a motor bike on a dirt road on the countryside.',
        'A man riding on the back of a motorcycle.',
        'A dirt path with a young person on a motor bike rests to the foreground.',
        'A man in a red shirt and a red hat is on a motorcycle on a hill side.',
    ],
    522418: [
        'A woman wearing a net on her head cutting a cake.',
        'A woman cutting a large white sheet cake.',
        'A woman wearing a hair net cutting a large sheet cake.',
        'there is a woman that is cutting a white cake',
        "A woman marking a cake with the back of a chef's knife.",
    ],
    184613: [
        'A child holding a flowered umbrella and petting a yak.',
        'A young man holding an umbrella next to a herd of cattle.',
        'a young boy barefoot holding an umbrella touching the horn of a cow',
        'A young boy with an umbrella who is touching the horn of a cow.',
        'A boy holding an umbrella while standing next to livestock.',
    ],
    318219: [
        'A young boy standing in front of a computer keyboard.',
        'a little boy wearing headphones and looking at a computer monitor',
        'He is listening intently to the computer at school.',
        'A young boy stares up at the computer monitor.',
        'a young kid with head phones on using a computer',
    ],
    554625: [
        'a boy wearing headphones using one computer in a long row of computers',
        'A little boy with earphones on listening to something.',
        'A group of people sitting at desk using computers.',
        'Children sitting at computer stations on a long table.',
        'A small child wearing headphones plays on the computer.',
    ],
    397133: [
        'A man is in a kitchen making pizzas.',
        'Man in apron standing on front of oven with pans and bakeware',
        'A baker is working in the kitchen rolling dough.',
        'A person standing by a stove in a kitchen.',
        'A table with pies being made and a person standing near a wall with pots and pans hanging on it.',
    ],
}
PREDICTIONS = {
    522418: 'a woman cutting a large white cake with a knife',
    391895: 'A man riding a motorcycle on a dirt road.',
    184613: 'a boy with an umbrella next to a cow',
    318219: 'a little boy in headphones looks at a computer\nscreen',
    554625: 'children using computers at a long table',
    397133: 'a chef making pizzas in a café kitchen',
}
METRIC_NAMES = ['Bleu_1', 'Bleu_2', 'Bleu_3', 'Bleu_4', 'METEOR', 'ROUGE_L', 'CIDEr']


def write_ground_truth(folder: Path) -> Path:
    path = folder / 'captions_gt.json'
    annotations = [
        dict(image_id=image_id, id=10 * n + k, caption=caption)
        for n, (image_id, captions) in enumerate(GROUND_TRUTH.items())
        for k, caption in enumerate(captions)
    ]
    path.write_text(json.dumps(dict(images=[dict(id=i) for i in GROUND_TRUTH], annotations=annotations)))
    return path


def prediction_samples(with_ground_truth: bool = False) -> list[dict]:
    samples = []
    for image_id, caption in PREDICTIONS.items():
        sample = dict(image_id=image_id, pred_caption=caption)
        if with_ground_truth:
            sample['gt_caption'] = GROUND_TRUTH[image_id]
        samples.append(sample)
    return samples


def pycocoevalcap_scores(gt_file: Path, result_file: Path) -> dict:
    """pycocoevalcap's own evaluation (as mmpretrain runs it), SPICE stubbed out."""
    from pycocoevalcap import eval as coco_eval_module
    from pycocotools.coco import COCO

    class NoSpice:
        def compute_score(self, gts, res):
            return 0.0, [0.0] * len(gts)

        def method(self):
            return 'SPICE'

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(coco_eval_module, 'Spice', NoSpice)
        coco = COCO(str(gt_file))
        results = coco.loadRes(str(result_file))
        evaluation = coco_eval_module.COCOEvalCap(coco, results)
        evaluation.params['image_id'] = results.getImgIds()
        evaluation.evaluate()
    return {name: score for name, score in evaluation.eval.items() if name != 'SPICE'}


def package_is_writable() -> bool:
    return os.access(pycocoevalcap_dir() / 'tokenizer', os.W_OK)


@pytest.fixture(scope='module')
def real_evaluation(tmp_path_factory):
    """Score PREDICTIONS with our metric and with pycocoevalcap (one METEOR JVM each, ~5 s)."""
    folder = tmp_path_factory.mktemp('real')
    gt_file = write_ground_truth(folder)
    meteor_starts = []
    real_meteor = caption_metric.MeteorScorer

    def counting_meteor(*args, **kwargs):
        meteor_starts.append(1)
        return real_meteor(*args, **kwargs)

    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(caption_metric, 'MeteorScorer', counting_meteor)
        metric = CaptionMetric(ann_file=str(gt_file), output_dir=str(folder / 'out'))
        metric.process(None, prediction_samples())
        ours = metric.evaluate(len(PREDICTIONS))
    reference = {}
    if package_is_writable():  # pycocoevalcap's tokenizer writes into its package
        (result_file,) = (folder / 'out').glob('caption_predictions_*.json')
        reference = pycocoevalcap_scores(gt_file, result_file)
    return dict(ours=ours, reference=reference, meteor_starts=len(meteor_starts), folder=folder)


class FakeMeteor:
    """Stands in for the METEOR JVM where a test is not about METEOR."""

    def __init__(self, *args, **kwargs):
        pass

    def compute_score(self, gts, res):
        return 0.5, [0.5] * len(gts)

    def close(self):
        pass


@pytest.fixture
def fake_meteor(monkeypatch):
    monkeypatch.setattr(caption_metric, 'MeteorScorer', FakeMeteor)


class Records(logging.Handler):
    def __init__(self):
        super().__init__()
        self.records: list[logging.LogRecord] = []

    def emit(self, record):
        self.records.append(record)

    def messages(self, level: int) -> list[str]:
        return [r.getMessage() for r in self.records if r.levelno == level]


@pytest.fixture
def log(tmp_path):
    """A fresh current MMLogger whose records the test can read."""
    logger = MMLogger.get_instance(f'caption_test_{uuid.uuid4().hex}')
    records = Records()
    logger.addHandler(records)
    yield records
    logger.removeHandler(records)


def test_scores_equal_pycocoevalcap(real_evaluation):
    if not real_evaluation['reference']:
        pytest.skip('pycocoevalcap cannot write into its package folder here')
    ours = real_evaluation['ours']
    assert list(ours) == METRIC_NAMES
    assert ours == real_evaluation['reference']  # exactly: same scorers, same order
    assert all(isinstance(value, float) for value in ours.values())


def test_scores_are_in_mmpretrain_scale(real_evaluation):
    ours = real_evaluation['ours']
    assert 0.5 < ours['Bleu_1'] <= 1 and 0 < ours['METEOR'] < 1
    assert ours['CIDEr'] > 1  # CIDEr is not capped at 1 and not scaled to percent


def test_one_meteor_jvm_per_evaluation(real_evaluation):
    assert real_evaluation['meteor_starts'] == 1


def test_predictions_written_in_coco_results_format(real_evaluation):
    (path,) = (real_evaluation['folder'] / 'out').glob('caption_predictions_*.json')
    assert json.loads(path.read_text()) == [dict(image_id=i, caption=c) for i, c in PREDICTIONS.items()]


def test_ground_truth_from_data_samples(real_evaluation, fake_meteor, tmp_path):
    samples = []
    for sample in prediction_samples(with_ground_truth=True):
        data_sample = DataSample(metainfo=dict(image_id=sample['image_id']))
        data_sample.set_field(sample['pred_caption'], 'pred_caption')
        data_sample.set_field(sample['gt_caption'], 'gt_caption')
        samples.append(data_sample)
    evaluator = Evaluator([CaptionMetric(output_dir=str(tmp_path))])
    evaluator.process(samples[:4])
    evaluator.process(samples[4:])
    metrics = evaluator.evaluate(len(samples))
    expected = {k: v for k, v in real_evaluation['ours'].items() if k != 'METEOR'}
    assert metrics == pytest.approx(dict(expected, METEOR=0.5), rel=1e-12)


def test_missing_spice_warns_once_and_the_rest_report(fake_meteor, tmp_path, log, monkeypatch):
    missing = [tmp_path / 'lib' / 'stanford-corenlp-3.6.0.jar']
    monkeypatch.setattr(caption_metric, 'missing_spice_jars', lambda: missing)
    metric = CaptionMetric(output_dir=str(tmp_path))
    for _ in range(2):
        metric.process(None, prediction_samples(with_ground_truth=True))
        metrics = metric.evaluate(len(PREDICTIONS))
        assert list(metrics) == METRIC_NAMES
    spice_warnings = [m for m in log.messages(logging.WARNING) if 'SPICE' in m]
    assert len(spice_warnings) == 1
    assert 'skipped' in spice_warnings[0] and str(missing[0]) in spice_warnings[0]


def test_spice_reported_when_its_jars_are_present(fake_meteor, tmp_path, monkeypatch):
    class FakeSpice:
        def __init__(self, *args, **kwargs):
            pass

        def compute_score(self, gts, res):
            return 0.25, [0.25] * len(gts)

    monkeypatch.setattr(caption_metric, 'missing_spice_jars', lambda: [])
    monkeypatch.setattr(caption_metric, 'SpiceScorer', FakeSpice)
    metric = CaptionMetric(output_dir=str(tmp_path))
    metric.process(None, prediction_samples(with_ground_truth=True))
    metrics = metric.evaluate(len(PREDICTIONS))
    assert list(metrics) == METRIC_NAMES + ['SPICE'] and metrics['SPICE'] == 0.25


FAKE_SPICE_JAVA = """#!{python}
import json, sys
arguments = sys.argv[1:]
records = json.load(open(arguments[3]))
scores = [dict(image_id=r['image_id'], scores=dict(All=dict(f=0.1 * (n + 1), pr=0, re=0)))
          for n, r in enumerate(records)]
scores[-1]['scores']['All']['f'] = 'NaN' if len(records) > 2 else scores[-1]['scores']['All']['f']
json.dump(scores, open(arguments[arguments.index('-out') + 1], 'w'))
json.dump(arguments, open({log!r}, 'w'))
"""


def test_spice_scorer_keeps_its_files_out_of_the_package(tmp_path):
    java = tmp_path / 'java'
    java.write_text(FAKE_SPICE_JAVA.format(python=sys.executable, log=str(tmp_path / 'arguments.json')))
    java.chmod(0o755)
    jar = tmp_path / 'spice' / 'spice-1.0.jar'
    jar.parent.mkdir()
    scorer = SpiceScorer(jar=jar, java=str(java))
    gts = {7: ['a cat'], 8: ['a dog']}
    score, scores = scorer.compute_score(gts, {7: ['a cat'], 8: ['a dog']})
    assert scores == pytest.approx([0.1, 0.2]) and score == pytest.approx(0.15)
    arguments = json.loads((tmp_path / 'arguments.json').read_text())
    assert arguments[:3] == ['-jar', '-Xmx8G', str(jar)]
    assert '-cache' not in arguments and {'-subset', '-silent'} <= set(arguments)
    assert not Path(arguments[3]).parent.is_relative_to(jar.parent)


def test_failing_scorer_loses_nothing(fake_meteor, tmp_path, log, monkeypatch):
    from pycocoevalcap.cider.cider import Cider

    def broken_cider(self, gts, res):
        # The predictions are on disk before any scorer runs.
        (written,) = tmp_path.glob('caption_predictions_*.json')
        assert len(json.loads(written.read_text())) == len(PREDICTIONS)
        raise RuntimeError('CIDEr exploded')

    monkeypatch.setattr(Cider, 'compute_score', broken_cider)
    metric = CaptionMetric(output_dir=str(tmp_path))
    metric.process(None, prediction_samples(with_ground_truth=True))
    metrics = metric.evaluate(len(PREDICTIONS))
    assert list(metrics) == [name for name in METRIC_NAMES if name != 'CIDEr']
    (error,) = log.messages(logging.ERROR)
    assert 'CIDEr' in error and 'CIDEr exploded' in error and str(tmp_path) in error


def test_tokenizer_failure_keeps_predictions(fake_meteor, tmp_path, log):
    metric = CaptionMetric(output_dir=str(tmp_path), java=str(tmp_path / 'no-java'))
    metric.process(None, prediction_samples(with_ground_truth=True))
    assert metric.evaluate(len(PREDICTIONS)) == {}
    (error,) = log.messages(logging.ERROR)
    assert 'tokenization failed' in error and 'Java' in error
    assert len(list(tmp_path.glob('caption_predictions_*.json'))) == 1


def test_predictions_go_to_the_run_log_folder(fake_meteor, tmp_path, log):
    run_folder = tmp_path / 'work_dir' / '20240101_000000'
    run_folder.mkdir(parents=True)
    MMLogger.get_instance(f'caption_test_run_{uuid.uuid4().hex}', log_file=str(run_folder / 'run.log'))
    metric = CaptionMetric()
    metric.process(None, prediction_samples(with_ground_truth=True))
    metric.evaluate(len(PREDICTIONS))
    metric.process(None, prediction_samples(with_ground_truth=True))
    metric.evaluate(len(PREDICTIONS))
    assert len(list(run_folder.glob('caption_predictions_*.json'))) == 2  # none overwritten


def test_predictions_fall_back_to_a_temporary_folder(fake_meteor, log):
    metric = CaptionMetric()
    metric.process(None, prediction_samples(with_ground_truth=True))
    metric.evaluate(len(PREDICTIONS))
    (warning,) = [m for m in log.messages(logging.WARNING) if 'temporary folder' in m]
    folder = Path(warning.rsplit(' ', 1)[-1])
    assert len(list(folder.glob('caption_predictions_*.json'))) == 1
    shutil.rmtree(folder)


def test_duplicates_and_numeric_string_ids(fake_meteor, tmp_path):
    metric = CaptionMetric(ann_file=str(write_ground_truth(tmp_path)), output_dir=str(tmp_path / 'out'))
    metric.process(None, [dict(image_id='391895', pred_caption='a man on a motorbike')])
    metric.process(None, [dict(image_id=391895, pred_caption='a second prediction')])
    metrics = metric.evaluate(2)
    assert list(metrics) == METRIC_NAMES
    (path,) = (tmp_path / 'out').glob('*.json')
    assert json.loads(path.read_text()) == [dict(image_id=391895, caption='a man on a motorbike')]


def test_prediction_without_ground_truth_is_an_error(fake_meteor, tmp_path):
    metric = CaptionMetric(ann_file=str(write_ground_truth(tmp_path)), output_dir=str(tmp_path))
    metric.process(None, [dict(image_id=1234, pred_caption='a cat')])
    with pytest.raises(ValueError, match='1234') as info:
        metric.evaluate(1)
    assert 'captions_gt.json' in str(info.value) and 'caption_predictions_' in str(info.value)


def test_ground_truth_file_of_the_evaluated_dataset(fake_meteor, tmp_path):
    """Without ann_file, the gt_file in the dataset's metainfo (what the val and
    test loops pass as dataset_meta; COCOCaption joins it with its data_root)."""
    gt_file = str(write_ground_truth(tmp_path))
    expected = CaptionMetric(ann_file=gt_file, output_dir=str(tmp_path / 'a'))
    expected.process(None, prediction_samples())
    metric = CaptionMetric(output_dir=str(tmp_path / 'b'))
    metric.dataset_meta = dict(gt_file=gt_file)
    assert metric.ground_truth_file == gt_file
    metric.process(None, prediction_samples())
    assert metric.evaluate(len(PREDICTIONS)) == expected.evaluate(len(PREDICTIONS))
    # ann_file, when given, wins.
    (tmp_path / 'given').mkdir()
    given = str(write_ground_truth(tmp_path / 'given').rename(tmp_path / 'given.json'))
    explicit = CaptionMetric(ann_file=given)
    explicit.dataset_meta = dict(gt_file=gt_file)
    assert explicit.ground_truth_file == given


@pytest.mark.parametrize('content', [None, '{"images": []}'])
def test_a_missing_or_broken_ground_truth_file_fails_before_inference(content, tmp_path):
    """The loops set dataset_meta when they are built: the file is read then, not after inference."""
    gt_file = tmp_path / 'captions_gt.json'
    if content is not None:
        gt_file.write_text(content)
    metric = CaptionMetric(output_dir=str(tmp_path))
    error = FileNotFoundError if content is None else ValueError
    with pytest.raises(error, match=f'caption ground-truth file.* {gt_file}|{gt_file}.* no .annotations.'):
        metric.dataset_meta = dict(gt_file=str(gt_file))


def test_no_ground_truth_anywhere_only_saves_predictions(fake_meteor, tmp_path, log):
    metric = CaptionMetric(output_dir=str(tmp_path))  # e.g. the NoCaps test split
    metric.process(None, prediction_samples())
    assert metric.evaluate(len(PREDICTIONS)) == {}
    assert any('nothing scored' in m for m in log.messages(logging.WARNING))
    assert len(list(tmp_path.glob('caption_predictions_*.json'))) == 1


def test_sample_without_image_id_is_explained():
    with pytest.raises(KeyError, match="meta_keys=\\['image_id'\\]"):
        CaptionMetric().process(None, [dict(pred_caption='a cat')])


def test_registered_in_blip_scope():
    with DefaultScope.overwrite_default_scope('blip'):
        metric = ROOT_METRICS.build(dict(type='CaptionMetric', ann_file='gt.json'))
    assert type(metric) is CaptionMetric and metric.ann_file == 'gt.json'


TRICKY_CAPTIONS = [
    'A man, riding a horse -- on the beach!',
    'The dog\'s (brown) ball... isn\'t "red"?',
    'Two lines\nin one caption',
    'Café naïve façade — “quoted”',
    '',
    'UPPER case; colons: and `ticks`',
]


@pytest.fixture
def private_package(tmp_path, monkeypatch):
    """pycocoevalcap's files, linked into a folder only this test uses, as the
    package our scorers find: another process running pycocoevalcap's own
    PTBTokenizer meanwhile writes its temporary files next to the real jar."""
    real = pycocoevalcap_dir()
    root = tmp_path / 'pycocoevalcap'
    for path in real.rglob('*'):
        if path.is_file() and '__pycache__' not in path.parts and not path.name.startswith('tmp'):
            link = root / path.relative_to(real)
            link.parent.mkdir(parents=True, exist_ok=True)
            link.symlink_to(path)
    for module in (ptb_tokenizer, meteor, spice):
        monkeypatch.setattr(module, 'pycocoevalcap_dir', lambda: root)
    return root


def snapshot(folder: Path) -> dict:
    return {str(p): p.lstat().st_mtime_ns for p in [folder, *folder.rglob('*')]}


def test_tokenizer_matches_pycocoevalcap_and_writes_nothing_to_its_package(private_package):
    before = snapshot(private_package)
    ours = tokenize(TRICKY_CAPTIONS)
    assert snapshot(private_package) == before
    assert ours[0] == 'a man riding a horse on the beach'
    if package_is_writable():
        from pycocoevalcap.tokenizer.ptbtokenizer import PTBTokenizer

        reference = PTBTokenizer().tokenize({n: [dict(caption=c)] for n, c in enumerate(TRICKY_CAPTIONS)})
        assert ours == [reference[n][0] for n in range(len(TRICKY_CAPTIONS))]


def test_tokenizer_works_from_a_read_only_folder(tmp_path):
    read_only = tmp_path / 'read_only'
    read_only.mkdir()
    jar = Path(shutil.copy(corenlp_jar(), read_only))
    read_only.chmod(stat.S_IRUSR | stat.S_IXUSR)
    try:
        assert tokenize(TRICKY_CAPTIONS[:2], jar=jar) == tokenize(TRICKY_CAPTIONS[:2])
        assert [p.name for p in read_only.iterdir()] == [jar.name]
    finally:
        read_only.chmod(stat.S_IRWXU)


def test_metric_writes_nothing_to_the_pycocoevalcap_package(fake_meteor, private_package, tmp_path):
    before = snapshot(private_package)
    metric = CaptionMetric(output_dir=str(tmp_path))
    metric.process(None, prediction_samples(with_ground_truth=True))
    assert list(metric.evaluate(len(PREDICTIONS))) == METRIC_NAMES
    assert snapshot(private_package) == before
