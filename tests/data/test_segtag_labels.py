"""Character labels for joint segmentation and tagging: round trips, repairs, scores."""

from pathlib import Path

import pytest
import torch

from attnkit.data import pku, segtag

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "pku_heldout.txt"


def test_labels_round_trip_every_gold_sentence():
    for s in pku.read_corpus(FIXTURE):
        chars, labels = segtag.char_labels(s)
        assert "".join(chars) == "".join(s.words)
        assert segtag.spans(labels) == segtag.gold_spans(s)
        assert segtag.words_and_tags("".join(chars), labels) == (list(s.words), list(s.tags))


@pytest.mark.parametrize(
    ("labels", "expected"),
    [
        (["I-n", "E-n"], [(0, 2, "n")]),  # no B: the I starts the word
        (["B-n", "E-v"], [(0, 1, "n"), (1, 2, "v")]),  # the tag changes: two words
        (["B-n", "I-n"], [(0, 2, "n")]),  # no E at the end
        (["B-n", "S-v", "E-n"], [(0, 1, "n"), (1, 2, "v"), (2, 3, "n")]),
    ],
)
def test_any_label_sequence_gives_words(labels, expected):
    assert segtag.spans(labels) == expected


def test_scores_by_hand():
    gold = [[(0, 2, "ns"), (2, 4, "v"), (4, 5, "r")]]
    pred = [[(0, 2, "ns"), (2, 3, "v"), (3, 4, "v"), (4, 5, "n")]]
    out = segtag.scores(gold, pred, oov=[[False, True, False]])
    # segmentation: 2 of 4 predicted words right, 2 of 3 gold found: P 1/2, R 2/3
    assert out["segmentation_f1"] == pytest.approx(2 * (1 / 2) * (2 / 3) / (1 / 2 + 2 / 3))
    assert out["joint_f1"] == pytest.approx(2 * (1 / 4) * (1 / 3) / (1 / 4 + 1 / 3))
    assert out["oov_recall"] == 0.0 and out["oov_words"] == 1


def test_full_width_and_ascii_are_the_same_characters():
    train = [pku.Sentence(("２０２４年", "3月"), ("t", "t"), "d")]
    vocab = segtag.SegTagVocab.build(train, segtag.SegTagDataConfig(min_bigram_count=1))
    a, ab = vocab.encode_text("2024年３月")
    b, bb = vocab.encode_text("２０２４年3月")
    assert torch.equal(a, b) and torch.equal(ab, bb)
    assert (a != 1).all()  # every character known (1 = <unk>)
    assert not vocab.is_oov("2024年") and vocab.is_oov("4月")


def test_allowed_labels_follow_the_given_words():
    train = [pku.Sentence(("北京", "好"), ("ns", "a"), "d")]
    vocab = segtag.SegTagVocab.build(train, segtag.SegTagDataConfig(min_bigram_count=1))
    allowed = vocab.allowed(["北京", "好"])  # (3, T)
    marks = [[lab[0] for lab, ok in zip(vocab.labels, row, strict=True) if ok] for row in allowed]
    assert [set(m) for m in marks] == [{"B"}, {"E"}, {"S"}]
