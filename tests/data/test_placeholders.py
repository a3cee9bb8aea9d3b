"""Placeholders: masking round-trips, the spans picked, the training augmentation, tokenizers
that keep the symbols whole."""

from __future__ import annotations

import re

import pytest
from hypothesis import given
from hypothesis import strategies as st

from attnkit.data.placeholders import (
    PLACEHOLDER_PATTERN,
    PLACEHOLDERS,
    Masked,
    augment_pairs,
    mask,
    supports,
)
from attnkit.data.text import build_tokenizers, load_tokenizer
from attnkit.specials import SPECIAL_TOKENS

# Words a user types: plain, capitalised, numbers in local formats, symbols, URLs, unseen
# letters, punctuation around them, and text that looks like a placeholder.
WORDS = st.sampled_from(
    [
        "gatos", "Tengo", "y", "3", "12", "3,5", "1.500", "9:30", "2023-117", "v2.4.1",
        "(2024).", "¿42?", "«7»", "10€", "$5", "50%", "→", "www.ejemplo.es", "a@b.es",
        "https://x.org/a?b=1", "Zoë", "ß", "...", "—", "¡", "912", "345", "⟦", "⟧x",
    ]
)  # fmt: skip
LITERAL = st.sampled_from(["⟦1⟧", "⟦3⟧", "a⟦2⟧b", "⟦99⟧"])
SPACES = st.sampled_from([" ", "  ", "\t", " \n "])


def _join(words: list[str], gaps: list[str]) -> str:
    return "".join(w + g for w, g in zip(words, gaps, strict=False)) + "".join(words[len(gaps) :])


sentences = st.builds(_join, st.lists(WORDS, max_size=30), st.lists(SPACES, max_size=30))


def _unknown(word: str) -> bool:
    return any(c in "ëß" for c in word)


@given(text=sentences)
def test_unmask_of_the_masked_text_gives_the_text_back(text):
    masked = mask(text, unknown=_unknown)
    assert masked.unmask(masked.text) == text


@given(words=st.lists(st.one_of(WORDS, LITERAL), max_size=8), gaps=st.lists(SPACES, max_size=8))
def test_text_that_looks_like_a_placeholder_comes_back_as_typed(words, gaps):
    """Eight words at most, so every span gets a placeholder: a literal ``⟦1⟧`` (it has a
    digit) is a span itself."""
    text = _join(words, gaps)
    masked = mask(text, unknown=_unknown)
    assert masked.unmask(masked.text) == text


@given(text=sentences)
def test_placeholders_are_numbered_in_order_and_hide_every_digit(text):
    masked = mask(text, unknown=_unknown)
    order = list(dict.fromkeys(re.findall(PLACEHOLDER_PATTERN, masked.text)))
    assert order == list(PLACEHOLDERS[: len(masked.spans)]) == list(masked.spans)
    assert len(set(masked.spans.values())) == len(masked.spans)  # one placeholder per span
    for span in masked.spans.values():
        assert span in text and span == span.strip()
    if len(masked.spans) < len(PLACEHOLDERS):  # nothing left over: no digit, no unseen letter
        rest = re.sub(PLACEHOLDER_PATTERN, "", masked.text)
        assert not any(c.isdigit() or c in "ëß€$%→@" for c in rest), rest


