"""attnkit bench serve at tiny scale: real servers, the JSON it writes, its option checks."""

import json

import pytest

from attnkit.bench import serve as bench_serve


def test_serve_bench_writes_every_level_without_failures(tiny_translate_run, use_home, tmp_path):
    run, _, home = tiny_translate_run
    use_home(home)  # the tiny corpus' test split gives the inputs
    argv = ["--model", str(run), "--clients", "1,4", "--requests", "12", "--timeout", "60"]
    argv += ["--overload-clients", "4", "--overload-queue", "1", "--out", str(tmp_path)]
    assert bench_serve.main(argv) == 0
    record = json.loads((tmp_path / "serve-latest.json").read_text())
    assert record["benchmark"] == "serve" and record["corpus"] == "jupyterlab-fr"
    assert "same" in record["shared_cores"] and record["machine"]["cpu_count"] >= 1
    assert [(lv["mode"], lv["clients"]) for lv in record["levels"]] == [
        ("batching", 1),
        ("batching", 4),
        ("one_at_a_time", 1),
        ("one_at_a_time", 4),
    ]
    for lv in record["levels"]:  # as the server's /api/info said
        max_batch, wait_ms = (32, 5.0) if lv["mode"] == "batching" else (1, 0.0)
        assert lv["batching"] == {"max_batch": max_batch, "wait_ms": wait_ms, "queue_size": 256}
        assert lv["requests"] == lv["ok"] == 12 and lv["failed"] == {}
        assert lv["requests_per_s"] == pytest.approx(12 / lv["seconds"], rel=0.01)
        assert 0 < lv["latency_ms"]["p50"] <= lv["latency_ms"]["p99"]
        assert 0 < lv["server_rss_mib"]["before"] <= lv["server_rss_mib"]["peak"]
    by = {(lv["mode"], lv["clients"]): lv for lv in record["levels"]}
    for ratio in record["ratios"]:
        n = ratio["clients"]
        want = by["batching", n]["requests_per_s"] / by["one_at_a_time", n]["requests_per_s"]
        # the rates are rounded to 0.01 req/s and the ratio to 3 decimals (abs 5e-4)
        assert ratio["requests_per_s"] == pytest.approx(want, rel=2e-3, abs=6e-4)
    overload = record["overload"]
    assert overload["queue_size"] == overload["batching"]["queue_size"] == 1
    assert overload["requests"] == 12
    assert overload["ok"] + sum(overload["failed"].values()) == 12
    assert set(overload["failed"]) <= {"503"}  # refused, never broken
    assert record["table"][-1].startswith("ratio at   4 clients")


def test_percentile_is_the_nearest_rank():
    values = [5.0, 1.0, 4.0, 2.0, 3.0]
    assert [bench_serve.percentile(values, q) for q in (0.2, 0.5, 0.99, 1.0)] == [1, 3, 5, 5]
    assert bench_serve.percentile([], 0.5) is None


@pytest.mark.parametrize(
    "argv", [["--clients", "1,x"], ["--clients", "0"], ["--requests", "0"], ["--nope"]]
)
def test_serve_bench_rejects_bad_options(argv, tmp_path):
    assert bench_serve.main([*argv, "--out", str(tmp_path)]) == 2
    assert not (tmp_path / "serve-latest.json").exists()


def test_serve_bench_needs_a_translation_run(tmp_path, capsys):
    run = tmp_path / "tagger"
    run.mkdir()
    (run / "meta.json").write_text(json.dumps({"task": "tag"}))
    assert bench_serve.main(["--model", str(run), "--out", str(tmp_path)]) == 1
    assert "holds a 'tag' model; attnkit bench serve needs translate" in capsys.readouterr().err
    assert not (tmp_path / "serve-latest.json").exists()
