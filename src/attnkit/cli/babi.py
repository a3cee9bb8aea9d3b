"""``attnkit babi``: answer a question about a story with a bAbI run, and show each hop."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from attnkit.cli.app import app
from attnkit.errors import AttnkitError


def read_story(source: str) -> list[str]:
    """The lines of a story file, or of standard input for ``-``."""
    if source == "-":
        if sys.stdin.isatty():
            raise AttnkitError("give the story as a FILE, or on standard input with --story -")
        return sys.stdin.read().splitlines()
    path = Path(source)
    if not path.is_file():
        raise AttnkitError(f"no such file: {path}")
    return path.read_text("utf-8", errors="replace").splitlines()


@app.command("babi")
def babi(
    story: Annotated[str, typer.Option(help="FILE with one sentence a line, or - for stdin")],
    question: Annotated[str, typer.Option(help='the question, e.g. "Where is Mary?"')],
    model: Annotated[
        Path | None, typer.Option(help="run folder (default: cache/runs/babi)")
    ] = None,
    task: Annotated[
        int | None, typer.Option(help="bAbI task whose model answers (runs with one per task)")
    ] = None,
    top: Annotated[int, typer.Option(help="memories shown per hop")] = 3,
    plot: Annotated[Path | None, typer.Option(help="PNG of every hop's attention")] = None,
) -> None:
    """Answer a question about a story (MemN2N) and show the sentences each hop attended."""
    from attnkit.paths import runs_dir
    from attnkit.tasks import open_run
    from attnkit.tasks.babi import TASK

    if top < 1:
        raise AttnkitError(f"--top must be >= 1, got {top}")
    lines = read_story(story)
    run = open_run(model or runs_dir() / "babi", task="babi")
    (result,) = TASK.predict(run, [{"story": lines, "question": question}], task=task, top=top)
    typer.echo(f"{result['answer']}\t{result['probability']:.3f}")
    for k, hop in enumerate(result["hops"], 1):
        shown = "  ".join(f"{m['weight']:.2f} [{m['index'] + 1}] {m['sentence']}" for m in hop)
        typer.echo(f"hop {k}: {shown}")
    if result["linear_start"]:
        typer.echo("(linear start never ended: hop weights are raw scores)", err=True)
    if plot is not None:
        TASK.plot(result, plot)
        typer.echo(f"attention map: {plot}", err=True)
