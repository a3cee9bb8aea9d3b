"""The ``attnkit`` command line: typer commands over the task contract, and nothing else.

=================  ===================================================================
module             commands
=================  ===================================================================
``runs``           ``data list|get``, ``train``, ``eval``, ``export``, ``serve``
``demo``           ``demo`` (the main job: ``make demo``)
``translate``      ``translate``
``summarize``      ``summarize``
``babi``           ``babi`` (a question about a story, each hop's memories)
``correct``        ``correct`` (spelling in context; ``--diff``, ``--explain``: the hops)
``tag``            ``tag`` (raw text through a ``segtag`` run, or words)
``classify``       ``classify``, ``explain``
``bench``          ``bench NAME`` (``bench.BENCHMARKS``: attention, translate, ...)
=================  ===================================================================

Errors a user can cause print ``error: ...`` and exit 1, never a traceback; usage errors
exit 2. Command modules import the heavy machinery (torch, the tasks) inside the commands, so
``attnkit data get`` never pays for it.

Example:
    $ attnkit data list
    $ attnkit train translate --set train.budget_minutes=5
    $ attnkit eval --model ~/.cache/attnkit/runs/translate
"""

from __future__ import annotations

import importlib
import logging
import sys

import typer

from attnkit.cli.app import app
from attnkit.errors import AttnkitError

# Importing a command module registers its commands; this order is the order of `--help`.
COMMAND_MODULES = ("runs", "demo", "translate", "summarize", "babi", "correct", "tag", "classify",
                   "bench")  # fmt: skip
for _module in COMMAND_MODULES:
    importlib.import_module(f"attnkit.cli.{_module}")


def _log_to_stderr() -> None:
    """attnkit's messages (``attnkit.log``) as plain lines on stderr, once."""
    logger = logging.getLogger("attnkit")
    if not any(getattr(h, "_attnkit_cli", False) for h in logger.handlers):
        handler = logging.StreamHandler(sys.stderr)
        handler.setFormatter(logging.Formatter("%(message)s"))
        handler._attnkit_cli = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    logger.setLevel(logging.INFO)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``attnkit`` console script; returns the exit status."""
    argv = sys.argv[1:] if argv is None else argv
    _log_to_stderr()
    try:
        app(args=argv)
    except AttnkitError as e:
        typer.echo(f"error: {e}", err=True)
        return 1
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


__all__ = ["app", "main"]
