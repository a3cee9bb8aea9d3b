"""The quality benchmarks: every variant trained and tested once, resumable, summarised."""

import json

import pytest

from attnkit.bench import classify as bench_classify
from attnkit.bench import tag as bench_tag
from attnkit.bench.report import mean_std
from attnkit.bench.variants import RESULT_FILE


def _run_args(tmp_path, overrides: list[str]) -> list[str]:
    """``--runs``/``--out`` under ``tmp_path`` and one ``--set`` per override."""
    args = ["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    for override in overrides:
        args += ["--set", override]
    return args


def test_mean_std_against_hand_computed():
    assert mean_std([1.0, 2.0, 3.0, 4.0]) == pytest.approx((2.5, (5 / 3) ** 0.5))
    assert mean_std([7.0]) == (7.0, 0.0)


def test_classify_bench_runs_each_arch_and_seed_once(fmnist_root, tmp_path, capsys):
    overrides = [
        f"data.root={fmnist_root}",
        "data.validation_per_class=2",
        "data.batch_size=16",
        "train.epochs=1",
        "train.progress=false",
    ]
    argv = ["--seeds", "0,1", "--timing-steps", "3", *_run_args(tmp_path, overrides)]
    assert bench_classify.main(argv) == 0
    record = json.loads((tmp_path / "out" / "classify-latest.json").read_text())
    assert sorted(record["results"]) == [
        "resnet20-seed0",
        "resnet20-seed1",
        "se_resnet20-seed0",
        "se_resnet20-seed1",
    ]
    for name, result in record["results"].items():
        arch, seed = name.split("-seed")
        assert result["config"]["model"]["arch"] == arch
        assert result["config"]["train"]["seed"] == int(seed)
    s = record["summary"]
    for arch in ("resnet20", "se_resnet20"):
        accs = [100 * record["results"][f"{arch}-seed{i}"]["test"]["accuracy"] for i in (0, 1)]
        assert s[arch]["test_accuracy"] == accs
        assert s[arch]["mean"] == pytest.approx(sum(accs) / 2)
    assert s["se_resnet20"]["params"] > s["resnet20"]["params"]  # the SE blocks' weights
    for arch in ("resnet20", "se_resnet20"):  # both timed, interleaved, 3 steps each
        assert len(s[arch]["step_seconds_all"]) == 3
        assert s[arch]["step_seconds"] == sorted(s[arch]["step_seconds_all"])[1]
    out = capsys.readouterr().out
    assert "SE gain (se_resnet20 - resnet20)" in out and "SE training-step time" in out

    # A second call reuses the finished runs instead of training again.
    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob(f"*/{RESULT_FILE}")}
    assert bench_classify.main(argv) == 0
    assert "done earlier" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}


def test_classify_bench_rejects_bad_arguments(capsys):
    assert bench_classify.main(["--archs", "vgg16"]) == 2
    assert "error:" in capsys.readouterr().err
    assert bench_classify.main(["--timing-steps", "-1"]) == 2


def test_tag_bench_rejects_unknown_variant(capsys):
    assert bench_tag.main(["--variants", "full,bert"]) == 2
    assert "unknown variant" in capsys.readouterr().err


def test_tag_bench_table_has_variants_and_baselines(tmp_path, pku_heldout, capsys):
    argv = ["--variants", "full,neither", *_run_args(tmp_path, [*pku_heldout, "train.epochs=2"])]
    assert bench_tag.main(argv) == 0
    record = json.loads((tmp_path / "out" / "tag-latest.json").read_text())
    full, neither = record["results"]["full"], record["results"]["neither"]
    assert full["config"]["model"]["attention_layers"] == 1 and full["config"]["model"]["crf"]
    assert neither["config"]["model"]["attention_layers"] == 0
    assert not neither["config"]["model"]["crf"]
    out = capsys.readouterr().out
    assert f"{100 * full['test']['accuracy']:6.2f}" in out
    assert "jieba posseg" in out and "most frequent tag" in out


def test_translate_bench_maps_special_ids_to_joeynmt():
    import torch

    from attnkit.bench.joeynmt_peer import to_joey_ids as _to_joey_ids

    ours = torch.tensor([[2, 7, 1, 3, 0, 0]])  # BOS, a piece, UNK, EOS, PAD, PAD
    assert _to_joey_ids(ours).tolist() == [[2, 7, 0, 3, 1, 1]]  # Joey: UNK 0, PAD 1


def test_translate_bench_rejects_bad_arguments(capsys):
    from attnkit.bench import translate as bench_translate

    assert bench_translate.main(["--dtypes", "float64"]) == 2
    assert "error:" in capsys.readouterr().err


def test_segtag_bench_scores_three_systems_on_the_same_text(tmp_path, pku_heldout, capsys):
    from attnkit.bench import segtag as bench_segtag

    small = ["model.word_dim=16", "model.lstm_hidden=16", "model.num_heads=2", "model.ffn_dim=32"]
    argv = _run_args(tmp_path, [*small, "train.epochs=1", "train.progress=false"])
    assert bench_segtag.main(argv) == 0
    record = json.loads((tmp_path / "out" / "segtag-latest.json").read_text())
    rows = record["rows"]
    assert set(rows) == {"joint", "jieba_tagger", "jieba_posseg"}
    assert rows["joint"]["joint_f1"] == record["results"]["joint"]["test"]["joint_f1"]
    from attnkit.data import segtag
    from attnkit.tasks import open_run
    from attnkit.tasks.segtag import jieba_scores

    joint = open_run(tmp_path / "runs" / "joint")
    jieba = jieba_scores(segtag.load_splits(joint.config.data)["test"], joint.assets)
    assert rows["jieba_posseg"]["joint_f1"] == pytest.approx(jieba["joint_f1"])
    assert rows["jieba_posseg"]["oov_recall"] == pytest.approx(jieba["oov_recall"])
    assert "jieba_tagger" in capsys.readouterr().out


def test_classify_compare_survives_untimed_runs():
    """Runs shorter than the timer's resolution (a fast CI machine) give no epoch ratio."""

    def arch(params, seconds, accs):
        return {
            "test_accuracy": accs,
            "validation_mean": 90.0,
            "params": params,
            "seconds_per_epoch": seconds,
        }

    summary = {
        "resnet20": arch(100, 0.0, [90.0, 91.0]),
        "se_resnet20": arch(110, 0.0, [91.0, 91.5]),
    }
    c = bench_classify.compare(summary)["se_resnet20"]
    assert c["epoch_time_ratio"] is None
    assert c["gain"] == pytest.approx(0.75) and c["params_ratio"] == pytest.approx(1.1)
    summary["resnet20"]["seconds_per_epoch"] = 2.0
    summary["se_resnet20"]["seconds_per_epoch"] = 3.0
    assert bench_classify.compare(summary)["se_resnet20"]["epoch_time_ratio"] == pytest.approx(1.5)
