"""attnkit bench onnx: the record it writes is consistent with its own timings."""

import json

import pytest

from attnkit.bench import onnx as bench_onnx


def test_onnx_bench_writes_consistent_ratios(tmp_path, capsys):
    argv = ["--batches", "1,3", "--repeats", "3", "--warmup", "0", "--out", str(tmp_path)]
    assert bench_onnx.main(argv) == 0
    record = json.loads((tmp_path / "onnx-latest.json").read_text())
    assert record["benchmark"] == "onnx" and record["model"] == "se_resnet20 (untrained)"
    assert record["max_abs_logit_diff"] < 1e-4
    assert [c["batch"] for c in record["cases"]] == [1, 3]
    for case in record["cases"]:
        for key in ("onnxruntime_s", "torch_s"):
            low, mid, high = case[key]
            assert 0 < low <= mid <= high
        assert case["ratio"] == pytest.approx(case["onnxruntime_s"][1] / case["torch_s"][1])
        assert case["images_per_s_torch"] == pytest.approx(case["batch"] / case["torch_s"][1])
    assert record["table"][2].split()[0] == "1"
    assert "ratio = onnxruntime / PyTorch" in capsys.readouterr().out


@pytest.mark.parametrize(
    "argv", [["--batches", "1,x"], ["--repeats", "0"], ["--batches", "0"], ["--nope"]]
)
def test_onnx_bench_rejects_bad_options(argv, tmp_path):
    assert bench_onnx.main([*argv, "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "onnx-latest.json").exists()
