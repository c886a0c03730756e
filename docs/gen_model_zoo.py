"""Write the model-zoo pages of the documentation from ``metafile.yml``.

    python docs/gen_model_zoo.py [--metafile metafile.yml] [--out docs/model_zoo]

``docs/conf.py`` runs this on every build, so the pages always show what the
metafile says: one overview table of every model and one page per task. Every
number comes from the metafile. Markers, as in the seed table and mmpretrain's
model zoo:

* ``*`` the weights were converted from another release (``Converted From``);
* ``#`` the results are zero-shot (``Metadata: Zero-shot: true``);
* results of weights that are a file in this repository (``Weights:`` a
  relative path, not a URL), or of an entry with ``Metadata: Measured Locally:
  true``, were measured with this repository's code and are labelled
  *measured locally*.
"""

import argparse
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import yaml

REPO = Path(__file__).resolve().parents[1]

#: Model class (the config's ``model.type``) -> (page file stem, page title, short label), in page order.
TASK_PAGES: dict[str, tuple[str, str, str]] = {
    'BlipCaption': ('caption', 'Image captioning', 'Captioning'),
    'BlipVQA': ('vqa', 'Visual question answering', 'VQA'),
    'BlipRetrieval': ('retrieval', 'Image-text retrieval', 'Retrieval'),
    'BlipNLVR': ('nlvr', 'Natural language visual reasoning (NLVR2)', 'NLVR'),
    'BlipGrounding': ('grounding', 'Visual grounding', 'Grounding'),
    'BlipFeatureExtractor': ('feature', 'Pre-trained models (features)', 'Features'),
    'BlipPretrain': ('pretrain', 'Pre-training', 'Pre-training'),
}

LEGEND = (
    '`*` weights converted from another release (see *Converted from* on the task page); '
    '`#` zero-shot: evaluated on a dataset the weights were not fine-tuned on; '
    '*measured locally*: weights in this repository, results measured with its code. '
    'Other results are those published with the weights (`metafile.yml` names the source).'
)


class MetafileError(ValueError):
    """``metafile.yml`` lacks something the pages need."""


@dataclass(frozen=True)
class Result:
    """One ``Results`` entry: a task, a dataset and its metrics."""

    task: str
    dataset: str
    metrics: dict[str, float | str]


@dataclass
class ZooEntry:
    """One ``Models`` entry of the metafile, as the pages show it."""

    name: str
    config: str
    weights: str | None
    parameters: int | None
    training_data: list[str]
    zero_shot: bool
    converted_from: dict | None
    results: list[Result]
    marked_measured_locally: bool = False
    model_type: str = ''

    @property
    def is_local(self) -> bool:
        """Whether the weights are a file in this repository."""
        return bool(self.weights) and not self.weights.startswith(('http://', 'https://'))

    @property
    def measured_locally(self) -> bool:
        """Whether the results were measured here: local weights, or ``Measured Locally: true``."""
        return self.is_local or self.marked_measured_locally

    @property
    def marked_name(self) -> str:
        """The name with ``*`` (converted) and ``#`` (zero-shot) as Markdown text."""
        return f'`{self.name}`' + ('\\*' if self.converted_from else '') + ('#' if self.zero_shot else '')


def _require(record: Mapping, key: str, where: str):
    if not isinstance(record, Mapping) or key not in record:
        raise MetafileError(f'metafile.yml: {where} has no {key!r}')
    return record[key]


