"""The tag task: input checks, segmentation, vocab/batching, jieba baseline, train->eval->CLI.

The trained run comes from ``tiny_tag_run``: a small tagger trained on the train split of 120
real People's Daily paragraphs and scored on 29 held-out test sentences (744 tokens).
"""

import json
from collections import Counter
from pathlib import Path

import pytest
import torch

from attnkit.cli import main
from attnkit.data import pku, tagging
from attnkit.errors import AttnkitError
from attnkit.specials import UNK_ID
from attnkit.tasks import get_task, open_run, tag

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "pku_sample.txt"
TASK = get_task("tag")


@pytest.mark.parametrize("text", ["", "   ", "\n\t"])
def test_empty_input_is_rejected(text):
    with pytest.raises(AttnkitError, match="empty input"):
        tag.check_input(text)


@pytest.mark.parametrize("text", ["hello world", "12345", "!!!", "こんにちは"])
def test_non_chinese_input_is_rejected(text):
    with pytest.raises(AttnkitError, match="no Chinese characters"):
        tag.check_input(text)


def test_mixed_latin_and_digits_inside_chinese_are_segmented():
    words = tag.segment("我有3个iPhone和２部ＡＰＥＣ手机")
    assert "".join(words) == "我有3个iPhone和２部ＡＰＥＣ手机"  # the user's characters come back
    assert "iPhone" in words and "ＡＰＥＣ" in words
    assert tag.segment(" 我 爱  北京 ", segmented=True) == ["我", "爱", "北京"]
    assert tag.segment("今天 天气") == ["今天", "天气"]  # spaces are not words


def _vocab():
    train = pku.read_corpus(FIXTURE)
    cfg = tagging.TagDataConfig(min_word_count=1, min_char_count=1, max_chars=4)
    return tagging.Vocab.build(train, cfg)


def test_vocab_encoding_oov_and_full_width():
    vocab = _vocab()
    w, c = vocab.encode_words(["1998年", "１２月", "没见过的词语", "中国"])
    assert w[0] == UNK_ID and not vocab.is_oov("中国") and vocab.is_oov("1998年")
    assert not vocab.is_oov("12月")  # full-width and ASCII digits are one word after NFKC
    assert c.shape == (4, 4)  # 没见过的词语 (6 chars) keeps its first 2 and last 2
    assert c[2].tolist() == [vocab.char_id.get(ch, UNK_ID) for ch in "没见词语"]
    assert c[3, 2:].tolist() == [0, 0]
    assert vocab.encode_tags(["n", "no-such-tag"]).tolist() == [vocab.tag_id["n"], -1]


def test_batches_use_the_shared_token_batching_and_pad_consistently():
    vocab = _vocab()
    ex = tagging.encode(pku.read_corpus(FIXTURE), vocab)
    a = tagging.batches(ex, 20, shuffle=True, seed=3, epoch=0)
    assert a.groups == tagging.batches(ex, 20, shuffle=True, seed=3, epoch=0).groups
    assert a.groups != tagging.batches(ex, 20, shuffle=True, seed=3, epoch=1).groups
    assert sorted(i for b in a.groups for i in b) == list(range(len(ex)))
    for b in a.groups:
        assert len(b) == 1 or max(len(ex[i][0]) for i in b) * len(b) <= 20
    batch = a[0]
    assert batch["mask"].sum() == sum(len(ex[i][0]) for i in a.groups[0])
    assert batch["chars"].shape[:2] == batch["words"].shape
    for row, i in enumerate(a.groups[0]):  # padding never changes a sentence's own ids
        n = len(ex[i][0])
        assert batch["words"][row, :n].tolist() == ex[i][0].tolist()
        assert batch["tags"][row, :n].tolist() == ex[i][2].clamp(min=0).tolist()


def test_most_frequent_tag_counts_oov_like_the_tagger():
    """One OOV definition, by normalised form: ``１２月`` is known once ``12月`` was seen."""
    train = [pku.Sentence(("12月", "好", "明天"), ("t", "a", "t"), "d")]
    test = [pku.Sentence(("１２月", "坏"), ("t", "a"), "d")]
    out = pku.most_frequent_tag_baseline(train, test)
    assert out["oov_rate"] == 0.5  # only 坏
    assert out["accuracy"] == 0.5  # １２月 -> t (looked up normalised); 坏 -> the default t
    vocab = tagging.Vocab.build(train, tagging.TagDataConfig(min_word_count=1))
    assert [vocab.is_oov(w) for w in test[0].words] == [False, True]


def test_jieba_baseline_mapping_and_segmentation_scoring():
    sents = [
        pku.Sentence(("我", "爱", "北京", "。"), ("r", "v", "ns", "w"), "d"),
        pku.Sentence(("江", "泽民", "说", "的", "话"), ("nr", "nr", "v", "u", "n"), "d"),
    ]
    out = tag.jieba_baseline(sents)
    # jieba writes 江泽民 and 的话 as one word each: four gold tokens it cannot get right.
    assert out["segmentation_agreement"] == pytest.approx(5 / 9)
    assert out["accuracy"] == pytest.approx(out["accuracy_where_segmentation_agrees"] * 5 / 9)
    assert out["accuracy_where_segmentation_agrees"] == 1.0  # 的/uj -> u, 。/x -> w


