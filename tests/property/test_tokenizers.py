"""Tokenizers and vocabularies on any text: they never fail on odd input, keep every
non-space character, round-trip what they promise to, and load corrupt files as a clear error.
"""

from __future__ import annotations

import json
import string

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attnkit.data.segtag import SegTagVocab
from attnkit.data.summaries import WordVocab, detokenize, tokenize
from attnkit.data.tagging import Vocab
from attnkit.data.text import SentencePieceTokenizer, WordTokenizer
from attnkit.errors import AttnkitError
from attnkit.specials import BOS_ID, EOS_ID, SPECIAL_TOKENS

from .strategies import broken_bytes, nasty_text

TEXT = nasty_text()
IDS = st.lists(st.one_of(st.integers(-5, 60), st.integers(), st.sampled_from([2**63, -(2**63)])))
CORPUS = ["the cat sat on the mat .", "el gato , ¿ dónde está ?", "中国 政府 好 。", "C++ 2.0.1"]


def _no_space(text: str) -> str:
    return "".join(text.split())


# --------------------------------------------------------------------------- summaries


@given(text=TEXT)
def test_summary_tokenize_keeps_every_non_space_character(text):
    tokens = tokenize(text)
    assert all(tok and not any(c.isspace() for c in tok) for tok in tokens)
    assert "".join(tokens) == _no_space(text)


@given(tokens=st.lists(st.one_of(st.sampled_from(['"', "(", ")", ",", ".", ":"]), TEXT)))
def test_summary_detokenize_only_adds_single_spaces(tokens):
    text = detokenize(tokens)
    assert text.replace(" ", "") == "".join(tokens).replace(" ", "")


_WORD = st.text(string.ascii_letters, min_size=1, max_size=8)
_NAME = st.tuples(_WORD, st.text(string.ascii_lowercase + string.digits, max_size=4))


@given(words=st.lists(_NAME.map(lambda wn: "-".join(filter(None, wn))), max_size=12))
def test_summary_detokenize_inverts_tokenize_on_plain_words(words):
    text = " ".join(words)
    assert tokenize(text) == words and detokenize(tokenize(text)) == text


@given(
    tokens=st.lists(st.one_of(st.sampled_from(SPECIAL_TOKENS), TEXT)), max_len=st.integers(0, 30)
)
def test_word_vocab_extended_ids_round_trip(tokens, max_len):
    vocab = WordVocab.build([tokenize(t) for t in CORPUS], max_size=12)
    ids, oovs = vocab.encode_source(tokens, max_len)
    assert vocab.decode(ids, oovs) == tokens[:max_len]
    assert vocab.encode_target(tokens, oovs, max_len) == ids
    assert all(0 <= i < len(vocab) for i in vocab.encode_plain(tokens, max_len))


@given(ids=IDS, oovs=st.lists(TEXT, max_size=3))
def test_word_vocab_decodes_any_id(ids, oovs):
    vocab = WordVocab.build([tokenize(t) for t in CORPUS], max_size=12)
    words = vocab.decode(ids, oovs)
    assert len(words) == len(ids) and all(isinstance(w, str) for w in words)


# --------------------------------------------------------------------------- word tokenizer


@pytest.fixture(scope="module")
def word_tok():
    return WordTokenizer.build(CORPUS, lowercase=True)


@given(text=TEXT)
def test_word_tokenizer_encodes_any_text(word_tok, text):
    ids = word_tok.encode(text, add_bos=True, add_eos=True)
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert len(ids) == len(word_tok.pieces(text.lower())) + 2
    assert all(0 <= i < word_tok.vocab_size for i in ids)


@given(ids=st.lists(st.integers(len(SPECIAL_TOKENS), 40)))
def test_word_tokenizer_decode_then_encode_is_the_identity(word_tok, ids):
    ids = [i for i in ids if i < word_tok.vocab_size]
    assert word_tok.encode(word_tok.decode(ids)) == ids


@given(ids=IDS)
def test_word_tokenizer_decodes_any_id(word_tok, ids):
    text = word_tok.decode(ids)
    assert isinstance(text, str) and all(s not in text for s in ("<pad>", "<s>", "</s>"))


# --------------------------------------------------------------------------- sentencepiece


@pytest.fixture(scope="module")
def sp_tok():
    return SentencePieceTokenizer.train(CORPUS * 5, None, vocab_size=40)


@given(text=TEXT)
def test_sentencepiece_encodes_any_text(sp_tok, text):
    ids = sp_tok.encode(text)
    assert all(0 <= i < sp_tok.vocab_size for i in ids)
    assert len(sp_tok.pieces(text)) == len(ids)


@given(ids=IDS)
def test_sentencepiece_decodes_any_id(sp_tok, ids):
    assert isinstance(sp_tok.decode(ids), str)


@given(text=st.text(alphabet="the cat sat on mat", max_size=40))
def test_sentencepiece_round_trips_known_characters(sp_tok, text):
    assert sp_tok.decode(sp_tok.encode(text)) == " ".join(text.split())


# --------------------------------------------------------------------------- saved vocabularies


def _saved_vocabularies(tmp_path):
    """One saved file of each vocabulary class, with the class that loads it."""
    tagging = Vocab(["<pad>", "<unk>", "中国"], ["<pad>", "<unk>", "中"], ["n", "ns"], {"中国": 2})
    segtag = SegTagVocab(["<pad>", "<unk>", "中"], ["<pad>", "<unk>", "中国"], ["B-ns"], ["中国"])
    summary = WordVocab.build([["a", "b", "b"]], max_size=10)
    word = WordTokenizer.build(CORPUS)
    sp = SentencePieceTokenizer.train(CORPUS * 5, None, vocab_size=40)
    out = []
    for name, obj, load in (
        ("tagging.json", tagging, Vocab.load),
        ("segtag.json", segtag, SegTagVocab.load),
        ("summary.json", summary, WordVocab.load),
        ("word.json", word, WordTokenizer.load),
        ("sp.model", sp, SentencePieceTokenizer.load),
    ):
        obj.save(tmp_path / name)
        out.append((tmp_path / name, load))
    return out


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    return _saved_vocabularies(tmp_path_factory.mktemp("vocabs"))


@given(data=st.data(), which=st.integers(0, 4))
def test_corrupt_vocabulary_files_load_or_are_a_clear_error(tmp_path, saved, data, which):
    valid, load = saved[which]
    path = tmp_path / valid.name
    path.write_bytes(data.draw(broken_bytes(valid.read_bytes())))
    try:
        load(path)
    except AttnkitError as e:
        assert str(path) in str(e)


_JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | TEXT,
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(TEXT, inner, max_size=4),
    max_leaves=10,
)


@given(data=st.data(), which=st.integers(0, 3))
def test_vocabulary_json_with_wrong_fields_is_a_clear_error(tmp_path, saved, data, which):
    """Valid JSON whose fields are dropped, added or replaced by values of another type."""
    valid, load = saved[which]
    fields = json.loads(valid.read_text("utf-8"))
    for key in data.draw(st.lists(st.sampled_from([*fields, "extra"]), max_size=3)):
        if data.draw(st.booleans()):
            fields.pop(key, None)
        else:
            fields[key] = data.draw(_JSON)
    path = tmp_path / valid.name
    path.write_text(json.dumps(fields), encoding="utf-8")
    try:
        load(path)
    except AttnkitError as e:
        assert str(path) in str(e)
