"""The correction benchmark on the fixture corpus: the model and the peers scored on the same
test sentences, JSON written, the trained run reused; the peers' word-by-word behaviour."""

import json

import pytest

from attnkit.bench import correct as bench_correct
from attnkit.bench.variants import RESULT_FILE
from attnkit.data.correction import Example, split_text
from attnkit.tasks.correct.baselines import baseline

TINY = ["data.dev=0.2", "data.test=0.2", "data.pair_dev=0.25", "data.pair_test=0.25",
        "data.frequent=0.3", "data.buckets=1024", "data.batch_size=16", "model.embed_dim=16",
        "model.window=2", "train.epochs=2", "train.progress=false"]  # fmt: skip


def test_bench_scores_every_system_on_the_same_sentences(tiny_correction, tmp_path, capsys):
    argv = ["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    argv += ["--max-sentences", "0"]
    for override in TINY:
        argv += ["--set", override]
    assert bench_correct.main(argv) == 0
    record = json.loads((tmp_path / "out" / "correct-latest.json").read_text())
    assert record["systems"] == list(bench_correct.SYSTEMS) and record["threads"] == 1
    results = record["results"]
    sentences = record["corpus"]["test_sentences"]
    assert record["sentences"] == sentences
    for name, m in results.items():
        assert m["sentences"] == sentences and m["tokens"] == results["model"]["tokens"], name
        for kind in ("nonword", "realword"):
            assert m[kind]["errors"] == results["model"][kind]["errors"] > 0
    assert results["identity"]["nonword"]["flagged"] == 0 == results["identity"]["clean_changed"]
    for key in ("accuracy", "precision", "recall"):  # the model's figures are eval's, on all
        assert results["model"]["nonword"][key] == record["test_full_split"]["nonword"][key]
    for peer in ("pyspellchecker", "symspellpy"):  # word by word: no real-word error is seen
        assert results[peer]["realword"]["flagged"] == 0 < results[peer]["nonword"]["flagged"]
    assert "symspellpy" in capsys.readouterr().out

    done = tmp_path / "runs" / "default" / RESULT_FILE
    stamp = done.stat().st_mtime_ns
    assert bench_correct.main([*argv, "--systems", "model"]) == 0
    assert done.stat().st_mtime_ns == stamp  # reused, not trained again


@pytest.mark.parametrize("argv", [["--systems", "model,gpt"], ["--max-sentences", "-1"],
                                  ["--threads", "0"]])  # fmt: skip
def test_bench_rejects_bad_arguments(argv, capsys):
    assert bench_correct.main(argv) == 2
    assert "error:" in capsys.readouterr().err


@pytest.mark.parametrize("name", ["pyspellchecker", "symspellpy"])
def test_peers_fix_plain_words_in_the_tokens_case(name):
    text = "Thier recieved libfoo-dev yesterday."
    tokens, gaps = split_text(text)
    ex = Example(tokens, tokens, ["clean"] * len(tokens), gaps)
    (fixed,) = baseline(name)([ex])
    assert fixed[:2] == ["Their", "received"]
    assert fixed[2:] == tokens[2:]  # libfoo is glued to -dev: not a plain word, never touched
