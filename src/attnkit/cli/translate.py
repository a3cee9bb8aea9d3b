"""``attnkit translate``: translate sentences with a trained run, optionally drawing attention."""

from __future__ import annotations

import sys
from pathlib import Path
from typing import Annotated

import typer

from attnkit.cli.app import app
from attnkit.errors import AttnkitError


def read_inputs(texts: list[str] | None, what: str) -> list[str]:
    """The command-line texts, or the non-empty lines of standard input."""
    if texts:
        return texts
    if sys.stdin.isatty():
        raise AttnkitError(f"give {what} as arguments or on standard input")
    lines = [line.rstrip("\n") for line in sys.stdin if line.strip()]
    if not lines:
        raise AttnkitError(f"empty input: no {what} on standard input")
    return lines


@app.command("translate")
def translate(
    texts: Annotated[list[str] | None, typer.Argument(help="sentences (default: stdin)")] = None,
    model: Annotated[
        Path | None, typer.Option(help="run folder (default: cache/runs/translate)")
    ] = None,
    beam: Annotated[
        int | None, typer.Option(help="beam size (1 = greedy; default: the run's)")
    ] = None,
    n_best: Annotated[int, typer.Option(help="hypotheses per sentence")] = 1,
    plot: Annotated[Path | None, typer.Option(help="attention PNG of the first sentence")] = None,
    allow_unknown: Annotated[bool, typer.Option(help="translate unseen chars as <unk>")] = False,
    onnx: Annotated[
        Path | None, typer.Option(help="translate with an `attnkit export` folder (onnxruntime)")
    ] = None,
) -> None:
    """Translate sentences with a trained model (attention heatmap with --plot)."""
    from attnkit.paths import runs_dir
    from attnkit.tasks import open_run
    from attnkit.tasks.translate import TASK

    sentences = read_inputs(texts, "sentences")
    if onnx is not None and model is not None:
        raise AttnkitError("give --model (a run) or --onnx (an exported folder), not both")
    if onnx is not None:
        from attnkit.export import require_onnx
        from attnkit.tasks.translate.onnx_runtime import load_onnx_translator

        require_onnx()
        translator = load_onnx_translator(onnx)
    else:
        translator = TASK.translator(open_run(model or runs_dir() / "translate", task="translate"))
    results = translator.predict(
        sentences, beam=beam, n_best=n_best, allow_unknown=allow_unknown,
        attention=plot is not None,
        layer_attention=plot is not None,
    )  # fmt: skip
    for result in results:
        for hyp in result["n_best"]:
            typer.echo(
                f"{hyp['translation']}\t{hyp['score']:.3f}" if n_best > 1 else hyp["translation"]
            )
    if plot is not None:
        TASK.plot(results[0], plot)
        typer.echo(f"attention map: {plot}", err=True)