def read_metafile(path: str | Path) -> list[ZooEntry]:
    """The ``Models`` entries of ``path``; errors name the entry and the missing key."""
    with open(path, encoding='utf-8') as f:
        content = yaml.safe_load(f) or {}
    entries = []
    for index, model in enumerate(content.get('Models') or []):
        name = _require(model, 'Name', f'model {index}')
        where = f'model {name!r}'
        metadata = model.get('Metadata') or {}
        results = [
            Result(
                task=_require(result, 'Task', f'a result of {where}'),
                dataset=_require(result, 'Dataset', f'a result of {where}'),
                metrics=dict(_require(result, 'Metrics', f'a result of {where}')),
            )
            for result in model.get('Results') or []
        ]
        entries.append(
            ZooEntry(
                name=name,
                config=_require(model, 'Config', where),
                weights=model.get('Weights'),
                parameters=metadata.get('Parameters'),
                training_data=list(metadata.get('Training Data') or []),
                zero_shot=bool(metadata.get('Zero-shot', False)),
                converted_from=model.get('Converted From'),
                results=results,
                marked_measured_locally=bool(metadata.get('Measured Locally', False)),
            )
        )
    return entries


def model_type(config: str | Path, repo: Path = REPO) -> str:
    """``model.type`` of a config file (its bases read, no module imported)."""
    from mmengine.config import Config

    return Config.fromfile(str(repo / config), import_custom_modules=False).model.type


def _number(value: float | str) -> str:
    """A metric as the metafile gives it; two decimals unless it has more (``78.2`` -> ``'78.20'``)."""
    if isinstance(value, float) and round(value, 2) == value:
        return f'{value:.2f}'
    return str(value)


def format_params(parameters: int | None) -> str:
    """``223971644`` -> ``'223.97'`` (millions)."""
    return '—' if parameters is None else f'{parameters / 1e6:.2f}'


def format_metrics(entry: ZooEntry) -> str:
    """All results of an entry in one cell: ``'BLEU-4 40.12, CIDER 132.82'``."""
    if not entry.results:
        return 'no published result'
    tasks = {result.task for result in entry.results}
    parts = []
    for result in entry.results:
        values = ', '.join(f'{metric} {_number(value)}' for metric, value in result.metrics.items())
        parts.append(f'{result.task}: {values}' if len(tasks) > 1 else values)
    text = '; '.join(parts)
    return f'{text} (measured locally)' if entry.measured_locally else text


def config_link(entry: ZooEntry, page_depth: int = 1) -> str:
    """A link to the config file, relative to a page ``page_depth`` folders below ``docs/``."""
    up = '../' * (page_depth + 1)
    return f'[config]({up}{entry.config})'


def weights_cell(entry: ZooEntry) -> str:
    if not entry.weights:
        return '—'
    if entry.is_local:
        return f'`{entry.weights}` (in this repository)'
    return f'[model]({entry.weights})'


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    def line(cells):
        return '| ' + ' | '.join(str(c).replace('|', '\\|').replace('\n', ' ') for c in cells) + ' |'

    return [line(header), '|' + '---|' * len(header), *map(line, rows)]


def _datasets(entry: ZooEntry) -> str:
    return ', '.join(dict.fromkeys(result.dataset for result in entry.results)) or '—'


def render_overview(entries: Sequence[ZooEntry], pages: Mapping[str, tuple[str, str, str]]) -> str:
    """The overview page: one row per model, with links to the task pages."""
    lines = [
        '# Model zoo',
        '',
        '<!-- Generated by docs/gen_model_zoo.py from metafile.yml: edit the metafile, not this page. -->',
        '',
        'Every model of `metafile.yml`. Each name works with `blip.get_model`, '
        '`blip.inference_model` and `tools/infer.py`; '
        '[Testing a released checkpoint](../user_guides/test.md) reproduces a row.',
        '',
        LEGEND,
        '',
    ]
    rows = []
    for entry in entries:
        stem, _title, label = pages[entry.model_type]
        rows.append(
            [
                entry.marked_name,
                f'[{label}]({stem}.md)',
                _datasets(entry),
                format_metrics(entry),
                format_params(entry.parameters),
                config_link(entry),
                weights_cell(entry),
            ]
        )
    lines += _table(['Model', 'Task', 'Dataset', 'Metrics', 'Params (M)', 'Config', 'Weights'], rows)
    lines += ['', '```{toctree}', ':hidden:', '']
    lines += [stem for stem, _title, _label in pages.values()]
    lines += ['```', '']
    return '\n'.join(lines)


