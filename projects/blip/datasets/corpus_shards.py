"""The shards of an image-text corpus: WebDataset tars and the authors' JSON files.

Two formats, read as streams of :class:`CorpusSample` (an image and its texts):

* **WebDataset tar shards**, as img2dataset writes them: consecutive members
  sharing a key (the file name up to its first dot) make one sample,
  ``<key>.jpg`` (or ``.png``, ``.webp`` ...) the image, ``<key>.txt`` its text
  and ``<key>.json`` its metadata (img2dataset: ``url``, ``caption``, ``key``
  ...). A ``<key>.json`` with a ``texts`` list (what ``tools/capfilt.py``
  writes: ``{'text', 'source', 'itm_score'}`` each) gives several texts.
  img2dataset's ``<shard>_stats.json`` next to a tar counts its samples
  (ours also its texts per source).
* **The authors' JSON format**: a list of ``{'image': path, 'caption': text}``
  or ``{'url': url, 'caption': text}`` (their released pre-training and
  CapFilt corpora; ``caption`` may also be a list), or one such object per
  line (``.jsonl``). The file is parsed as a stream, never loaded whole.
  Consecutive entries of the same image make one sample.

Reading never stops at a bad sample: a reader reports what it could not read
through ``on_error`` and goes on; a truncated or unreadable shard ends that
shard. :class:`ShardWriter` writes tars that these readers (and WebDataset)
read.
"""

import io
import json
import tarfile
import urllib.parse
import urllib.request
from collections import Counter
from collections.abc import Callable, Collection, Iterator
from dataclasses import dataclass, field
from pathlib import Path

#: File extensions of the image member of a tar sample, in order of preference.
IMAGE_EXTENSIONS = ('jpg', 'jpeg', 'png', 'webp', 'bmp', 'tif', 'tiff', 'gif')
#: Suffixes of the JSON shards (the authors' list, or JSON Lines).
JSON_SUFFIXES = ('.json', '.jsonl')

#: ``on_error(kind, where, message)``: what could not be read. Kinds: ``'sample'``
#: (a sample without image or text, or with a text that is not UTF-8),
#: ``'shard'`` (a shard that is missing, truncated or not a tar/JSON file).
ErrorHandler = Callable[[str, str, str], None]


@dataclass
class CorpusSample:
    """One image of a corpus with its texts.

    Attributes:
        key: The sample's name within its shard.
        texts: ``{'text': str, 'source': str, ...}`` records; ``source`` is
            ``'web'`` unless the shard says otherwise.
        image: The encoded image (tar shards).
        image_path: The image file, relative to the corpus's image root (JSON).
        url: Where the image was downloaded from, if known.
        meta: The sample's metadata (a tar sample's JSON, a JSON entry).
        image_ext: The image's file extension (its format).
    """

    key: str
    texts: list[dict]
    image: bytes | None = None
    image_path: str | None = None
    url: str | None = None
    meta: dict = field(default_factory=dict)
    image_ext: str = 'jpg'

    def image_bytes(self, image_root: str | Path = '', timeout: float = 10.0) -> bytes:
        """The encoded image: in its shard, below ``image_root``, or at its URL.

        Raises:
            FileNotFoundError, urllib.error.URLError, TimeoutError: The image is missing.
        """
        if self.image is not None:
            return self.image
        if self.image_path:
            return (Path(image_root) / self.image_path).read_bytes()
        with urllib.request.urlopen(self.url, timeout=timeout) as response:
            return response.read()


def is_json_shard(path: str | Path) -> bool:
    return str(path).endswith(JSON_SUFFIXES)


def _ignore(kind: str, where: str, message: str) -> None:
    pass


def read_shard(path: str | Path, on_error: ErrorHandler = _ignore) -> Iterator[CorpusSample]:
    """The samples of a tar or JSON shard, in order; problems go to ``on_error``."""
    reader = read_json_shard if is_json_shard(path) else read_tar_shard
    yield from reader(path, on_error)


# Tar shards ------------------------------------------------------------------------


def _split_name(name: str) -> tuple[str, str]:
    """``'dir/000001.jpg'`` -> ``('dir/000001', 'jpg')`` (WebDataset's key and extension)."""
    folder, _, base = name.rpartition('/')
    stem, _, extension = base.partition('.')
    return (f'{folder}/{stem}' if folder else stem), extension.lower()


