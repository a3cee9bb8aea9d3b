"""The summarization task end to end on a tiny synthetic corpus: train, eval, fine-tune, CLI.

Each document names a made-up package (a word no vocabulary holds) and the summary must
repeat that name: only copying through the attention can get it right.
"""

import json

import pytest

from attnkit.cli import main
from attnkit.config import load_config
from attnkit.metrics import rouge
from attnkit.paths import dataset_dir
from attnkit.tasks import get_task, open_run, train
from attnkit.tasks.runner import start_from
from conftest import write_tiny_summaries

TASK = get_task("summarize")
_TINY = (
    "data.max_tokens=400",
    "data.min_count=1",
    "model.emb_dim=32",
    "model.hidden_dim=64",
    "model.dropout=0.0",
    "train.epochs=10",
    "train.lr=0.01",
    "train.warmup_steps=0",
    "train.eval_every=0",
    "train.bf16=false",
    "train.progress=false",
    "decode.beam_size=2",
)


def tiny_config(*extra: str):
    return load_config(TASK.config_class, None, [*_TINY, *extra])


@pytest.fixture(scope="module")
def tiny_summarize_run(tmp_path_factory):
    home = tmp_path_factory.mktemp("summarize_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNKIT_HOME", str(home))
        write_tiny_summaries()
        run = tmp_path_factory.mktemp("summarize") / "run"
        summary = train("summarize", tiny_config(), run)
    return run, summary, home


def test_learns_to_copy_names_it_never_saw(tiny_summarize_run, use_home):
    run, summary, home = tiny_summarize_run
    use_home(home)
    saved = json.loads((run / "eval_test.json").read_text())
    assert saved["rougeL"] == summary["test_rougeL"]
    # every test name is new: the model beats the Lead baselines only by copying it
    assert saved["rougeL"] > 90 and saved["rougeL"] > saved["lead1"]["rougeL"] + 20, saved
    assert saved["copied_oov_share"] > 10  # names copied (1 word of 6 in each summary)
    assert 0 < saved["mean_p_gen"] < 1
    assert saved["repeated_trigram_share"] == 0  # trigram blocking
    hyps = (run / "test.hyp.txt").read_text().splitlines()
    path = dataset_dir("debian-descriptions") / "test.jsonl"
    test = [json.loads(line) for line in path.open()]
    assert sum(h.endswith(p["id"]) for h, p in zip(hyps, test, strict=True)) >= 36
    # without the templated family (the first five test pairs), computed here again
    assert saved["templated_documents"] == 5
    expected = rouge(hyps[5:], [p["summary"] for p in test[5:]])["rougeL"]
    assert saved["without_templated"]["model"]["rougeL"] == pytest.approx(expected, abs=0.01)


def test_predict_marks_copied_words_and_p_gen(tiny_summarize_run, use_home):
    run, _, home = tiny_summarize_run
    use_home(home)
    doc = "qwxyz9 is a small font for chess . It shows chess files quickly ."
    result = TASK.predict(open_run(run), [doc], attention=True)[0]
    assert result["summary"] == "font to handle chess, qwxyz9"
    assert result["summary_tokens"][-1] == "qwxyz9" and result["copied"][-1]
    assert not result["copied"][2]
    assert result["p_gen"][-1] < 0.5 < result["p_gen"][2]  # copied name vs generated "handle"
    assert result["attention"].shape == (6, len(result["source_tokens"]))
    top = int(result["attention"][-1].argmax())
    assert result["source_tokens"][top] == "qwxyz9"  # it pointed at the name


def test_cli_summarize_file_stdin_and_plot(tiny_summarize_run, use_home, tmp_path, capsys):
    run, _, home = tiny_summarize_run
    use_home(home)
    docs = tmp_path / "docs.txt"
    docs.write_text(
        "abcde1 is a small tool for maps . It reads maps files quickly .\n\n"
        "fghij2 is a small editor for mail . It writes mail files quickly .\n"
    )
    png = tmp_path / "a.png"
    assert main(["summarize", "--model", str(run), str(docs), "--plot", str(png)]) == 0
    assert capsys.readouterr().out.splitlines() == [
        "tool to handle maps, abcde1",
        "editor to handle mail, fghij2",
    ]
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert main(["summarize", "--model", str(run), str(docs), "--whole"]) == 0
    assert len(capsys.readouterr().out.splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["{empty}"], "holds no document"),
        (["{missing}"], "no such file"),
        (["{long}"], "over the limit of 2000"),
        (["{doc}", "--beam", "0"], "beam size must be at least 1"),
        (["{doc}", "--beam", "2", "--n-best", "3"], "n-best (3) cannot exceed the beam size (2)"),
    ],
)
def test_cli_bad_input_is_a_clear_error(
    tiny_summarize_run, use_home, tmp_path, capsys, args, message
):
    run, _, home = tiny_summarize_run
    use_home(home)
    files = {"empty": " \n\n", "long": "word " * 2500, "doc": "abcde1 is a small tool ."}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
    argv = [a.format(empty=tmp_path / "empty", missing=tmp_path / "nope", long=tmp_path / "long",
                     doc=tmp_path / "doc") for a in args]  # fmt: skip
    assert main(["summarize", "--model", str(run), *argv]) == 1
    assert message in capsys.readouterr().err


