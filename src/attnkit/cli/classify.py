"""``attnkit classify`` (top-k classes of image files) and ``attnkit explain`` (SE gates)."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attnkit.cli.app import app
from attnkit.errors import AttnkitError

ClassifyModel = Annotated[Path, typer.Option(help="a classify run folder (or its best/)")]


@app.command("classify")
def classify(
    images: Annotated[list[Path], typer.Argument(help="PNG/JPEG files (any size or colour mode)")],
    model: ClassifyModel,
    top_k: Annotated[int, typer.Option("--top-k", "-k", help="how many classes to show")] = 3,
    invert: Annotated[
        str, typer.Option(help="negate to light-on-black: auto (if the border is light), yes, no")
    ] = "auto",
) -> None:
    """Classify image files with a trained Fashion-MNIST model (top-k probabilities)."""
    from attnkit.data.images import load_image
    from attnkit.tasks import open_run
    from attnkit.tasks.classify import TASK

    pixels = [load_image(p, invert=invert) for p in images]  # bad files fail before the model
    results = TASK.predict(open_run(model, task="classify"), pixels, top_k=top_k)
    for path, result in zip(images, results, strict=True):
        shown = "  ".join(f"{c['class']} {c['probability']:.3f}" for c in result["top"])
        typer.echo(f"{path}\t{shown}")


@app.command("explain")
def explain(
    model: ClassifyModel,
    task: Annotated[
        str, typer.Argument(help="the task to explain (only classify has an explanation)")
    ] = "classify",
    out: Annotated[Path, typer.Option(help="PNG to write")] = Path("se_weights.png"),
    split: Annotated[str, typer.Option(help="train, validation or test")] = "test",
    limit: Annotated[
        int | None, typer.Option(help="use only the first N images of the split")
    ] = None,
) -> None:
    """Plot the mean SE channel gates per class at each stage (Hu et al. 2018, Fig. 6)."""
    from attnkit.tasks import open_run
    from attnkit.tasks.classify import explain as explain_gates

    if task != "classify":
        raise AttnkitError(f"nothing to explain for {task!r}: `attnkit explain classify`")
    scores = explain_gates(open_run(model, task="classify"), out, split=split, limit=limit)
    typer.echo("class specificity (mean over channels of the std across classes):")
    for name, value in scores.items():
        if "." not in name:
            typer.echo(f"  {name}: {value:.4f}")
    for name, value in scores.items():
        if "." in name:
            typer.echo(f"    {name}: {value:.4f}")
    typer.echo(f"wrote {out} and {Path(out).with_suffix('.json')}")
