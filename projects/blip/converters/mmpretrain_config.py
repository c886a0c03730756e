"""mmpretrain's BLIP model configs -> ours.

mmpretrain names the same tower differently in each task (``vision_encoder``,
``visual_encoder``, ``vision_backbone``; ``XBertEncoder(med_config=...)``,
``BertModel(config=...)``) and builds the retrieval projections and heads from
sizes given twice. Our task models take one name per tower
(:class:`blip.models.BlipModel`). Checkpoints need no conversion: mmpretrain's
parameter names are our checkpoint format. Configs do, with this function:
``get_model(Config(model=mmpretrain_model_config(cfg)))``.
"""

import copy

#: Argument names of mmpretrain's task models -> ours, per task model.
ARGUMENTS = {
    'BlipCaption': {'vision_encoder': 'image_encoder', 'decoder_head': 'head'},
    'BlipVQA': {'vision_backbone': 'image_encoder', 'multimodal_backbone': 'text_encoder'},
    'BlipNLVR': {'vision_backbone': 'image_encoder', 'multimodal_backbone': 'text_encoder'},
    'BlipRetrieval': {
        'vision_backbone': 'image_encoder',
        'text_backbone': 'text_encoder',
        'head': 'itc_head',
        'multimodal_head': 'itm_head',
    },
    'BlipGrounding': {'visual_encoder': 'image_encoder'},
}
#: Registry names of mmpretrain -> ours.
TYPES = {
    'XBertEncoder': 'TextTransformer',
    'BertModel': 'TextTransformer',
    'XBertLMHeadDecoder': 'TextDecoder',
    'VQAGenerationHead': 'VQAHead',
    'MultiModalDataPreprocessor': 'BlipDataPreprocessor',
}
#: Sizes our task models derive from the towers.
DERIVED = {'ITCHead': ('embed_dim',), 'ITMHead': ('hidden_size',)}


def mmpretrain_model_config(config: dict) -> dict:
    """Our model config for mmpretrain's BLIP model config ``config`` (a dict; not changed)."""
    config = copy.deepcopy(dict(config))
    task = config.get('type')
    if task not in ARGUMENTS:
        raise ValueError(
            f'not an mmpretrain BLIP task model config: type {task!r}; known: {sorted(ARGUMENTS)}'
        )
    ours = {ARGUMENTS[task].get(key, key): _component(value) for key, value in config.items()}
    if task == 'BlipRetrieval':
        image_proj, text_proj = ours.pop('vision_neck'), ours.pop('text_neck')
        if image_proj['out_features'] != text_proj['out_features']:
            raise ValueError('vision_neck and text_neck must project to the same size')
        ours['embed_dim'] = image_proj['out_features']
    if task == 'BlipCaption' and 'num_captions' in ours:
        captions = ours.pop('num_captions')
        ours['generation_cfg'] = dict(ours.get('generation_cfg') or {}, num_return_sequences=captions)
    return ours


def _component(value):
    """A sub-config with our registry names and arguments."""
    if isinstance(value, list):
        return [_component(item) for item in value]
    if not isinstance(value, dict):
        return value
    value = {key: _component(item) for key, item in value.items()}
    kind = value.get('type')
    if kind in TYPES:
        value['type'] = TYPES[kind]
    if kind in ('XBertEncoder', 'BertModel', 'XBertLMHeadDecoder'):
        text = dict(value.pop('med_config', None) or value.pop('config'))
        if value.pop('add_pooling_layer', False):
            raise ValueError(f'{kind}: BLIP text encoders have no pooling layer')
        if text.pop('nlvr', False):
            value.update(num_images=2, merge_layer=6)  # BLIP's NLVR2 encoder
        value['config'] = text
    if kind == 'VisionTransformer' and value.pop('out_type', 'raw') != 'raw':
        raise ValueError("VisionTransformer: only out_type='raw' (every token) is supported")
    for key in DERIVED.get(kind, ()):
        value.pop(key, None)
    return value
