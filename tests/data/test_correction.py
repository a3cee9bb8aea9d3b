"""Spelling-correction data: text that round-trips, codespell's pairs, the held-out rule (checked
on the fixture corpus), deterministic injection, and the candidate generator against brute
force."""

import random

import pytest

from attnkit.data import correction as C
from attnkit.data.spell_candidates import (
    EDIT_SHAPES,
    CandidateGenerator,
    SpellIndex,
    deletes,
    edit_distance,
    edit_shapes,
)
from attnkit.errors import AttnkitError
from attnkit.paths import dataset_dir

HELD_OUT = {"dev": 0.2, "test": 0.2, "pair_dev": 0.25, "pair_test": 0.25, "frequent": 0.3}


@pytest.fixture
def corpus(tiny_correction):
    return C.build_corpus(C.SOURCES, **HELD_OUT)


@pytest.mark.parametrize(
    "text",
    [
        "Thier recieved teh letter yesterday",
        "  Two  spaces,\ttabs\nand a new line. ",
        "Yahweh’s word: “it’s here” (they're there) — 3.14 libfoo-dev x86_64 café!",
        "",
    ],
)
def test_text_round_trips(text):
    tokens, gaps = C.split_text(text)
    assert C.join_text(tokens, gaps) == text
    assert all(t.strip() == t and t for t in tokens) and all(not g.strip() for g in gaps)


def test_only_plain_words_are_checkable():
    tokens, gaps = C.split_text("(Teh) libfoo-dev x86 it’s café, end.")
    plain = [t for i, t in enumerate(tokens) if C.checkable(tokens, gaps, i)]
    assert plain == ["Teh", "it’s", "end"]


def test_case_and_apostrophes_are_kept():
    assert C.match_case("received", "RECIEVED") == "RECEIVED"
    assert C.match_case("they're", "There", "’") == "They’re"
    assert C.normalize("It’S") == "it's"


def test_codespell_keeps_single_lowercase_non_words(tiny_correction):
    words = C.read_wamerican(dataset_dir("wamerican") / C.WAMERICAN_FILE)
    pairs = C.read_codespell(dataset_dir("codespell") / C.CODESPELL_FILE, words)
    found = {p.misspelling: p.correction for p in pairs}
    assert found["recieved"] == "received" and found["teh"] == "the"
    # several corrections, a reason, capitals, a real word, a digit: all left out
    for dropped in ("aache", "boath", "recieve", "Teh", "form", "x1y"):
        assert dropped not in found
    assert len(pairs) == 60 - 6


def test_pairs_split_by_correct_word_with_frequent_words_in_train():
    pairs = [C.Pair(f"{w}x", w) for w in ("the", "their", "house", "garden", "river")]
    pairs.append(C.Pair("hosue", "house"))
    df = {"the": 90, "house": 5}
    groups = C.split_pairs(pairs, df, 100, dev=0.3, test=0.3, frequent=0.5)
    assert "the" in groups["train"] and "their" in groups["train"]  # frequent, confusable
    owner = [s for s in groups if "house" in groups[s]]
    assert len(owner) == 1 and groups[owner[0]]["house"] == ("hosue", "housex")
    assert groups == C.split_pairs(pairs, df, 100, dev=0.3, test=0.3, frequent=0.5)


