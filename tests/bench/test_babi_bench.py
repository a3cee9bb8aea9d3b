"""The bAbI benchmark at tiny size: a run per (task, seed), the dev-chosen seed's test error per
task, per-seed figures, JSON written, finished runs reused."""

import json

import pytest

from attnkit.bench import babi as bench_babi
from attnkit.bench.variants import RESULT_FILE

TINY = ["train.epochs=2", "data.test_size=50", "train.progress=false"]


def test_babi_bench_writes_json_and_reuses_runs(tmp_path, capsys):
    argv = ["--sizes", "1k", "--tasks", "1,4", "--seeds", "2"]
    argv += ["--runs", str(tmp_path / "runs"), "--out", str(tmp_path / "out")]
    for override in TINY:
        argv += ["--set", override]
    assert bench_babi.main(argv) == 0
    record = json.loads((tmp_path / "out" / "babi-latest.json").read_text())
    assert sorted(record["results"]) == [
        "1k-task01-seed0", "1k-task01-seed1", "1k-task04-seed0", "1k-task04-seed1",
    ]  # fmt: skip
    assert record["threads_per_run"] == 1 and record["machine"]["torch_threads"] == 1
    for name, result in record["results"].items():
        config = result["config"]
        assert config["data"]["tasks"] == [int(name[7:9])] and config["data"]["train_size"] == 1000
        assert config["train"]["seed"] == int(name[-1]) and config["train"]["threads"] == 1
    s = record["summary"]["1k"]
    for task in ("1", "4"):
        runs = [record["results"][f"1k-task0{task}-seed{seed}"] for seed in (0, 1)]
        dev = [r["train"]["best_accuracy"] for r in runs]
        chosen = s["chosen_seed"][task]
        assert dev[chosen] == max(dev) and s["dev_accuracy"][task] == max(dev)
        test = [r["test"]["per_task_error"][task] for r in runs]
        assert s["per_task_error"][task] == test[chosen]
        assert [s["per_seed"][str(seed)]["per_task_error"][task] for seed in (0, 1)] == test
    errors = list(s["per_task_error"].values())
    assert s["mean_error"] == pytest.approx(sum(errors) / 2) and s["worst_error"] == max(errors)
    assert s["failed_tasks"] == sum(e > 5 for e in errors)
    out = capsys.readouterr().out
    assert "mean" in out and "1k s1" in out  # the table: chosen seeds, then each seed

    stamps = {p: p.stat().st_mtime_ns for p in (tmp_path / "runs").glob(f"*/{RESULT_FILE}")}
    assert len(stamps) == 4 and bench_babi.main(argv) == 0
    assert "done earlier" in capsys.readouterr().out
    assert stamps == {p: p.stat().st_mtime_ns for p in stamps}


@pytest.mark.parametrize(
    "argv", [["--sizes", "5k"], ["--tasks", "0-3"], ["--tasks", "1,1"], ["--seeds", "0"]]
)
def test_babi_bench_rejects_bad_arguments(argv, capsys):
    assert bench_babi.main(argv) == 2
    assert "error:" in capsys.readouterr().err


def test_parse_tasks_ranges():
    assert bench_babi.parse_tasks("1-3,7, 20") == [1, 2, 3, 7, 20]
