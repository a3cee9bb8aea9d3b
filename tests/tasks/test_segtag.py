"""The segtag task: raw Chinese text segmented and tagged by one character-level model."""

import json

import pytest

from attnkit.cli import main
from attnkit.data import segtag
from attnkit.tasks import get_task, open_run

TASK = get_task("segtag")


def test_held_out_scores_are_what_each_sentence_alone_gives(tiny_segtag_run, use_home):
    """The batched evaluation against predict() on each test sentence's raw text."""
    run_dir, summary, home = tiny_segtag_run
    use_home(home)
    run = open_run(run_dir)
    test = segtag.load_splits(run.config.data)["test"]
    pred = []
    for s in test:
        out = TASK.predict(run, ["".join(s.words)])[0]
        assert "".join(out["words"]) == "".join(s.words)
        spans, pos = [], 0
        for w, t in zip(out["words"], out["tags"], strict=True):
            spans.append((pos, pos + len(w), t))
            pos += len(w)
        pred.append(spans)
    again = segtag.scores([segtag.gold_spans(s) for s in test], pred)
    assert summary["test_segmentation_f1"] == pytest.approx(again["segmentation_f1"])
    assert summary["test_joint_f1"] == pytest.approx(again["joint_f1"])
    assert summary["test_gold_words"] == 744
    # a character model trained on 6,679 tokens segments well above chance (one-character
    # words everywhere would score much lower), and jieba was scored on the same text
    singles = segtag.scores(
        [segtag.gold_spans(s) for s in test],
        [[(i, i + 1, "n") for i in range(len("".join(s.words)))] for s in test],
    )
    assert summary["test_segmentation_f1"] > singles["segmentation_f1"] + 0.2
    assert 0.5 < summary["test_jieba_segmentation_f1"] < 1


def test_full_width_and_ascii_text_give_the_same_words_and_tags(tiny_segtag_run):
    run = open_run(tiny_segtag_run[0])
    ascii_, wide = TASK.predict(
        run, ["2024年3月15日北京发布ABC手机", "２０２４年３月１５日北京发布ＡＢＣ手机"]
    )
    assert ascii_["tags"] == wide["tags"]
    assert [len(w) for w in ascii_["words"]] == [len(w) for w in wide["words"]]
    assert (
        "".join(wide["words"]) == "２０２４年３月１５日北京发布ＡＢＣ手机"
    )  # as the user wrote it


def test_given_words_are_kept_and_only_tagged(tiny_segtag_run):
    run = open_run(tiny_segtag_run[0])
    words = ["北京", "举", "行新", "年音乐会"]  # a segmentation the model would not choose
    out = TASK.predict(run, [" ".join(words)], segmented=True)[0]
    assert out["words"] == words and len(out["tags"]) == 4
    jieba = TASK.predict(run, ["北京举行新年音乐会"], segmenter="jieba")[0]
    from attnkit.tasks.tag import segment

    assert jieba["words"] == segment("北京举行新年音乐会")


def test_attnkit_tag_with_a_segtag_run(tiny_segtag_run, monkeypatch, capsys, tmp_path):
    run_dir = tiny_segtag_run[0]
    monkeypatch.setattr("attnkit.viz.use_cjk_font", lambda: False)
    assert main(["tag", "--model", str(run_dir), "--json", "北京举行新年音乐会"]) == 0
    words = json.loads(capsys.readouterr().out)
    want = TASK.predict(open_run(run_dir), ["北京举行新年音乐会"])[0]
    assert [w["word"] for w in words] == want["words"] and [w["tag"] for w in words] == want["tags"]
    png = tmp_path / "a.png"
    assert main(["tag", "--model", str(run_dir), "--plot", str(png), "北京举行新年音乐会"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["tag", "--model", str(run_dir), "--segmenter", "nltk", "北京"]) == 1
    assert "segmenter must be one of model, jieba" in capsys.readouterr().err
