"""The CLI's shared commands: clear errors and exit codes, never a traceback."""

import pytest

from attnkit.cli import main


@pytest.mark.parametrize(
    ("argv", "message"),
    [
        (["train", "nosuchtask"], "unknown task 'nosuchtask'"),
        (["data", "get", "nosuchdata"], "unknown dataset 'nosuchdata'; available: bible-es-en"),
        (["eval", "--model", "/nonexistent/run"], "not a run folder"),
    ],
)
def test_user_errors_exit_1_with_message(argv, message, capsys):
    assert main(argv) == 1
    err = capsys.readouterr().err
    assert message in err
    assert "Traceback" not in err


def test_data_list_shows_every_corpus(capsys):
    assert main(["data", "list"]) == 0
    out = capsys.readouterr().out
    for name in ("bible-es-en", "jupyterlab-fr", "pku-1998", "fashion-mnist"):
        assert name in out


def test_unknown_option_is_a_usage_error():
    assert main(["data", "get", "--nope"]) == 2