def test_held_out_accuracy_is_what_tagging_each_sentence_alone_gives(tiny_tag_run, use_home):
    """The batched evaluation (length buckets, padding, CRF masks) against the plain path:
    every test sentence tagged on its own through ``predict``, compared with gold."""
    run_dir, summary, home = tiny_tag_run
    use_home(home)
    run = open_run(run_dir)
    test = tagging.load_splits(run.config.data)["test"]
    correct = total = 0
    for sent in test:
        got = TASK.predict(run, [" ".join(sent.words)], segmented=True)[0]["tags"]
        correct += sum(g == t for g, t in zip(got, sent.tags, strict=True))
        total += len(sent)
    assert total == 744 and summary["test_tokens"] == 744
    assert summary["test_accuracy"] == pytest.approx(correct / total)
    # better than tagging every word with the most common test tag, and on words never seen in
    # training better than the most-frequent-tag baseline (which can only guess the default)
    majority = Counter(t for s in test for t in s.tags).most_common(1)[0][1] / total
    assert summary["test_accuracy"] > majority + 0.3
    assert summary["test_oov_accuracy"] > summary["test_most_frequent_tag_oov_accuracy"] + 0.05


def test_train_ends_like_every_task_and_eval_repeats_it(tiny_tag_run, use_home, capsys):
    run_dir, summary, home = tiny_tag_run
    use_home(home)
    assert (run_dir / "best" / "model.safetensors").is_file() and (run_dir / "vocab.json").is_file()
    saved = json.loads((run_dir / "eval_test.json").read_text())
    assert saved["accuracy"] == summary["test_accuracy"] and saved["checkpoint"] == "best"
    assert main(["eval", "--model", str(run_dir)]) == 0
    printed = json.loads(capsys.readouterr().out)
    assert printed["accuracy"] == summary["test_accuracy"]
    splits = tagging.load_splits(open_run(run_dir).config.data)
    jieba = tag.jieba_baseline(splits["test"])  # the baselines score the same test sentences
    assert printed["jieba_accuracy"] == jieba["accuracy"]
    mft = pku.most_frequent_tag_baseline(splits["train"], splits["test"])
    assert printed["most_frequent_tag_accuracy"] == mft["accuracy"]
    assert main(["eval", "--model", str(run_dir), "--split", "nope"]) == 1
    assert "unknown split 'nope'" in capsys.readouterr().err


def test_cli_tags_segmented_and_raw_text_and_plots(tiny_tag_run, monkeypatch, capsys, tmp_path):
    run_dir, _, _ = tiny_tag_run
    monkeypatch.setattr("attnkit.viz.use_cjk_font", lambda: False)  # no font download in tests
    assert main(["tag", "--model", str(run_dir), "--segmented", "中国 政府 发表 讲话"]) == 0
    pairs = capsys.readouterr().out.split()
    assert [p.rsplit("/", 1)[0] for p in pairs] == ["中国", "政府", "发表", "讲话"]
    run = open_run(run_dir)
    tags = TASK.predict(run, ["中国 政府 发表 讲话"], segmented=True)[0]["tags"]
    assert [p.rsplit("/", 1)[1] for p in pairs] == tags
    assert main(["tag", "--model", str(run_dir), "--json", "我们要坚持ABC"]) == 0
    words = json.loads(capsys.readouterr().out)
    assert "".join(w["word"] for w in words) == "我们要坚持ABC" and all(w["tag"] for w in words)
    png = tmp_path / "attn.png"
    assert main(["tag", "--model", str(run_dir), "--plot", str(png), "北京举行新年音乐会"]) == 0
    assert png.read_bytes()[:4] == b"\x89PNG"
    capsys.readouterr()
    assert main(["tag", "--model", str(run_dir), "hello"]) == 1
    assert "no Chinese characters" in capsys.readouterr().err
    assert main(["tag", "--model", str(tmp_path / "nowhere"), "中国"]) == 1
    assert "not a run folder" in capsys.readouterr().err


def test_a_tagger_without_attention_tags_but_has_no_heatmap(
    pku_heldout, tag_config, tmp_path, capsys
):
    from attnkit.tasks import train

    run_dir = tmp_path / "bilstm-crf"
    train("tag", tag_config("model.attention_layers=0", "train.epochs=1"), run_dir)
    run = open_run(run_dir)
    result = TASK.predict(run, ["中国 政府"], segmented=True, attention=True)[0]
    assert result["layers"] == 0 and result["attention"] is None and len(result["tags"]) == 2
    assert main(["tag", "--model", str(run_dir), "--plot", str(tmp_path / "a.png"), "中国"]) == 1
    assert "no self-attention layers" in capsys.readouterr().err


def test_config_file_loads():
    from attnkit.config import load_config
    from attnkit.paths import repo_configs_dir

    cfg = load_config(TASK.config_class, repo_configs_dir() / TASK.default_config)
    assert cfg.model.attention_layers >= 1 and cfg.model.crf
    assert cfg.train.metric == "accuracy" and cfg.train.metric_mode == "max"
    torch.manual_seed(0)
