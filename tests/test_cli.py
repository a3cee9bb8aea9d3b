"""The CLI's shared commands: clear errors and exit codes, never a traceback."""

import pytest

from attnkit.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nosuchtask"], "unknown task 'nosuchtask'"),
        (
            ["data", "get", "nosuchdata"],
            "unknown dataset 'nosuchdata'; available: aclsum, bible-es-en",
        ),
        (["eval", "--model", "/nonexistent/run"], "not a run folder"),
    ],
)
def test_user_errors_exit_1_with_message(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert err.startswith("error: ") and message in err


def test_data_list_shows_every_corpus(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("bible-es-en", "jupyterlab-fr", "pku-1998", "fashion-mnist"):
        assert name in out


def test_unknown_option_is_a_usage_error():
    assert main(["data", "get", "--nope"]) == 2


@pytest.mark.parametrize(
    ("command", "missing", "message"),
    [
        ("serve", "uvicorn", "pip install 'attnkit[serve]'"),
        ("export", "onnxscript", "pip install 'attnkit[onnx]'"),
    ],
)
def test_missing_optional_dependency_is_named(
    command, missing, message, monkeypatch, capsys, tmp_path
):
    """Without the serve / onnx extras the commands say what to install (None = not importable)."""
    import json
    import sys

    (tmp_path / "meta.json").write_text(json.dumps({"task": "classify"}))
    monkeypatch.setitem(sys.modules, missing, None)
    assert main([command, "--model", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert message in err


def test_train_help_names_every_task(capsys):
    from attnkit.tasks import TASKS

    assert main(["train", "--help"]) == 0
    out = capsys.readouterr().out
    assert " | ".join(TASKS) in " ".join(out.replace("│", " ").split())
