"""Image-text search with a retrieval model over a user's own gallery, and feature extraction."""

import os
from collections.abc import Sequence

import numpy as np
import torch
from mmengine.dataset import pseudo_collate
from PIL import Image

from blip.models.retrieval_scoring import ranked

from . import visualization
from .inferencer import (
    INFERENCERS,
    ImageInput,
    Inferencer,
    OutPath,
    _image_item,
    check_batch_size,
    image_name,
    load_image,
)

#: Matches drawn per query with ``out=``.
DRAWN_MATCHES = 10

#: Feature keys of images and of texts, as :meth:`RetrievalInferencer.extract_feat` returns them.
IMAGE_KEYS = ('image_feat', 'image_embeds')
TEXT_KEYS = ('text_feat', 'text_ids', 'text_attn_mask')


def is_image(value) -> bool:
    """An array, a PIL image, a ``Path``, or a string naming an existing file is an image."""
    if isinstance(value, (np.ndarray, Image.Image, os.PathLike)):
        return True
    return isinstance(value, str) and os.path.isfile(value)


class RetrievalInferencer(Inferencer):
    """Text-to-image and image-to-text search, scored as BLIP's retrieval evaluation scores.

    ``RetrievalInferencer(model)('a dog on the grass', gallery=['a.jpg', 'b.jpg'])``
    ranks the gallery images for the text; with image queries and a gallery of
    texts it ranks the texts, exactly as the model's evaluation ranks them
    (:func:`blip.models.retrieval_scoring.rerank`): the contrastive (ITC)
    similarity picks the ``model.topk`` best candidates, the matching head
    (ITM) re-scores them, ``score = ITM match logit + ITC cosine``; the other
    entries score -100 and follow in index order (equal scores rank by
    index). With ``fast_match`` the score is the cosine. Results::

        {'text': 'a dog on the grass',
         'matches': [{'index': 1, 'image': 'b.jpg', 'score': 2.31}, ...]}   # text -> images
        {'image': 'a.jpg',
         'matches': [{'index': 0, 'text': 'a dog', 'score': 1.72}, ...]}    # image -> texts

    For a large gallery, compute its features once with :meth:`extract_feat`
    and pass the returned dict as ``gallery``.
    """

    input_names = ('inputs',)

    def __init__(self, model, cpu_optimize: bool = False):
        super().__init__(model, cpu_optimize)
        # The image transforms of the test pipeline; its text cleaning applies to texts.
        cleaners = [t for t in self.pipeline if type(t).__name__ == 'CleanCaption']
        self.image_pipeline = [t for t in self.pipeline if t not in cleaners]
        self.text_cleaners = [t for t in cleaners if 'text' in t.keys]

    def clean_texts(self, texts: Sequence[str]) -> list[str]:
        """The texts as the test pipeline cleans captions (lower case, no punctuation, ...)."""
        texts = list(texts)
        for cleaner in self.text_cleaners:
            texts = cleaner.clean(texts)
        return texts

    @torch.no_grad()
    def extract_feat(
        self,
        images: Sequence[ImageInput] | None = None,
        texts: Sequence[str] | None = None,
        batch_size: int = 8,
    ) -> dict:
        """Features of images and/or texts, for search or for an index of your own.

        Args:
            images: Image paths, BGR arrays or PIL images.
            texts: Texts (cleaned as the test pipeline cleans captions).
            batch_size: Images or texts per forward pass.

        Returns:
            For images ``image_feat`` ``(N, D)`` (L2-normalised contrastive
            features) and ``image_embeds`` ``(N, tokens, C)`` (what ITM
            re-ranking attends to); for texts ``text_feat`` ``(T, D)``,
            ``text_ids`` and ``text_attn_mask`` ``(T, L)`` and ``texts``.
            Cosine similarity is ``image_feat @ text_feat.T``.
        """
        check_batch_size(batch_size)
        feats: dict = {}
        if images is not None:
            parts = []
            for start in range(0, len(images), batch_size):
                items = [
                    self._prepare_image(_image_item(image, start + offset))
                    for offset, image in enumerate(images[start : start + batch_size])
                ]
                data = self.model.data_preprocessor(pseudo_collate(items), False)
                parts.append(self.model.extract_feat(data['images'], return_embeds=True))
            feats.update({key: torch.cat([part[key] for part in parts]) for key in IMAGE_KEYS})
        if texts is not None:
            texts = self.clean_texts(texts)
            parts = [
                self.model.extract_feat(texts=texts[start : start + batch_size])
                for start in range(0, len(texts), batch_size)
            ]
            feats.update({key: torch.cat([part[key] for part in parts]) for key in TEXT_KEYS})
            feats['texts'] = texts
        return feats

    def _prepare_image(self, item: dict) -> dict:
        for transform in self.image_pipeline:
            item = transform(item)
        return item

    def __call__(
        self,
        inputs: str | ImageInput | Sequence[str | ImageInput],
        gallery: Sequence[str | ImageInput] | dict | None = None,
        topk: int = 5,
        batch_size: int = 8,
        mode: str | None = None,
        text: str | None = None,
        out: OutPath | None = None,
    ) -> list[dict]:
        """Search ``gallery`` for each query of ``inputs``.

        Args:
            inputs: A query or a list of queries: texts (text-to-image search)
                or images (image-to-text search). A string is an image when it
                names an existing file, a text otherwise; ``mode`` decides
                when that is not what you mean.
            gallery: The images (for text queries) or texts (for image queries)
                to search, or their features from :meth:`extract_feat`.
            topk: Matches returned per query.
            batch_size: Images or texts per forward pass.
            mode: ``'t2i'`` (text queries) or ``'i2t'`` (image queries).
            text: The command-line form (``tools/infer.py IMAGE... --text``):
                score the input images against this one text; one result per
                image, ``{'text', 'score', 'rank'}``.
            out: Save a picture of each query's best matches (up to 10): the
                text above the ranked images, or the image above the ranked
                texts; a file for one query, a folder or one file per query.
                It needs the gallery's images or texts, not only features.

        Returns:
            One result per query (see the class docstring).
        """
        check_batch_size(batch_size)
        if text is not None:
            return self._score_images_for_text(inputs, text, batch_size, out)
        if gallery is None:
            raise ValueError('retrieval needs a gallery: the images or texts to search')
        queries = list(inputs) if isinstance(inputs, (list, tuple)) else [inputs]
        if not queries:
            return []
        mode = mode or ('i2t' if is_image(queries[0]) else 't2i')
        if mode not in ('i2t', 't2i'):
            raise ValueError(f"mode must be 'i2t' or 't2i', got {mode!r}")
        query_kind, gallery_kind = ('images', 'texts') if mode == 'i2t' else ('texts', 'images')
        for index, query in enumerate(queries):
            if (mode == 'i2t') != is_image(query):
                raise ValueError(
                    f'query {index} ({query!r:.60}) is not one of the {query_kind} a {mode} search takes'
                )
        if isinstance(gallery, dict):
            gallery_feats, gallery_items = gallery, gallery.get('texts')
        else:
            gallery_items = list(gallery)
            gallery_feats = self.extract_feat(batch_size=batch_size, **{gallery_kind: gallery_items})
        query_feats = self.extract_feat(batch_size=batch_size, **{query_kind: queries})
        needed = IMAGE_KEYS if gallery_kind == 'images' else TEXT_KEYS
        missing = [key for key in needed if key not in gallery_feats]
        if missing:
            raise ValueError(
                f'the gallery features lack {missing}: a {mode} search needs the features of {gallery_kind}'
            )
        image_feats, text_feats = (
            (query_feats, gallery_feats) if mode == 'i2t' else (gallery_feats, query_feats)
        )
        scores, matches = self._search(image_feats, text_feats, mode, topk)
        query_key, gallery_key = ('image', 'text') if mode == 'i2t' else ('text', 'image')
        results = []
        for q, (row_scores, row_matches) in enumerate(zip(scores.tolist(), matches.tolist())):
            query = _describe(queries[q])
            found = []
            for score, index in zip(row_scores, row_matches):
                match = {'index': index, 'score': score}
                if gallery_items is not None:
                    match[gallery_key] = _describe(gallery_items[index])
                found.append(match)
            results.append({query_key: query, 'matches': found})
        if out is not None:
            if gallery_items is None or (mode == 't2i' and isinstance(gallery, dict)):
                raise ValueError(f'out= draws the gallery: pass its {gallery_kind}, not only their features')
            drawings = [self.draw(query, gallery_items, result) for query, result in zip(queries, results)]
            names = [image_name(q) if mode == 'i2t' else f'text{i}' for i, q in enumerate(queries)]
            self.save_drawings(out, names, drawings)
        return results

    @staticmethod
    def draw(query, gallery: Sequence, result: dict) -> np.ndarray:
        """A text above its best images, or an image above its best texts, with ranks and scores."""
        matches = result['matches'][:DRAWN_MATCHES]
        if 'text' in result:
            images = [load_image(gallery[match['index']]) for match in matches]
            labels = [f'#{rank} {match["score"]:.2f}' for rank, match in enumerate(matches, 1)]
            return visualization.draw_ranked_images(result['text'], images, labels)
        lines = [f'{rank}. {gallery[m["index"]]} ({m["score"]:.2f})' for rank, m in enumerate(matches, 1)]
        return visualization.with_text(load_image(query), lines)

    @torch.no_grad()
    def gallery_scores(self, image_feats: dict, text_feats: dict, mode: str) -> torch.Tensor:
        """The score of every gallery entry for each query, ``(Q, G)``: ITM + ITC for the
        ``model.topk`` ITC candidates, -100 for the others (the cosine with ``fast_match``)."""
        model = self.model
        device = model.device
        feats = {**image_feats, **text_feats}
        similarity = feats['image_feat'].to(device) @ feats['text_feat'].to(device).t()
        return model.scores(similarity, feats['text_ids'], model.pair_logits(feats), directions=(mode,))[mode]

    def _search(self, image_feats: dict, text_feats: dict, mode: str, topk: int):
        """Best ``topk`` gallery entries of each query: ``(scores, indices)``, each ``(Q, topk)``."""
        scores = self.gallery_scores(image_feats, text_feats, mode)
        best = ranked(scores, topk)
        return scores.gather(1, best), best

    def _score_images_for_text(self, images, text: str, batch_size: int, out: OutPath | None) -> list[dict]:
        images = list(images) if isinstance(images, (list, tuple)) else [images]
        (result,) = self(text, gallery=images, topk=len(images), batch_size=batch_size, mode='t2i', out=out)
        ranked = {match['index']: (rank, match['score']) for rank, match in enumerate(result['matches'])}
        return [
            {'text': result['text'], 'score': ranked[i][1], 'rank': ranked[i][0]} for i in range(len(images))
        ]


def _describe(item):
    """A readable stand-in for a query or gallery item in results."""
    if isinstance(item, (str, os.PathLike)):
        return str(item)
    if isinstance(item, np.ndarray):
        return f'<array {item.shape[1]}x{item.shape[0]}>'
    if isinstance(item, Image.Image):
        return f'<image {item.size[0]}x{item.size[1]}>'
    return item


INFERENCERS['BlipRetrieval'] = RetrievalInferencer
