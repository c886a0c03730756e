"""MSRVTT text-video retrieval (the 1k-A test split BLIP evaluates zero-shot)."""

import json

import mmengine.fileio as fileio
from mmengine.fileio import join_path

from blip.registry import DATASETS

from .annotation_file import AnnotationError, load_json, require, require_list
from .retrieval_dataset import RetrievalDataset, group_captions


@DATASETS.register_module()
class MSRVTTRetrieval(RetrievalDataset):
    """MSRVTT videos with their captions, for text-video retrieval.

    Reads the annotation files BLIP and LAVIS publish for the 1k-A test split
    (1000 videos, one caption each):

    * BLIP's ``msrvtt_test.jsonl``: one JSON object per line,
      ``{clip_name: 'video9770', caption: '...'}``; the file is
      ``clip_name + video_ext`` below the video folder.
    * LAVIS's ``msrvtt_ret_test1k.json`` style: a JSON list of ``{video:
      'video9770.mp4', caption: '...' or [...]}``.

    Items are those of :class:`RetrievalDataset` with ``video_path`` in place
    of ``img_path``; load them with ``LoadVideoFrames``.

    Args:
        ann_file: The annotation file (``.jsonl`` or ``.json``), relative to
            ``data_root``.
        data_root: The MSRVTT root folder.
        data_prefix: The video folder, as a string or ``dict(video_path=...)``.
        video_ext: Extension added to BLIP's ``clip_name``.
        test_mode: One item per video (testing) instead of one per caption.
        **kwargs: Other arguments of :class:`mmengine.dataset.BaseDataset`.
    """

    media_key = 'video_path'

    def __init__(
        self,
        ann_file: str,
        data_root: str = '',
        data_prefix: str | dict | None = None,
        video_ext: str = '.mp4',
        test_mode: bool = True,
        **kwargs,
    ) -> None:
        if data_prefix is None or isinstance(data_prefix, str):
            data_prefix = dict(video_path=data_prefix or '')
        self.video_ext = video_ext
        super().__init__(
            ann_file=ann_file, data_root=data_root, data_prefix=data_prefix, test_mode=test_mode, **kwargs
        )

    def load_captioned_media(self) -> list[tuple[str, list[str]]]:
        path = self.ann_file
        records = _json_lines(path) if path.endswith('.jsonl') else load_json(path)
        records = require_list(records, path, 'the top-level value')
        prefix = self.data_prefix['video_path']

        def video_of(record, where: str) -> str:
            if isinstance(record, dict) and 'clip_name' in record:
                return join_path(prefix, record['clip_name'] + self.video_ext)
            return join_path(prefix, require(record, 'video', path, f"{where} (no 'clip_name' either)"))

        return group_captions(records, path, video_of)


def _json_lines(path: str) -> list:
    try:
        text = fileio.get_text(path)
    except FileNotFoundError as error:
        raise FileNotFoundError(f'annotation file not found: {path}') from error
    records = []
    for number, line in enumerate(text.splitlines(), start=1):
        if line.strip():
            try:
                records.append(json.loads(line))
            except json.JSONDecodeError as error:
                raise AnnotationError(
                    f'annotation file {path}, line {number}: not valid JSON: {error}'
                ) from error
    return records