def test_the_held_out_rule_holds(corpus):
    """Test / dev words and their misspellings: in no training sentence, no injected
    training error, no lexicon; test sentences are never training sentences."""
    train_texts = {t for _, t in corpus.sentences["train"]}
    for split in ("dev", "test"):
        assert corpus.sentences[split] and corpus.pairs[split]
        assert train_texts.isdisjoint(t for _, t in corpus.sentences[split])
    held_words = {w for s in ("dev", "test") for c, ms in corpus.pairs[s].items() for w in (c, *ms)}
    for _, text in corpus.sentences["train"]:
        assert held_words.isdisjoint(C.normalize(t) for t in C.split_text(text)[0])
    misspellings = {m for group in corpus.pairs.values() for ms in group.values() for m in ms}
    assert misspellings.isdisjoint(corpus.lexicon) and misspellings.isdisjoint(corpus.listed)
    generator = CandidateGenerator(corpus.lexicon, partners=C.confusion_partners())
    assert misspellings.isdisjoint(generator.index.words)
    assert held_words.isdisjoint(corpus.frequent)  # no held-out word has its own embedding
    train_pairs = corpus.pairs["train"]
    allowed = {m for ms in train_pairs.values() for m in ms}
    examples = corpus.examples("train", seed=0, nonword_rate=1.0, realword_rate=1.0)
    injected = [
        C.normalize(t)
        for ex in examples
        for t, k in zip(ex.tokens, ex.kinds, strict=True)
        if k == "nonword"
    ]
    assert injected and set(injected) <= allowed
    test = corpus.examples("test", seed=0, nonword_rate=1.0, realword_rate=1.0)
    test_typos = {
        C.normalize(t)
        for ex in test
        for t, k in zip(ex.tokens, ex.kinds, strict=True)
        if k == "nonword"
    }
    assert test_typos and test_typos <= {m for ms in corpus.pairs["test"].values() for m in ms}


def test_the_corpus_is_deterministic(corpus):
    again = C.build_corpus(C.SOURCES, **HELD_OUT)
    assert again.sentences == corpus.sentences and again.pairs == corpus.pairs
    assert again.lexicon == corpus.lexicon and again.stats == corpus.stats
    assert {s for s, _ in corpus.sentences["train"]} == set(C.SOURCES)


def test_injection_is_deterministic_and_round_trips(corpus):
    args = {"nonword_rate": 0.7, "realword_rate": 0.7}
    first = corpus.examples("train", seed=3, **args)
    assert first == corpus.examples("train", seed=3, **args)
    assert first != corpus.examples("train", seed=4, **args)
    kinds = set()
    for ex, (source, text) in zip(first, corpus.sentences["train"], strict=True):
        assert ex.clean_text == text and ex.source == source
        assert len(ex.tokens) == len(ex.target) == len(ex.kinds) == len(ex.gaps) - 1
        for tok, want, kind in zip(ex.tokens, ex.target, ex.kinds, strict=True):
            assert (tok != want) == (kind != "clean")
            if kind == "realword":
                assert C.normalize(tok) in C.confusion_partners()[C.normalize(want)]
        assert sum(k == "nonword" for k in ex.kinds) <= 1 >= sum(k == "realword" for k in ex.kinds)
        kinds |= set(ex.kinds)
    assert kinds == set(C.KINDS)


def test_injection_keeps_capitals_and_the_apostrophe():
    ex = C.inject("Their dog’s house.", seed=0, misspellings={"house": ["hosue"]},
                  partners={"their": ["they're"]}, nonword_rate=1, realword_rate=1)  # fmt: skip
    assert ex.text == "They’re dog’s hosue." and ex.clean_text == "Their dog’s house."


def test_unknown_sources_and_missing_files_are_clear_errors(tmp_path):
    with pytest.raises(AttnkitError, match="sources must be some of"):
        C.build_corpus(["news"], **HELD_OUT)
    with pytest.raises(AttnkitError, match="attnkit data get wamerican"):
        C.read_wamerican(tmp_path / "none")


# --------------------------------------------------------------------------- candidates


def osa_reference(a: str, b: str) -> int:
    """Optimal string alignment distance, the textbook full table."""
    d = [[0] * (len(b) + 1) for _ in range(len(a) + 1)]
    for i in range(len(a) + 1):
        d[i][0] = i
    for j in range(len(b) + 1):
        d[0][j] = j
    for i in range(1, len(a) + 1):
        for j in range(1, len(b) + 1):
            d[i][j] = min(
                d[i - 1][j] + 1, d[i][j - 1] + 1, d[i - 1][j - 1] + (a[i - 1] != b[j - 1])
            )
            if i > 1 and j > 1 and a[i - 1] == b[j - 2] and a[i - 2] == b[j - 1]:
                d[i][j] = min(d[i][j], d[i - 2][j - 2] + 1)
    return d[-1][-1]


