"""BLIP's tokenizer, built offline from the BERT vocabulary shipped in the package."""

from pathlib import Path

from transformers import BertTokenizer

from blip.registry import TOKENIZER

VOCAB_FILE = Path(__file__).resolve().parent.parent / 'assets' / 'bert-base-uncased-vocab.txt'
#: Names that mean "BERT's uncased vocabulary", resolved to the shipped file.
BUILTIN_VOCABS = ('bert-base-uncased', 'google-bert/bert-base-uncased')


def _read_vocab(path: Path) -> dict[str, int]:
    with open(path, encoding='utf-8') as f:
        return {line.rstrip('\n'): index for index, line in enumerate(f)}


def _vocab_path(name_or_path: str) -> Path:
    if name_or_path in BUILTIN_VOCABS:
        return VOCAB_FILE
    path = Path(name_or_path)
    if path.is_dir():
        path = path / 'vocab.txt'
    if not path.is_file():
        raise FileNotFoundError(
            f'BlipTokenizer: no vocabulary at {name_or_path!r}; give a vocab.txt, a '
            f'folder holding one, or one of {BUILTIN_VOCABS} for the shipped file.'
        )
    return path


@TOKENIZER.register_module()
def BlipTokenizer(name_or_path: str = 'bert-base-uncased', model_max_length: int = 512):  # noqa: N802
    """Build BLIP's tokenizer: lower-casing BERT WordPiece plus ``[DEC]`` and ``[ENC]``.

    ``[DEC]`` (id 30522) is the bos token that starts every decoder input and
    ``[ENC]`` (id 30523) the task token of the image-grounded encoder. Decoding
    cleans up tokenization spaces (``"man ' s"`` -> ``"man's"``) as the
    tokenizer that produced BLIP's released results did.

    Args:
        name_or_path: ``'bert-base-uncased'`` for the shipped vocabulary (no
            download), or a ``vocab.txt`` path or a folder holding one.
        model_max_length: Longest sequence the text transformer accepts.
    """
    tokenizer = BertTokenizer(
        vocab=_read_vocab(_vocab_path(name_or_path)),
        do_lower_case=True,
        model_max_length=model_max_length,
        clean_up_tokenization_spaces=True,
    )
    tokenizer.add_special_tokens({'bos_token': '[DEC]', 'additional_special_tokens': ['[ENC]']})
    tokenizer.enc_token_id = tokenizer.convert_tokens_to_ids('[ENC]')
    return tokenizer
