"""BLIP's tokenizer works offline from the shipped vocabulary."""

import hashlib

import pytest

import blip  # noqa: F401
from blip.models.tokenizer import VOCAB_FILE
from blip.registry import TOKENIZER


@pytest.fixture(scope='module')
def tokenizer():
    return TOKENIZER.build(dict(type='BlipTokenizer', name_or_path='bert-base-uncased'))


def test_shipped_vocabulary_is_berts_uncased_vocabulary():
    assert hashlib.md5(VOCAB_FILE.read_bytes()).hexdigest() == '64800d5d8528ce344256daf115d4965e'


def test_special_tokens(tokenizer):
    assert len(tokenizer) == 30524
    assert tokenizer.bos_token == '[DEC]' and tokenizer.bos_token_id == 30522
    assert tokenizer.convert_tokens_to_ids('[ENC]') == tokenizer.enc_token_id == 30523
    assert (tokenizer.pad_token_id, tokenizer.cls_token_id, tokenizer.sep_token_id) == (0, 101, 102)


def test_ids_and_decoding(tokenizer):
    assert tokenizer('a picture of a dog').input_ids == [101, 1037, 3861, 1997, 1037, 3899, 102]
    ids = tokenizer("A Man's dog, isn't it?").input_ids
    assert tokenizer.decode(ids, skip_special_tokens=True) == "a man's dog, isn't it?"
    assert tokenizer.decode([30522, 1037, 3899, 102, 0], skip_special_tokens=True) == 'a dog'


def test_truncation_keeps_the_end_token(tokenizer):
    ids = tokenizer('one two three four five six', truncation=True, max_length=4).input_ids
    assert ids[0] == 101 and ids[-1] == 102 and len(ids) == 4


def test_vocabulary_from_a_folder(tmp_path):
    (tmp_path / 'vocab.txt').write_bytes(VOCAB_FILE.read_bytes())
    tokenizer = TOKENIZER.build(dict(type='BlipTokenizer', name_or_path=str(tmp_path)))
    assert tokenizer.bos_token_id == 30522


def test_missing_vocabulary_is_named(tmp_path):
    with pytest.raises(FileNotFoundError, match='nowhere'):
        TOKENIZER.build(dict(type='BlipTokenizer', name_or_path=str(tmp_path / 'nowhere')))
