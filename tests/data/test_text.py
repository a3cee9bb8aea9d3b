"""Tokenizers (sentencepiece and words), split hashing and parallel-corpus files."""

from __future__ import annotations

from pathlib import Path

import pytest

from attnkit.data.text import (
    BOS_ID,
    EOS_ID,
    PAD_ID,
    UNK_ID,
    SentencePieceTokenizer,
    Tokenizer,
    WordTokenizer,
    build_tokenizers,
    hash_split,
    load_tokenizer,
    read_parallel,
    require_text,
    write_parallel,
)
from attnkit.errors import AttnkitError

CORPUS = [
    "En el principio creó Dios los cielos y la tierra.",
    "Y la tierra estaba desordenada y vacía.",
    "Y dijo Dios: Sea la luz: y fué la luz.",
    "In the beginning, God created the heavens and the earth.",
    "The earth was formless and empty.",
    "God said, “Let there be light,” and there was light.",
] * 4


@pytest.fixture(scope="module")
def bpe() -> SentencePieceTokenizer:
    return SentencePieceTokenizer.train(CORPUS, None, vocab_size=120, model_type="bpe")


@pytest.mark.parametrize("model_type", ["bpe", "unigram"])
def test_sentencepiece_round_trip_and_specials(tmp_path: Path, model_type: str) -> None:
    tok = SentencePieceTokenizer.train(CORPUS, tmp_path / "sp", 100, model_type=model_type)
    assert (tmp_path / "sp.model").exists() and (tmp_path / "sp.vocab").exists()
    assert [tok.pad_id, tok.unk_id, tok.bos_id, tok.eos_id] == [0, 1, 2, 3]
    assert [tok.id_to_piece(i) for i in range(4)] == ["<pad>", "<unk>", "<s>", "</s>"]
    for text in CORPUS[:6]:
        ids = tok.encode(text)
        assert all(i > EOS_ID for i in ids)
        assert tok.decode(ids) == text
        assert len(tok.pieces(text)) == len(ids)
    ids = tok.encode(CORPUS[0], add_bos=True, add_eos=True)
    assert ids[0] == BOS_ID and ids[-1] == EOS_ID
    assert tok.decode([PAD_ID, *ids, PAD_ID]) == CORPUS[0]
    assert isinstance(tok, Tokenizer)


def test_sentencepiece_is_deterministic() -> None:
    a = SentencePieceTokenizer.train(CORPUS, None, 90, model_type="unigram")
    b = SentencePieceTokenizer.train(CORPUS, None, 90, model_type="unigram")
    assert a._proto == b._proto


def test_sentencepiece_unknown_characters_map_to_unk(bpe: SentencePieceTokenizer) -> None:
    ids = bpe.encode("luz 日本 Ω")
    assert UNK_ID in ids
    assert "luz" in bpe.decode(ids)
    assert bpe.encode("") == []
    assert bpe.decode([]) == ""
    assert bpe.decode([10**6, -5]) == bpe.decode([UNK_ID, UNK_ID])  # out of range: no crash


def test_sentencepiece_save_load(tmp_path: Path, bpe: SentencePieceTokenizer) -> None:
    bpe.save(tmp_path / "m.model")
    again = load_tokenizer(tmp_path / "m.model")
    assert isinstance(again, SentencePieceTokenizer)
    assert again.encode(CORPUS[1]) == bpe.encode(CORPUS[1])
    assert again.vocab_size == bpe.vocab_size


def test_sentencepiece_small_corpus_gives_smaller_vocab() -> None:
    tok = SentencePieceTokenizer.train(["ab ab ba"] * 3, None, 500)
    assert 4 < tok.vocab_size < 500


def test_sentencepiece_bad_input() -> None:
    with pytest.raises(ValueError, match="no text"):
        SentencePieceTokenizer.train(["", "  "], None, 50)
    with pytest.raises(ValueError, match="model_type"):
        SentencePieceTokenizer.train(CORPUS, None, 50, model_type="wordpiece")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="vocab_size"):
        SentencePieceTokenizer.train(CORPUS, None, 3)


def test_load_errors(tmp_path: Path) -> None:
    with pytest.raises(AttnkitError, match="no tokenizer"):
        load_tokenizer(tmp_path / "missing.model")
    (tmp_path / "bad.model").write_bytes(b"not a model")
    with pytest.raises(AttnkitError):
        load_tokenizer(tmp_path / "bad.model")
    (tmp_path / "bad.json").write_text("{", encoding="utf-8")
    with pytest.raises(AttnkitError, match="not a word vocabulary"):
        load_tokenizer(tmp_path / "bad.json")


