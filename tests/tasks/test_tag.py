"""The tag task: input checks, segmentation, vocab/batching, jieba baseline, train->eval->CLI."""

import json
from pathlib import Path

import pytest
import torch
import typer
from typer.testing import CliRunner

from attnkit.config import load_config
from attnkit.data import pku
from attnkit.errors import AttnkitError
from attnkit.paths import repo_configs_dir
from attnkit.tasks import tag

FIXTURE = Path(__file__).parents[1] / "data" / "fixtures" / "pku_sample.txt"


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
    return tag.Vocab.build(train, tag.DataConfig(min_word_count=1, min_char_count=1, max_chars=4))


def test_vocab_encoding_oov_and_full_width():
    vocab = _vocab()
    w, c = vocab.encode_words(["1998年", "１２月", "没见过的词语", "中国"])
    assert w[0] == tag.UNK and not vocab.is_oov("中国") and vocab.is_oov("1998年")
    assert not vocab.is_oov("12月")  # full-width and ASCII digits are one word after NFKC
    assert c.shape == (4, 4)  # 没见过的词语 (6 chars) keeps its first 2 and last 2
    assert c[2].tolist() == [vocab.char_id.get(ch, tag.UNK) for ch in "没见词语"]
    assert c[3, 2:].tolist() == [0, 0]
    assert vocab.encode_tags(["n", "no-such-tag"]).tolist() == [vocab.tag_id["n"], -1]


def test_bucket_batches_deterministic_and_complete():
    vocab = _vocab()
    ex = tag.encode(pku.read_corpus(FIXTURE), vocab)
    a = tag.bucket_batches(ex, 20, seed=3)
    assert a == tag.bucket_batches(ex, 20, seed=3)
    assert sorted(i for b in a for i in b) == list(range(len(ex)))
    for b in a:
        assert len(b) == 1 or max(len(ex[i][0]) for i in b) * len(b) <= 20
    batch = tag.collate([ex[i] for i in a[0]])
    assert batch["mask"].sum() == sum(len(ex[i][0]) for i in a[0])
    assert batch["chars"].shape[:2] == batch["words"].shape


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


def test_train_evaluate_and_cli(tiny_tag_run, monkeypatch):
    run, summary = tiny_tag_run
    monkeypatch.setattr("attnkit.viz.use_cjk_font", lambda: False)  # no font download in tests
    assert summary["best_accuracy"] > 0.5
    assert (run / "best" / "model.safetensors").is_file() and (run / "vocab.json").is_file()
    out = tag.evaluate(run, split="test")
    assert out["accuracy"] == pytest.approx(summary["best_accuracy"])
    assert 0 <= out["jieba_accuracy"] <= out["jieba_accuracy_where_segmentation_agrees"] <= 1
    assert json.loads((run / "eval_test.json").read_text()) == out

    app = typer.Typer()
    tag.add_commands(app)
    app.command("noop")(lambda: None)  # keep `tag` a named sub-command
    runner = CliRunner()
    res = runner.invoke(app, ["tag", "--model", str(run), "--segmented", "中国 政府 发表 讲话"])
    assert res.exit_code == 0, res.output
    pairs = res.output.split()
    assert [p.rsplit("/", 1)[0] for p in pairs] == ["中国", "政府", "发表", "讲话"]
    res = runner.invoke(app, ["tag", "--model", str(run), "--json", "我们要坚持ABC"])
    assert res.exit_code == 0, res.output
    words = json.loads(res.stdout)
    assert "".join(w["word"] for w in words) == "我们要坚持ABC" and all(w["tag"] for w in words)
    png = run / "attn.png"
    res = runner.invoke(app, ["tag", "--model", str(run), "--plot", str(png), "北京举行新年音乐会"])
    assert res.exit_code == 0, res.output
    assert png.stat().st_size > 0
    res = runner.invoke(app, ["tag", "--model", str(run), "hello"])
    assert isinstance(res.exception, AttnkitError)
    with pytest.raises(AttnkitError, match="not a tagger run"):
        tag.load_run(run / "nowhere")


def test_config_file_loads():
    cfg = load_config(tag.Config, repo_configs_dir() / tag.DEFAULT_CONFIG)
    assert cfg.model.attention_layers >= 1 and cfg.model.crf
    assert cfg.train.metric == "accuracy" and cfg.train.metric_mode == "max"
    torch.manual_seed(0)
