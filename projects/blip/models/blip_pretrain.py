"""BLIP pre-training: the retrieval model's contrastive and matching losses plus a captioning loss."""

from mmpretrain.structures import DataSample

from blip.registry import MODELS

from .blip_retrieval import BlipRetrieval
from .seq_gen_head import IGNORE_INDEX, lm_loss


@MODELS.register_module()
class BlipPretrain(BlipRetrieval):
    """BLIP's pre-training model (the official ``BLIP_Pretrain``).

    Three losses on each batch of image-text pairs, in BLIP's order:

    * ITC, image-text contrastive, with momentum encoders, feature queues and
      momentum distillation (``itc_head``, as :class:`BlipRetrieval` trains it);
    * ITM, image-text matching, on one hard negative text per image and one
      hard negative image per text, drawn from the contrastive similarities
      of the whole global batch (``negative_all_rank``) as BLIP's
      pre-training draws them: by the similarity of the online features to
      the candidates' momentum features, softmax + 1e-4, zero for the pair's
      own image;
    * LM, the captioning loss of ``text_decoder`` (``[DEC]`` + the text,
      every token but padding predicted, label smoothing ``label_smoothing``).

    The text encoder and decoder share every parameter except their
    self-attention (:meth:`TextDecoder.share_with_encoder`), as the
    authors' model does. Samples of the same ``image_id`` are each other's
    positives (and never each other's negatives); give every pair its own id
    to treat each pair as the authors' pre-training does.

    Its checkpoints use these attribute names (``image_encoder``,
    ``text_encoder``, ``text_decoder``, ``image_proj``, ``text_proj``,
    ``itc_head``, ``itm_head``, the momentum copies ``<name>_m`` and
    ``temp``). The official pre-training checkpoints are converted when
    loaded (:mod:`blip.converters`), and a task model fine-tuned from one of
    ours converts it as it converts the official ones. As a retrieval model it
    scores zero-shot retrieval (``predict``, the retrieval test loop).

    Args:
        tokenizer: ``BlipTokenizer`` config.
        image_encoder: Image tower config (``VisionTransformer``).
        text_encoder: Text tower config (``TextTransformer`` with cross-attention).
        text_decoder: ``TextDecoder`` config, the same sizes as the encoder.
        embed_dim: Size of the contrastive features.
        max_txt_len: Texts are truncated and padded to this many tokens (BLIP: 30).
        label_smoothing: Of the LM loss (BLIP: 0.1).
        **kwargs: Passed to :class:`BlipRetrieval` (``itc_head``, ``itm_head``,
            ``momentum``, ``negative_all_rank``, ``temperature``, the
            retrieval scoring options, ``precision``, ``data_preprocessor``,
            ``init_cfg``).
    """

    checkpoint_task = 'pretrain'
    checkpoint_names = {}
    negative_candidates = 'momentum'
    negative_floor = 1e-4

    def __init__(
        self,
        tokenizer: dict,
        image_encoder: dict,
        text_encoder: dict,
        text_decoder: dict,
        embed_dim: int = 256,
        max_txt_len: int = 30,
        label_smoothing: float = 0.1,
        **kwargs,
    ):
        super().__init__(tokenizer, image_encoder, text_encoder, embed_dim, max_txt_len=max_txt_len, **kwargs)
        self.text_decoder = MODELS.build(text_decoder)
        self.text_decoder.share_with_encoder(self.text_encoder)
        self.label_smoothing = label_smoothing

    def to_checkpoint_format(self, state_dict):
        """Our pre-training checkpoints as they are; an official one converted (see :class:`BlipModel`)."""
        from blip.converters import is_blip_pretrain

        return state_dict if is_blip_pretrain(state_dict) else super().to_checkpoint_format(state_dict)

    def loss(self, images, data_samples: list[DataSample]):
        """``itc_loss``, ``itm_loss`` and ``lm_loss`` of a batch of pairs.

        Each sample needs ``text`` (one caption) and ``image_id``. The call
        updates the momentum encoders and the ITC queues, as BLIP's forward does.
        """
        losses, feats = self.retrieval_losses(images, data_samples)
        ids = feats['text_ids'].clone()
        ids[:, 0] = self.tokenizer.bos_token_id
        labels = ids.masked_fill(ids == self.tokenizer.pad_token_id, IGNORE_INDEX)
        losses['lm_loss'] = lm_loss(
            self.text_decoder,
            ids,
            labels,
            feats['image_embeds'],
            feats['text_attn_mask'],
            self.label_smoothing,
        )
        return losses
