"""``attnkit correct``: correct the spelling of texts with a ``correct`` run, and show why."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated, Any

import typer

from attnkit.cli.app import app
from attnkit.errors import AttnkitError


def read_texts(texts: list[str] | None) -> tuple[list[str], bool]:
    """The texts given, or else the lines of standard input (blank lines included: they are
    echoed as they are), and whether they came from standard input."""
    if texts:
        return texts, False
    if sys.stdin.isatty():
        raise AttnkitError("give a text to correct, or lines on standard input")
    lines = sys.stdin.read().splitlines()
    if not any(line.strip() for line in lines):
        raise AttnkitError("empty input: standard input has no text to correct")
    return lines, True


def show_explanation(result: dict[str, Any], top: int) -> list[str]:
    """Per checked token: its candidates, then each hop's ``top`` memory slots by weight."""
    lines = []
    for hop in result["hops"]:
        cands = "  ".join(f"{c['word']} {c['probability']:.2f}" for c in hop["candidates"])
        lines.append(f"{hop['token']} (token {hop['index']}): {cands}")
        for k, weights in enumerate(hop["attention"], 1):
            order = sorted(range(len(weights)), key=lambda m: -weights[m])[:top]
            slots = []
            for m in order:
                slot = hop["memory"][m]
                where = f"{slot['offset']:+d}" if slot["kind"] == "context" else "cand"
                slots.append(f"{weights[m]:.2f} {slot['label']}({where})")
            lines.append(f"  hop {k}: " + "  ".join(slots))
    return lines


@app.command("correct")
def correct(
    texts: Annotated[
        list[str] | None, typer.Argument(help="texts to correct (default: stdin, a line each)")
    ] = None,
    model: Annotated[
        Path | None, typer.Option(help="run folder (default: cache/runs/correct)")
    ] = None,
    diff: Annotated[bool, typer.Option(help="also list each change and its score")] = False,
    explain: Annotated[
        bool, typer.Option(help="show each checked token's candidates and hop attention")
    ] = False,
    top: Annotated[int, typer.Option(help="memory slots shown per hop with --explain")] = 4,
) -> None:
    """Correct spelling in context (a memory network over each doubtful word's neighbours)."""
    from attnkit.paths import runs_dir
    from attnkit.tasks import open_run
    from attnkit.tasks.correct import TASK

    if top < 1:
        raise AttnkitError(f"--top must be >= 1, got {top}")
    lines, from_stdin = read_texts(texts)
    run = open_run(model or runs_dir() / "correct", task="correct")
    todo = [line for line in lines if line.strip() or not from_stdin]
    results = iter(TASK.predict(run, todo, attention=explain))
    for line in lines:
        if from_stdin and not line.strip():
            typer.echo(line)  # a blank line of the input stays a blank line
            continue
        result = next(results)
        typer.echo(result["text"])
        if diff:
            for c in result["changes"]:
                typer.echo(f"  {c['from']} -> {c['to']}  ({c['kind']}, {c['score']:.2f})")
        if explain:
            for shown in show_explanation(result, top):
                typer.echo(f"  {shown}")