def test_summarize_refuses_a_run_of_another_task(tiny_translate_run, capsys):
    run, _, _ = tiny_translate_run
    assert main(["summarize", "--model", str(run), "-"]) == 1
    assert "translate" in capsys.readouterr().err


def test_coverage_fine_tuning_starts_from_the_run(tiny_summarize_run, use_home, tmp_path):
    """The paper's schedule: a coverage run initialised from the plain one starts where it is
    (w_c = 0), lowers repetition without blocking, and keeps the vocabulary."""
    run, _, home = tiny_summarize_run
    use_home(home)
    cfg = tiny_config("model.coverage=true", f"train.init_from={run}", "train.epochs=1",
                      "train.lr=0.001")  # fmt: skip
    plain = open_run(run)
    model = TASK.build_model(cfg, plain.assets)
    start_from(model, TASK, run, log_it=False)
    assert model.attention.coverage_proj.weight.abs().sum() == 0
    for name, weight in plain.model.state_dict().items():
        assert (model.state_dict()[name] == weight).all(), name
    summary = train("summarize", cfg, tmp_path / "cov")
    assert (tmp_path / "cov" / "vocab.json").read_text() == (run / "vocab.json").read_text()
    assert summary["test_rougeL"] > 85


def test_init_from_rejects_another_task_or_shape(tiny_summarize_run, tiny_translate_run, use_home):
    run, _, home = tiny_summarize_run
    use_home(home)
    from attnkit.errors import AttnkitError

    model = TASK.build_model(tiny_config(), open_run(run).assets)
    with pytest.raises(AttnkitError, match="is not a 'summarize' run"):
        start_from(model, TASK, tiny_translate_run[0], log_it=False)
    bigger = TASK.build_model(tiny_config("model.hidden_dim=32"), open_run(run).assets)
    with pytest.raises(AttnkitError, match="other shapes"):
        start_from(bigger, TASK, run, log_it=False)


def test_api_summarize_matches_predict_and_refuses_bad_input(tiny_summarize_run, use_home):
    from fastapi.testclient import TestClient

    from attnkit.serve import create_app

    run, _, home = tiny_summarize_run
    use_home(home)
    client = TestClient(create_app(run))
    info = client.get("/api/info").json()
    assert info["task"] == "summarize" and info["api"] == "/api/summarize"
    doc = "klmno7 is a small plugin for music . It converts music files quickly ."
    reply = client.post("/api/summarize", json={"text": doc, "beam": 2})
    assert reply.status_code == 200, reply.text
    body = reply.json()
    expected = TASK.predict(open_run(run), [doc], beam=2, attention=True)[0]
    assert body["summary"] == expected["summary"] == "plugin to handle music, klmno7"
    assert body["copied"] == expected["copied"] and body["copied"][-1]
    assert body["p_gen"] == pytest.approx(expected["p_gen"], abs=1e-4)
    assert len(body["attention"]) == len(body["summary_tokens"])
    assert len(body["attention"][0]) == len(body["source_tokens"])
    assert sum(body["attention"][0]) == pytest.approx(1.0, abs=1e-3)
    for bad, message in (({"text": "  "}, "empty input"), ({"text": doc, "beam": 0}, "beam")):
        reply = client.post("/api/summarize", json=bad)
        assert reply.status_code == 422 and message in reply.text
    assert "showSummary" in client.get("/").text


def test_bench_summarize_reports_lead_and_both_runs(tiny_summarize_run, use_home, tmp_path):
    from attnkit.bench import summarize as bench

    _, _, home = tiny_summarize_run
    use_home(home)
    tiny = [f"--set={o}" for o in (*_TINY, "decode.block_unk=false")]
    argv = ["--only", "pgn,pgn_coverage", "--runs", str(tmp_path / "runs"),
            "--out", str(tmp_path / "out"), *tiny]  # fmt: skip
    assert bench.main(argv) == 0
    record = json.loads((tmp_path / "out" / "summarize-latest.json").read_text())
    rows, results = record["rows"], record["results"]
    assert list(rows) == ["lead1:debian-descriptions", "pgn", "pgn_coverage"]
    assert rows["lead1:debian-descriptions"] == results["pgn"]["test"]["lead1"]
    assert (
        rows["pgn"]["rougeL"]
        == results["pgn"]["test"]["rougeL"]
        > rows["lead1:debian-descriptions"]["rougeL"]
    )
    cov = results["pgn_coverage"]["config"]
    assert cov["model"]["coverage"] and cov["train"]["init_from"] == str(tmp_path / "runs" / "pgn")
    assert any(line.startswith("pgn_coverage") for line in record["table"])
    # search settings: scored on dev and test in a copy of the run, the run left as it was
    search = record["searches"]["pgn+no_unk"]
    assert search["overrides"] == ["decode.block_unk=true"]
    assert "block_unk: true" in (tmp_path / "runs" / "pgn+no_unk" / "config.yaml").read_text()
    assert "block_unk: false" in (tmp_path / "runs" / "pgn" / "config.yaml").read_text()
    assert search["dev"]["documents"] == search["run_dev"]["documents"] == 30
    assert search["test"]["documents"] == 40