def _word(rng: random.Random, n: int) -> str:
    return "".join(rng.choice("abcde") for _ in range(n))


def test_edit_distance_matches_the_reference():
    rng = random.Random(0)
    for _ in range(400):
        a, b = _word(rng, rng.randint(0, 7)), _word(rng, rng.randint(0, 7))
        assert edit_distance(a, b) == osa_reference(a, b)
        assert edit_distance(a, b, limit=2) == min(osa_reference(a, b), 3)
    assert deletes("ab", 2) == {"ab", "a", "b", ""}


def test_the_deletion_index_finds_what_brute_force_finds():
    """Every word within distance 2, none more, ranked by (distance, frequency, word), on a
    small alphabet (many near neighbours) with words longer than the indexed prefix."""
    rng = random.Random(1)
    words = {_word(rng, rng.randint(1, 11)): rng.randint(0, 50) for _ in range(600)}
    index = SpellIndex(words, max_distance=2, prefix=5)
    for _ in range(150):
        token = _word(rng, rng.randint(1, 11))
        expected = sorted((osa_reference(token, w), -f, w) for w, f in words.items()
                          if osa_reference(token, w) <= 2)  # fmt: skip
        assert index.lookup(token) == [(w, d) for d, _, w in expected]
        assert index.lookup(token, max_distance=1) == [(w, d) for d, _, w in expected if d <= 1]


def test_candidates_keep_first_then_partners_or_neighbours():
    gen = CandidateGenerator({"the": 90, "then": 20, "than": 10, "she": 40, "tea": 5, "thee": 1},
                             partners={"then": ("than",)}, limit=4)  # fmt: skip
    assert [c.word for c in gen.candidates("Teh")] == ["teh", "the", "tea", "she"]  # 1, 1, 2
    assert gen.candidates("teh")[0].keep and gen.candidates("teh")[1].distance == 1
    assert [(c.word, c.partner) for c in gen.candidates("then")] == [
        ("then", False),
        ("than", True),
    ]
    assert [c.word for c in gen.candidates("she")] == ["she"]  # known, no partners: keep only
    assert [c.word for c in gen.candidates("thee", known=False)][:3] == ["thee", "the", "then"]
    with pytest.raises(ValueError, match="limit must be >= 2"):
        CandidateGenerator({}, partners={}, limit=1)


@pytest.mark.parametrize(
    ("typo", "word", "shapes"),
    [
        ("teh", "the", {"transposed", "anagram", "consonants", "first"}),
        ("adress", "address", {"longer", "doubling", "first"}),
        ("untill", "until", {"shorter", "doubling", "first"}),
        ("fugure", "figure", {"adjacent_key", "vowel", "consonants", "first"}),  # u, i: keys
        ("fugure", "future", {"adjacent_key", "first"}),  # g, t: neighbours across rows
        ("ponts", "points", {"longer", "consonants", "first"}),
        ("wice", "vice", set()),  # w and v: far apart, no vowel, other first letter
        ("thnig", "thing", {"transposed", "anagram", "consonants", "first"}),
        ("seperate", "separate", {"vowel", "consonants", "first"}),
    ],
)
def test_edit_shapes_describe_the_slip(typo, word, shapes):
    """Hand-checked shapes (a QWERTY keyboard: g touches t and y above it, u touches i)."""
    assert edit_shapes(typo, word) == shapes and shapes <= set(EDIT_SHAPES)
    assert edit_shapes(word, word) == {"consonants", "anagram", "first"}  # nothing slipped


def test_fetch_one_file_names_the_missing_file(tmp_path):
    """The fetchers' shared step: a package without the file is a clear error, and nothing
    is left in the destination."""
    from attnkit.data.fetch import fetch_one_file

    def empty_package(tmp):
        (tmp / "codespell_lib").mkdir()
        return tmp

    dest = tmp_path / "codespell"
    with pytest.raises(
        AttnkitError, match=r"codespell==9 has no codespell_lib/data/dictionary.txt"
    ):
        fetch_one_file(empty_package, "codespell_lib/data/dictionary.txt", dest,
                       source="codespell==9", readme="x")  # fmt: skip
    assert not dest.exists()
