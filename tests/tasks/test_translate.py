"""The translation task end to end on a tiny corpus placed in the cache: train, eval, CLI."""

import json
import os
import subprocess
import sys

import pytest
import torch

from attnkit.cli import main
from attnkit.data import parallel
from attnkit.tasks import get_task, open_run, train

TASK = get_task("translate")


def test_train_eval_translate(tiny_translate_run, use_home, tmp_path, capsys):
    run, summary, home = tiny_translate_run
    use_home(home)
    # A word-for-word mapping over 6 words is learnable in seconds: BLEU must be high.
    assert summary["test_bleu"] > 60, summary
    dev_bleu = [
        float(r.split(",")[4])
        for r in (run / "metrics.csv").read_text().splitlines()
        if ",dev,bleu," in r
    ]
    assert summary["best_bleu"] == pytest.approx(max(dev_bleu), abs=1e-3)  # chosen on dev
    assert (run / "best" / "model.safetensors").exists()
    assert (run / "test.hyp.txt").read_text().count("\n") == 20
    saved = json.loads((run / "eval_test.json").read_text())
    assert saved["bleu"] == summary["test_bleu"] and saved["checkpoint"] == "best"

    assert main(["eval", "--model", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["bleu"] == summary["test_bleu"]

    png = tmp_path / "attn.png"
    assert (
        main(["translate", "--model", str(run), "--beam", "1", "--plot", str(png), "dos tres"]) == 0
    )
    assert capsys.readouterr().out.strip() == "two three"
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_eval_reports_the_test_pairs_seen_in_training(tiny_translate_run, use_home):
    """The overlap against a count made here from the corpus files, and BLEU without them."""
    run, summary, home = tiny_translate_run
    use_home(home)
    test = parallel.load_split("jupyterlab-fr", "test")
    train_pairs = set(parallel.load_split("jupyterlab-fr", "train"))
    seen = sum(pair in train_pairs for pair in test)
    assert seen > 0  # short random sentences over six words repeat
    assert summary["test_in_train_verbatim"] == seen
    hyps = (run / "test.hyp.txt").read_text().splitlines()
    unseen = [i for i, pair in enumerate(test) if pair not in train_pairs]
    from attnkit.metrics import bleu

    expected = bleu([hyps[i] for i in unseen], [test[i][1] for i in unseen])
    assert summary["test_bleu_without_in_train"] == pytest.approx(round(expected, 2))


def test_n_best_and_scores(tiny_translate_run):
    run, _, _ = tiny_translate_run
    result = TASK.predict(open_run(run), ["dos tres"], beam=3, n_best=3)[0]
    scores = [h["score"] for h in result["n_best"]]
    assert len(scores) == 3 and scores == sorted(scores, reverse=True)
    assert result["translation"] == result["n_best"][0]["translation"]


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "empty input"),
        (["dos zzz"], "never seen 'zzz' in 'dos zzz'; pass --allow-unknown"),
        (["dos " * 300], "over the limit"),
        (["--n-best", "0", "dos"], "n-best must be at least 1, got 0"),
        (["--beam", "0", "--n-best", "0", "dos"], "beam size must be at least 1, got 0"),
        (["--beam", "-1", "--n-best", "-1", "dos"], "beam size must be at least 1, got -1"),
        (["--beam", "-1", "dos"], "beam size must be at least 1, got -1"),
        (["--beam", "2", "--n-best", "3", "dos"], "n-best (3) cannot exceed the beam size (2)"),
    ],
)
def test_translate_bad_input_is_a_clear_error(tiny_translate_run, capsys, args, message):
    run, _, _ = tiny_translate_run
    assert main(["translate", "--model", str(run), *args]) == 1
    assert message in capsys.readouterr().err


def test_cli_errors_never_show_a_traceback(tiny_translate_run, tmp_path):
    """The real console command in its own process: an exception that escaped ``main`` would
    print a traceback and exit 1 too, so stderr is checked to be the one error line."""
    run, _, _ = tiny_translate_run
    (tmp_path / "meta.json").write_text(json.dumps({"task": "translate"}))
    cases = [
        (["translate", "--model", str(run), "--beam", "-1", "--n-best", "-1", "dos"], "beam"),
        (["translate", "--model", str(tmp_path), "dos"], "config.yaml is missing"),
        (["eval", "--model", str(tmp_path / "none")], "not a run folder"),
        (["train", "translate", "--set", "train.epochs=0"], "train.epochs must be >= 1"),
    ]
    for argv, message in cases:
        proc = subprocess.run(
            [sys.executable, "-m", "attnkit.cli", *argv],
            capture_output=True,
            text=True,
            timeout=120,
            env=os.environ.copy(),
        )
        assert proc.returncode == 1, (argv, proc.stderr)
        lines = [line for line in proc.stderr.splitlines() if line.strip()]
        assert lines[-1].startswith("error: ") and message in lines[-1], proc.stderr
        assert not any(line.startswith("Traceback") for line in lines), proc.stderr


