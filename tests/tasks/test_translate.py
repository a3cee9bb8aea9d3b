"""The translation task end to end on a tiny corpus placed in the cache: train, eval, CLI."""

import json

import pytest

from attnkit.cli import main
from attnkit.tasks import translate


def test_train_eval_translate(tiny_config, tmp_path, capsys):
    run = tmp_path / "run"
    summary = translate.train(tiny_config(), run)
    # A word-for-word mapping over 6 words is learnable in seconds: BLEU must be high.
    assert summary["test_bleu"] > 60, summary
    assert (run / "best" / "model.safetensors").exists()
    assert (run / "test.hyp.txt").read_text().count("\n") == 20
    assert json.loads((run / "test_metrics.json").read_text())["bleu"] == summary["test_bleu"]

    assert main(["eval", "--model", str(run)]) == 0
    assert json.loads(capsys.readouterr().out)["bleu"] == summary["test_bleu"]

    png = tmp_path / "attn.png"
    assert (
        main(["translate", "--model", str(run), "--beam", "1", "--plot", str(png), "dos tres"]) == 0
    )
    assert capsys.readouterr().out.strip() == "two three"
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["   "], "empty input"),
        (["dos zzz"], "never seen 'zzz' in 'dos zzz'; pass --allow-unknown"),
        (["dos " * 300], "over the limit"),
    ],
)
def test_translate_bad_input_is_a_clear_error(tiny_config, tmp_path, capsys, args, message):
    run = tmp_path / "run"
    translate.train(tiny_config(**{"train.epochs": 1}), run)
    capsys.readouterr()
    assert main(["translate", "--model", str(run), *args]) == 1
    err = capsys.readouterr().err
    assert message in err and "Traceback" not in err


def test_missing_and_corrupt_checkpoint(tiny_config, tmp_path, capsys):
    assert main(["translate", "--model", str(tmp_path / "nope"), "hola"]) == 1
    assert "not a run folder" in capsys.readouterr().err
    run = tmp_path / "run"
    translate.train(tiny_config(**{"train.epochs": 1}), run)
    (run / "best" / "model.safetensors").write_bytes(b"\x00" * 10)
    capsys.readouterr()
    assert main(["translate", "--model", str(run), "dos"]) == 1
    assert "corrupt" in capsys.readouterr().err


def test_cli_train_refuses_to_clobber_and_resumes(tiny_corpus, tmp_path, capsys):
    run = tmp_path / "run"
    args = [
        "train",
        "translate",
        "--out",
        str(run),
        "--set",
        "data.corpus=jupyterlab-fr",
        "--set",
        "data.tokenizer=word",
        "--set",
        "model.hidden_dim=32",
        "--set",
        "model.emb_dim=16",
        "--set",
        "train.epochs=1",
        "--set",
        "train.progress=false",
    ]
    assert main(args) == 0
    assert main(args) == 1
    assert "already holds a run" in capsys.readouterr().err
    assert main([*args, "--resume", "--set", "train.epochs=2"]) == 0
    rows = (run / "metrics.csv").read_text().splitlines()
    assert sum(",dev,bleu," in r for r in rows) == 2  # one evaluation per epoch, 2 epochs