def read_tar_shard(path: str | Path, on_error: ErrorHandler = _ignore) -> Iterator[CorpusSample]:
    """Stream the samples of a WebDataset tar.

    A sample without an image or a text is reported (``'sample'``) and
    skipped; a tar that is missing, truncated or corrupt is reported
    (``'shard'``) after the samples read before the damage.
    """
    where = str(path)
    key, members = None, {}
    try:
        with tarfile.open(path, mode='r|*') as tar:
            for info in tar:
                if not info.isfile():
                    continue
                member_key, extension = _split_name(info.name)
                if member_key != key:
                    if key is not None:
                        sample = _tar_sample(key, members, where, on_error)
                        if sample is not None:
                            yield sample
                    key, members = member_key, {}
                members[extension] = tar.extractfile(info).read()
    except (OSError, tarfile.TarError, EOFError) as error:
        on_error('shard', where, f'{type(error).__name__}: {error}; read up to sample {key}')
        return
    if key is not None:
        sample = _tar_sample(key, members, where, on_error)
        if sample is not None:
            yield sample


def _tar_sample(key: str, members: dict[str, bytes], where: str, on_error: ErrorHandler):
    image_ext = next((ext for ext in IMAGE_EXTENSIONS if ext in members), None)
    image = members.get(image_ext)
    try:
        meta = json.loads(members['json']) if 'json' in members else {}
        if isinstance(meta.get('texts'), list):
            texts = [dict(t, source=t.get('source', 'web')) for t in meta['texts'] if t.get('text')]
        elif 'txt' in members:
            texts = [{'text': members['txt'].decode('utf-8'), 'source': 'web'}]
        else:
            texts = []
    except (UnicodeDecodeError, json.JSONDecodeError, AttributeError, TypeError) as error:
        on_error('sample', f'{where}:{key}', f'unreadable text or metadata ({error})')
        return None
    if image is None or not texts:
        missing = 'image' if image is None else 'text'
        on_error('sample', f'{where}:{key}', f'no {missing} (members: {sorted(members)})')
        return None
    return CorpusSample(
        key,
        texts,
        image=image,
        url=meta.get('url'),
        image_path=meta.get('image'),
        meta=meta,
        image_ext=image_ext,
    )


def tar_stats_path(path: str | Path) -> Path:
    """img2dataset's statistics file of a tar shard: ``00000.tar`` -> ``00000_stats.json``."""
    path = Path(path)
    return path.with_name(path.name.split('.', 1)[0] + '_stats.json')


# JSON shards -----------------------------------------------------------------------


def iter_json_entries(path: str | Path, chunk_size: int = 1 << 20) -> Iterator[dict]:
    """The objects of a JSON array file (or a JSON Lines file), parsed as a stream.

    Raises:
        ValueError: The file is not a JSON array / JSON Lines file of objects
            (the entries before the damage have been yielded).
    """
    decoder = json.JSONDecoder()
    with open(path, encoding='utf-8') as f:
        buffer, position, started, done = '', 0, str(path).endswith('.jsonl'), False
        while not done:
            chunk = f.read(chunk_size)
            buffer = buffer[position:] + chunk
            position = 0
            while True:
                while position < len(buffer) and buffer[position] in ' \t\r\n,':
                    position += 1
                if position == len(buffer):
                    break
                if not started:
                    if buffer[position] != '[':
                        raise ValueError(f'{path}: not a JSON list (starts with {buffer[position]!r})')
                    started, position = True, position + 1
                    continue
                if buffer[position] == ']':
                    done = True
                    break
                try:
                    entry, end = decoder.raw_decode(buffer, position)
                except json.JSONDecodeError as error:
                    if chunk:  # perhaps cut by the chunk: read more
                        break
                    raise ValueError(f'{path}: invalid JSON near character {error.pos}') from error
                if not isinstance(entry, dict):
                    raise ValueError(f'{path}: entries must be objects, found {type(entry).__name__}')
                yield entry
                position = end
            if not chunk:
                if not done and not str(path).endswith('.jsonl'):
                    raise ValueError(f'{path}: the JSON list is not closed (truncated?)')
                break