def render_task_page(title: str, entries: Sequence[ZooEntry]) -> str:
    """One task's page: a column per (result task, metric) pair and the weights' origins."""
    columns = list(
        dict.fromkeys((r.task, metric) for e in entries for r in e.results for metric in r.metrics)
    )
    several_tasks = len({task for task, _ in columns}) > 1
    header = [
        'Model',
        'Trained on',
        'Evaluated on',
        *(f'{metric} ({task})' if several_tasks else metric for task, metric in columns),
        'Params (M)',
        'Config',
        'Weights',
    ]
    rows = []
    for entry in entries:
        values = {(r.task, metric): value for r in entry.results for metric, value in r.metrics.items()}
        cells = [_number(values[column]) if column in values else '—' for column in columns]
        if entry.measured_locally and entry.results:
            cells = [f'{cell} (measured locally)' if cell != '—' else cell for cell in cells]
        rows.append(
            [
                entry.marked_name,
                ', '.join(entry.training_data) or '—',
                _datasets(entry) if entry.results else 'no published result',
                *cells,
                format_params(entry.parameters),
                config_link(entry),
                weights_cell(entry),
            ]
        )
    lines = [
        f'# {title}',
        '',
        '<!-- Generated by docs/gen_model_zoo.py from metafile.yml: edit the metafile, not this page. -->',
        '',
        LEGEND,
        '',
        *_table(header, rows),
        '',
    ]
    converted = [entry for entry in entries if entry.converted_from]
    if converted:
        lines += ['## Converted from', '']
        for entry in converted:
            source = entry.converted_from
            parts = [f'[weights]({source["Weights"]})' if source.get('Weights') else '']
            parts.append(f'[code]({source["Code"]})' if source.get('Code') else '')
            lines.append(f'* `{entry.name}`: ' + ', '.join(p for p in parts if p))
        lines.append('')
    return '\n'.join(lines)


def write_pages(
    metafile: str | Path = REPO / 'metafile.yml',
    out: str | Path = REPO / 'docs/model_zoo',
    repo: Path = REPO,
) -> list[Path]:
    """Write ``index.md`` and one page per task into ``out``; returns the files written.

    Files in ``out`` that the metafile no longer produces are removed.
    """
    entries = read_metafile(metafile)
    for entry in entries:
        if not (repo / entry.config).is_file():
            raise MetafileError(
                f'metafile.yml: model {entry.name!r} names a config that does not exist: {entry.config}'
            )
        entry.model_type = model_type(entry.config, repo)
    # The known tasks in their order, then any other model class under its own name.
    kinds = [kind for kind in TASK_PAGES if any(e.model_type == kind for e in entries)]
    kinds += sorted({e.model_type for e in entries} - set(TASK_PAGES))
    pages = {kind: TASK_PAGES.get(kind, (kind.lower(), kind, kind)) for kind in kinds}
    out = Path(out)
    out.mkdir(parents=True, exist_ok=True)
    texts = {'index.md': render_overview(entries, pages)}
    for kind, (stem, title, _label) in pages.items():
        texts[f'{stem}.md'] = render_task_page(title, [e for e in entries if e.model_type == kind])
    for stale in set(p.name for p in out.glob('*.md')) - set(texts):
        (out / stale).unlink()
    written = []
    for name, text in texts.items():
        path = out / name
        if not path.is_file() or path.read_text(encoding='utf-8') != text:
            path.write_text(text, encoding='utf-8')  # unchanged pages keep their time stamps
        written.append(path)
    return written


def main(argv=None) -> None:
    parser = argparse.ArgumentParser(description='Write the model-zoo pages from metafile.yml')
    parser.add_argument('--metafile', default=str(REPO / 'metafile.yml'))
    parser.add_argument('--out', default=str(REPO / 'docs/model_zoo'))
    args = parser.parse_args(argv)
    for path in write_pages(args.metafile, args.out):
        print(path)


if __name__ == '__main__':
    main()
