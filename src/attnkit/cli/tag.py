"""``attnkit tag``: PKU part-of-speech tags for Chinese text, optionally its self-attention."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from attnkit.cli.app import app


@app.command("tag")
def tag(
    text: Annotated[list[str], typer.Argument(help="Chinese text (several arguments are joined)")],
    model: Annotated[Path | None, typer.Option(help="run folder (default: cache/runs/tag)")] = None,
    segmented: Annotated[
        bool, typer.Option(help="input is already segmented: words separated by spaces")
    ] = False,
    json_: Annotated[bool, typer.Option("--json", help="print JSON instead of word/tag")] = False,
    plot: Annotated[
        Path | None, typer.Option(help="save a heatmap of the self-attention between words")
    ] = None,
    layer: Annotated[int, typer.Option(help="attention layer for --plot (-1: last)")] = -1,
) -> None:
    """Tag Chinese text with PKU part-of-speech tags (jieba segments raw text)."""
    from attnkit.paths import runs_dir
    from attnkit.tasks import open_run
    from attnkit.tasks.tag import TASK, check_input

    joined = (" " if segmented else "").join(text)
    check_input(joined)  # before the model loads
    run = open_run(model or runs_dir() / "tag", task="tag")
    result = TASK.predict(
        run, [joined], segmented=segmented, attention=plot is not None, layer=layer
    )[0]
    pairs = list(zip(result["words"], result["tags"], strict=True))
    if json_:
        typer.echo(json.dumps([{"word": w, "tag": t} for w, t in pairs], ensure_ascii=False))
    else:
        typer.echo("  ".join(f"{w}/{t}" for w, t in pairs))
    if plot is not None:
        TASK.plot(result, plot)
        typer.echo(f"attention heatmap: {plot}", err=True)