@pytest.mark.parametrize(
    ("text", "masked", "spans"),
    [
        ("Tengo 3 gatos.", "Tengo ⟦1⟧ gatos.", ["3"]),
        ("¿A las 9:30 o a las 10:00?", "¿A las ⟦1⟧ o a las ⟦2⟧?", ["9:30", "10:00"]),
        ("Llame al 912 345 678.", "Llame al ⟦1⟧.", ["912 345 678"]),  # one phone number
        ("Entre 2 y 345 hay 3 200", "Entre ⟦1⟧ y ⟦2⟧ hay ⟦3⟧", ["2", "345", "3 200"]),
        ("(2024), 10€ y 50%", "(⟦1⟧), ⟦2⟧ y ⟦3⟧", ["2024", "10€", "50%"]),
        ("Ve a www.ejemplo.es o https://x.org/a.", "Ve a ⟦1⟧ o ⟦2⟧.", None),
        ("Escribe a ana@correo.es hoy", "Escribe a ⟦1⟧ hoy", ["ana@correo.es"]),
        ("3 gatos y 3 perros", "⟦1⟧ gatos y ⟦1⟧ perros", ["3"]),  # the same span, one number
        ("Vi a Zoë ayer", "Vi a ⟦1⟧ ayer", ["Zoë"]),  # the tokenizer cannot represent it
        ("Sin números ni nombres raros.", "Sin números ni nombres raros.", []),
    ],
)
def test_the_spans_picked(text, masked, spans):
    got = mask(text, unknown=_unknown)
    assert got.text == masked
    if spans is not None:
        assert list(got.spans.values()) == spans


def test_spans_past_the_eighth_stay_as_typed():
    text = " ".join(str(n) for n in range(10, 20))  # ten different numbers
    masked = mask(text)
    assert masked.text == " ".join([*PLACEHOLDERS, "18", "19"])
    assert masked.unmask("⟦8⟧ ⟦1⟧") == "17 10"


def test_unmask_drops_placeholders_the_input_did_not_have():
    masked = Masked("uno ⟦1⟧ dos", {"⟦1⟧": "42"})
    assert masked.unmask("one ⟦1⟧ two ⟦1⟧") == "one 42 two 42"
    assert masked.unmask("⟦2⟧ one ⟦1⟧ ⟦3⟧ two") == "one 42 two"
    assert masked.unmask("one two") == "one two"
    assert masked.restore("⟦1⟧") == "42" and masked.restore("⟦2⟧") == "⟦2⟧"
    assert Masked("a", {}).unmask("x  y") == "x  y"  # nothing to do: untouched


# --------------------------------------------------------------------------- augmentation

PAIRS = [
    ("Y David dijo a Natán: Ve a Israel", "And David said to Nathan: Go to Israel"),
    ("Vi a Ana y a Luis en 2020", "I saw Ana and Louis in 2020"),
    ("Daniel y Dan vinieron", "Daniel and Dan came"),
    ("sin nombres aquí", "no names here"),
    ("No temas", "No one fears"),
]


def _renumbered(text: str) -> str:
    """Placeholders renumbered 1, 2, ... in order of first appearance."""
    order = dict.fromkeys(re.findall(r"⟦\d⟧", text))
    names = {p: f"⟦{i}⟧" for i, p in enumerate(order, 1)}
    return re.sub(r"⟦\d⟧", lambda m: names[m.group(0)], text)


def test_augmentation_replaces_only_names_both_sides_share_verbatim():
    got = augment_pairs(PAIRS, 1.0, seed=0)
    for src, tgt in got:  # one numbering for both sides, consecutive from a random first one
        numbers = [int(n) for n in dict.fromkeys(re.findall(r"⟦(\d)⟧", src))]
        assert numbers == list(range(numbers[0], numbers[0] + len(numbers))) if numbers else True
        assert sorted(set(re.findall(r"⟦\d⟧", tgt))) == sorted(set(re.findall(r"⟦\d⟧", src)))
    pairs = [(_renumbered(s), tgt) for s, tgt in got]
    got = [(s, _renumbered_like(t, src)) for (s, t), (src, _) in zip(pairs, got, strict=True)]
    assert got == [
        ("Y ⟦1⟧ dijo a Natán: Ve a ⟦2⟧", "And ⟦1⟧ said to Nathan: Go to ⟦2⟧"),
        ("Vi a ⟦1⟧ y a Luis en ⟦2⟧", "I saw ⟦1⟧ and Louis in ⟦2⟧"),  # Luis/Louis: not verbatim
        ("⟦1⟧ y ⟦2⟧ vinieron", "⟦1⟧ and ⟦2⟧ came"),  # whole words: Dan is not inside Daniel
        ("sin nombres aquí", "no names here"),
        ("⟦1⟧ temas", "⟦1⟧ one fears"),  # capitalised on both sides: the names rule takes it
    ]
    assert augment_pairs(PAIRS, 0.0, seed=0) == PAIRS