def test_missing_and_corrupt_runs(tiny_translate_run, tmp_path, capsys):
    import shutil

    assert main(["translate", "--model", str(tmp_path / "nope"), "hola"]) == 1
    assert "not a run folder" in capsys.readouterr().err
    run, _, _ = tiny_translate_run
    copy = tmp_path / "copy"
    shutil.copytree(run, copy)
    meta = json.loads((copy / "meta.json").read_text())
    del meta["tokenizers"]
    (copy / "meta.json").write_text(json.dumps(meta))
    assert main(["translate", "--model", str(copy), "dos"]) == 1
    assert "lacks 'tokenizers'" in capsys.readouterr().err
    shutil.rmtree(copy)
    shutil.copytree(run, copy)
    (copy / "best" / "model.safetensors").write_bytes(b"\x00" * 10)
    assert main(["translate", "--model", str(copy), "dos"]) == 1
    assert "corrupt" in capsys.readouterr().err


def test_cli_train_refuses_to_clobber_and_resumes(tiny_corpus, tmp_path, capsys):
    run = tmp_path / "run"
    args = ["train", "translate", "--out", str(run)]
    for override in (
        "data.corpus=jupyterlab-fr",
        "data.tokenizer=word",
        "model.hidden_dim=32",
        "model.emb_dim=16",
        "train.epochs=1",
        "train.min_steps=0",
        "data.min_batches_per_epoch=0",
        "train.eval_every=0",
        "train.progress=false",
    ):
        args += ["--set", override]
    assert main(args) == 0
    assert main(args) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert main([*args, "--resume", "--set", "train.epochs=2"]) == 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert sum(",dev,bleu," in r for r in rows) == 2  # one evaluation per epoch, 2 epochs
    assert main([*args, "--overwrite"]) == 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert sum(",dev,bleu," in r for r in rows) == 1


def test_a_partial_train_section_keeps_the_task_defaults(tiny_corpus, tmp_path):
    """``--set train.epochs=1`` must not reset translate's ``train.metric: bleu``."""
    from attnkit.config import load_config

    cfg = load_config(TASK.config_class, None, ["train.epochs=1"])
    assert cfg.train.metric == "bleu" and cfg.train.metric_mode == "max" and cfg.train.lr == 3e-3


def test_train_through_the_task_api_uses_run_tokenizers_on_resume(tiny_config, tmp_path):
    run = tmp_path / "run"
    train("translate", tiny_config(**{"train.epochs": 1}), run)
    before = (run / "tokenizer" / "joint.json").read_bytes()
    train("translate", tiny_config(**{"train.epochs": 2}), run, resume=True)
    assert (run / "tokenizer" / "joint.json").read_bytes() == before


TINY_TRANSFORMER = [
    "arch=transformer",
    "data.corpus=jupyterlab-fr",
    "data.tokenizer=word",
    "data.max_tokens=300",
    "transformer.dim=32",
    "transformer.heads=2",
    "transformer.ff_dim=64",
    "transformer.enc_layers=1",
    "transformer.dec_layers=1",
    "transformer.dropout=0.0",
    "train.epochs=12",
    "train.min_steps=0",
    "train.lr=0.005",
    "train.eval_every=0",
    "train.warmup_steps=0",
    "train.bf16=false",
    "train.progress=false",
    "decode.beam_size=2",
]


def test_transformer_through_the_same_commands(tiny_corpus, tmp_path, capsys):
    """arch=transformer trains, evaluates, translates and plots like the RNN; --no-test leaves
    the test split unscored until `attnkit eval` asks."""
    run = tmp_path / "tf"
    args = ["train", "translate", "--out", str(run), "--no-test"]
    for item in TINY_TRANSFORMER:
        args += ["--set", item]
    assert main(args) == 0
    assert "test_bleu" not in json.loads(capsys.readouterr().out)
    assert not (run / "eval_test.json").exists()
    assert type(open_run(run).model).__name__ == "Transformer"

    assert main(["eval", "--model", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["bleu"] > 60  # word for word over six words
    png = tmp_path / "attn.png"
    assert main(["translate", "--model", str(run), "--plot", str(png), "dos tres"]) == 0
    assert capsys.readouterr().out.strip() == "two three"
    assert png.read_bytes()[:4] == b"\x89PNG"
    assert (tmp_path / "attn.layers.png").read_bytes()[:4] == b"\x89PNG"  # every layer, head

    (result,) = TASK.predict(open_run(run), ["dos tres"], attention=True, layer_attention=True)
    layers = result["layer_attention"]  # (N, H, Lt, Ls): 1 layer, 2 heads, "two three", 3 pieces
    assert layers.shape == (1, 2, 2, 3)
    torch.testing.assert_close(layers[-1].mean(0), result["attention"])
