"""attnkit bench onnx-translate: parity on the whole test split and consistent speed rows."""

import json

import pytest

from attnkit.bench import onnx_translate


def test_onnx_translate_bench_checks_the_test_split(tiny_translate_run, use_home, tmp_path):
    run, _, home = tiny_translate_run
    use_home(home)
    argv = ["--model", str(run), "--sentences", "6", "--parity-sentences", "8", "--repeats", "2"]
    assert onnx_translate.main([*argv, "--out", str(tmp_path)]) == 0
    record = json.loads((tmp_path / "onnx-translate-latest.json").read_text())
    (row,) = record["rows"]
    assert row["arch"] == "rnn" and row["test_sentences"] == 20  # the tiny corpus' test split
    assert row["greedy_outputs_differ"] == 0 and row["greedy_differ_examples"] == []
    assert row["greedy_bleu"]["onnxruntime"] == row["greedy_bleu"]["torch"]
    assert row["test_parity"]["checked_sentences"] == 8
    assert row["test_parity"]["max_abs_log_prob_diff"] < 1e-4
    assert row["export"]["greedy_differs"] == 0
    for search in ("greedy", "beam5"):
        speed = row["speed"][search]
        for key in ("sentences_per_s_onnxruntime", "sentences_per_s_torch"):
            low, mid, high = speed[key]
            assert 0 < low <= mid <= high
        low, mid, high = speed["time_ratio_onnxruntime_over_torch"]
        assert 0 < low <= mid <= high
    assert record["table"][2].startswith("rnn ")


@pytest.mark.parametrize("argv", [["--sentences", "0"], ["--repeats", "0"], []])
def test_onnx_translate_bench_rejects_bad_options(argv, tmp_path):
    assert onnx_translate.main([*argv, "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "onnx-translate-latest.json").exists()


def test_onnx_translate_bench_names_a_missing_run(tmp_path, capsys):
    assert onnx_translate.main(["--model", str(tmp_path / "nope"), "--out", str(tmp_path)]) == 1
    assert "error:" in capsys.readouterr().err