def _renumbered_like(text: str, reference: str) -> str:
    """``text`` with placeholders renumbered as :func:`_renumbered` renumbers ``reference``."""
    order = dict.fromkeys(re.findall(r"⟦\d⟧", reference))
    names = {p: f"⟦{i}⟧" for i, p in enumerate(order, 1)}
    return re.sub(r"⟦\d⟧", lambda m: names[m.group(0)], text)


def test_every_placeholder_is_trained_not_only_the_first():
    pairs = [(f"Vi a Ana y a Bea {i}", f"I saw Ana and Bea {i}") for i in range(400)]
    used = {p for src, _ in augment_pairs(pairs, 1.0, seed=0) for p in re.findall(r"⟦\d⟧", src)}
    assert used == set(PLACEHOLDERS)


def test_the_same_name_gets_the_same_number_and_at_most_eight_are_replaced():
    names = ["Ana", "Bea", "Carlos", "Diego", "Elena", "Fabio", "Gema", "Hugo", "Inés"]
    src = " y ".join(names) + " y Ana"
    got_src, got_tgt = augment_pairs([(src, src.replace(" y ", " and "))], 1.0, seed=3)[0]
    assert got_src == " y ".join([*PLACEHOLDERS, "Inés"]) + " y ⟦1⟧"
    assert got_tgt == got_src.replace(" y ", " and ")


def test_augmentation_is_deterministic_for_the_seed_and_takes_the_share_asked():
    pairs = [(f"Vi a Ana {i} veces", f"I saw Ana {i} times") for i in range(1000)]
    changed = [i for i, (s, _) in enumerate(augment_pairs(pairs, 0.2, seed=1)) if "⟦" in s]
    assert 150 <= len(changed) <= 250  # 200 expected; binomial sd 12.6
    again = [i for i, (s, _) in enumerate(augment_pairs(pairs, 0.2, seed=1)) if "⟦" in s]
    assert again == changed
    reversed_run = augment_pairs(pairs[::-1], 0.2, seed=1)[::-1]  # order does not matter
    assert [i for i, (s, _) in enumerate(reversed_run) if "⟦" in s] == changed
    other = [i for i, (s, _) in enumerate(augment_pairs(pairs, 0.2, seed=2)) if "⟦" in s]
    assert other != changed


def test_a_bad_rate_is_a_clear_error():
    with pytest.raises(ValueError, match=r"between 0 and 1, got 1\.5"):
        augment_pairs(PAIRS, 1.5, seed=0)


# --------------------------------------------------------------------------- tokenizers


@pytest.mark.parametrize("kind", ["bpe", "word"])
def test_tokenizers_built_with_the_symbols_keep_them_whole(tmp_path, kind):
    src = ["uno ⟦1⟧ dos", "tres cuatro", "cinco seis uno"] * 10
    tgt = ["one ⟦1⟧ two", "three four", "five six one"] * 10
    path, _ = build_tokenizers(
        kind, src, tgt, tmp_path / "new", joint=True, vocab_size=60, symbols=PLACEHOLDERS
    )
    old_path, _ = build_tokenizers(kind, src, tgt, tmp_path / "old", joint=True, vocab_size=60)
    tok, old = load_tokenizer(path), load_tokenizer(old_path)
    assert supports(tok) and not supports(old)
    ids = [tok.piece_to_id(p) for p in PLACEHOLDERS]
    assert sorted(ids) == list(range(len(SPECIAL_TOKENS), len(SPECIAL_TOKENS) + 8))
    for p, i in zip(PLACEHOLDERS, ids, strict=True):  # one piece wherever it stands
        assert i in tok.encode(f"uno {p} dos") and i in tok.encode(f"x{p}y")
    assert tok.decode(tok.encode("uno ⟦7⟧ dos")) == "uno ⟦7⟧ dos"