def test_word_tokenizer_build_encode_decode(tmp_path: Path) -> None:
    tok = WordTokenizer.build(CORPUS, min_freq=1)
    assert tok.tokens[:4] == ["<pad>", "<unk>", "<s>", "</s>"]
    text = "God said, “Let there be light,” and there was light."
    assert tok.pieces(text)[:3] == ["God", "said", ","]
    assert UNK_ID not in tok.encode(text)
    assert tok.decode(tok.encode(text)) == "God said, “Let there be light,” and there was light."
    assert tok.encode("Zebra luz", add_bos=True, add_eos=True) == [
        BOS_ID,
        UNK_ID,
        tok.piece_to_id("luz"),
        EOS_ID,
    ]
    tok.save(tmp_path / "v.json")
    again = load_tokenizer(tmp_path / "v.json")
    assert isinstance(again, WordTokenizer)
    assert again.tokens == tok.tokens
    assert isinstance(tok, Tokenizer)


def test_word_tokenizer_order_cutoff_and_size() -> None:
    tok = WordTokenizer.build(["b a a c c c", "d"], min_freq=2)
    assert tok.tokens[4:] == ["c", "a"]  # by count, then alphabetical
    assert WordTokenizer.build(["b a a c c c"], max_size=5).tokens[4:] == ["c"]
    lower = WordTokenizer.build(["The the THE"], lowercase=True)
    assert lower.tokens[4:] == ["the"]
    assert lower.encode("tHe") == [4]


def test_word_tokenizer_keeps_apostrophes_and_never_crashes() -> None:
    tok = WordTokenizer.build(["don't l'espace"])
    assert tok.pieces("don't l'espace") == ["don't", "l'espace"]
    assert tok.encode("\x00 \u200b 日本 🙂") == [UNK_ID] * 4
    assert tok.decode([999, PAD_ID, EOS_ID]) == "<unk>"
    with pytest.raises(ValueError, match="no text"):
        WordTokenizer.build(["", " "])


@pytest.mark.parametrize("kind", ["bpe", "unigram", "word"])
@pytest.mark.parametrize("joint", [True, False])
def test_build_tokenizers(tmp_path: Path, kind: str, joint: bool) -> None:
    src, tgt = CORPUS[:3] * 3, CORPUS[3:6] * 3
    s_path, t_path = build_tokenizers(kind, src, tgt, tmp_path, joint=joint, vocab_size=80)  # type: ignore[arg-type]
    assert (s_path == t_path) is joint
    s_tok, t_tok = load_tokenizer(s_path), load_tokenizer(t_path)
    assert s_tok.decode(s_tok.encode(src[0])) == src[0]
    assert t_tok.decode(t_tok.encode(tgt[0])) == tgt[0]


def test_require_text() -> None:
    assert require_text("  hola ") == "hola"
    with pytest.raises(ValueError, match="sentence is empty"):
        require_text(" \n", "sentence")


def test_hash_split_is_stable_and_proportional() -> None:
    keys = [f"Gen.{i}" for i in range(4000)]
    first = [hash_split(k, dev=0.1, test=0.2, salt="s") for k in keys]
    assert first == [hash_split(k, dev=0.1, test=0.2, salt="s") for k in keys]
    assert 0.17 < first.count("test") / len(keys) < 0.23
    assert 0.07 < first.count("dev") / len(keys) < 0.13
    assert first != [hash_split(k, dev=0.1, test=0.2, salt="other") for k in keys]
    with pytest.raises(ValueError):
        hash_split("x", dev=0.6, test=0.5)


def test_parallel_files_round_trip(tmp_path: Path) -> None:
    pairs = [("uno\ndos", "one\ttwo"), ("tres", "three  "), ("a\u2028b", "c")]
    write_parallel(tmp_path, "dev", ("es", "en"), pairs, keys=["k1", "k2", "k3"])
    assert read_parallel(tmp_path, "dev", ("es", "en")) == [
        ("uno dos", "one two"),
        ("tres", "three"),
        ("a b", "c"),
    ]
    assert (tmp_path / "keys.dev").read_text() == "k1\nk2\nk3\n"


def test_read_parallel_errors(tmp_path: Path) -> None:
    with pytest.raises(AttnkitError, match="unknown split"):
        read_parallel(tmp_path, "valid", ("es", "en"))
    with pytest.raises(AttnkitError, match="fetch the corpus"):
        read_parallel(tmp_path, "test", ("es", "en"))
    (tmp_path / "test.es").write_text("a\nb\n")
    (tmp_path / "test.en").write_text("a\n")
    with pytest.raises(AttnkitError, match="has 2 lines"):
        read_parallel(tmp_path, "test", ("es", "en"))