def _entry_texts(entry: dict) -> list[dict]:
    captions = entry.get('caption')
    captions = captions if isinstance(captions, list) else [captions]
    source = entry.get('source', 'web')
    extra = {k: v for k, v in entry.items() if k not in ('image', 'url', 'caption')}
    return [dict(extra, text=caption, source=source) for caption in captions if isinstance(caption, str)]


def read_json_shard(path: str | Path, on_error: ErrorHandler = _ignore) -> Iterator[CorpusSample]:
    """Stream the samples of an authors' format JSON file (consecutive entries of one image grouped)."""
    where = str(path)
    sample, index = None, 0
    try:
        for index, entry in enumerate(iter_json_entries(path)):
            image_path, url = entry.get('image'), entry.get('url')
            texts = _entry_texts(entry)
            if not (image_path or url) or not texts:
                on_error('sample', f'{where}:{index}', f'entry without {"image/url" if texts else "caption"}')
                continue
            if sample is not None and (sample.image_path, sample.url) == (image_path, url):
                sample.texts.extend(texts)
                continue
            if sample is not None:
                yield sample
            suffix = Path(urllib.parse.urlparse(image_path or url).path).suffix.lower().lstrip('.')
            sample = CorpusSample(
                str(index),
                texts,
                image_path=image_path,
                url=url,
                meta=entry,
                image_ext=suffix if suffix in IMAGE_EXTENSIONS else 'jpg',
            )
    except (OSError, ValueError) as error:
        on_error('shard', where, f'{type(error).__name__}: {error}; read up to entry {index}')
    if sample is not None:
        yield sample


# Counting ----------------------------------------------------------------------------


def count_pairs(path: str | Path, sources: Collection[str] | None = None) -> int:
    """Image-text pairs of a shard (of the given ``sources`` only, if given): from
    the ``_stats.json`` next to a tar when it has the counts (img2dataset's
    ``successes``, all web texts; ours, ``pairs`` per source), else by reading the shard."""
    stats = tar_stats_path(path)
    if not is_json_shard(path) and stats.is_file():
        content = json.loads(stats.read_text())
        by_source = content.get('pairs_by_source', {'web': content['successes']})
        return sum(n for source, n in by_source.items() if sources is None or source in sources)
    return sum(
        1
        for sample in read_shard(path)
        for text in sample.texts
        if sources is None or text.get('source', 'web') in sources
    )


# Writing -----------------------------------------------------------------------------


class ShardWriter:
    """Write a WebDataset tar shard (img2dataset's layout) and its ``_stats.json``.

    Written to a temporary name and renamed on :meth:`close`, so a shard that
    exists is complete.
    """

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        self._partial = self.path.with_name(self.path.name + '.partial')
        self._tar = tarfile.open(self._partial, mode='w', format=tarfile.USTAR_FORMAT)
        self.samples = 0
        self.pairs = Counter()

    def write(
        self, key: str, content: bytes, image_ext: str = 'jpg', texts: list[dict] | None = None, **meta
    ):
        """One sample: the encoded image ``content`` as ``<key>.<image_ext>``,
        ``<key>.txt`` (its first text) and ``<key>.json`` (``meta`` and the
        ``texts`` records)."""
        texts = texts or []
        members = {image_ext: content}
        if texts:
            members['txt'] = texts[0]['text'].encode('utf-8')
        members['json'] = json.dumps(dict(meta, key=key, texts=texts), sort_keys=True).encode('utf-8')
        for extension, content in members.items():
            info = tarfile.TarInfo(f'{key}.{extension}')
            info.size, info.mtime = len(content), 0
            self._tar.addfile(info, io.BytesIO(content))
        self.samples += 1
        self.pairs.update(text.get('source', 'web') for text in texts)

    def close(self) -> Path:
        self._tar.close()
        stats = {'successes': self.samples, 'pairs_by_source': dict(sorted(self.pairs.items()))}
        tar_stats_path(self.path).write_text(json.dumps(stats))
        self._partial.replace(self.path)
        return self.path

    def __enter__(self):
        return self

    def __exit__(self, *exc):
        if exc[0] is None:
            self.close()
        else:
            self._tar.close()
            self._partial.unlink(missing_ok=True)
