"""``attnkit summarize``: summarise documents with a trained run, optionally drawing attention."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from attnkit.cli.app import app
from attnkit.cli.translate import read_inputs
from attnkit.errors import AttnkitError


def read_documents(source: str | None, whole: bool) -> list[str]:
    """Documents from a file or ``-`` (standard input): one per line, or the whole text."""
    if source is None or source == "-":
        if whole:
            if sys.stdin.isatty():
                raise AttnkitError("give a FILE, or a document on standard input")
            return [sys.stdin.read()]
        return read_inputs(None, "documents")
    path = Path(source)
    if not path.is_file():
        raise AttnkitError(f"no such file: {path}")
    text = path.read_text("utf-8", errors="replace")
    docs = [text] if whole else [line for line in text.splitlines() if line.strip()]
    if not docs or not "".join(docs).strip():
        raise AttnkitError(f"empty input: {path} holds no document")
    return docs


@app.command("summarize")
def summarize(
    source: Annotated[
        str | None, typer.Argument(help="FILE (one document a line) or - for stdin")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="run folder (default: cache/runs/summarize)")
    ] = None,
    whole: Annotated[bool, typer.Option(help="the whole input is one document")] = False,
    beam: Annotated[int | None, typer.Option(help="beam size (default: the run's)")] = None,
    n_best: Annotated[int, typer.Option(help="summaries per document")] = 1,
    plot: Annotated[
        Path | None, typer.Option(help="attention + p_gen PNG of the first document")
    ] = None,
) -> None:
    """Summarise documents with a pointer-generator run (attention and p_gen with --plot)."""
    from attnkit.paths import runs_dir
    from attnkit.tasks import get_task, open_run

    task = get_task("summarize")
    run = open_run(model or runs_dir() / "summarize", task="summarize")
    docs = read_documents(source, whole)
    results = task.predict(run, docs, beam=beam, n_best=n_best, attention=plot is not None)
    for result in results:
        for hyp in result["n_best"]:
            typer.echo(f"{hyp['summary']}\t{hyp['score']:.3f}" if n_best > 1 else hyp["summary"])
    if plot is not None:
        task.plot(results[0], plot)
        typer.echo(f"attention map: {plot}", err=True)
