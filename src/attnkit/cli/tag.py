"""``attnkit tag``: PKU part-of-speech tags for Chinese text, optionally its self-attention.

A ``segtag`` run (one character-level model) segments and tags raw text itself; a ``tag``
run (the word tagger) needs words: jieba's segmentation, or the user's (``--segmented``).
"""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from attnkit.cli.app import app


def default_run() -> Path:
    """``runs/segtag`` (joint segmentation) when it exists, else ``runs/tag``."""
    from attnkit.paths import runs_dir

    joint = runs_dir() / "segtag"
    return joint if (joint / "meta.json").is_file() else runs_dir() / "tag"


@app.command("tag")
def tag(
    text: Annotated[list[str], typer.Argument(help="Chinese text (several arguments are joined)")],
    model: Annotated[
        Path | None,
        typer.Option(help="a segtag or tag run (default: cache/runs/segtag, else runs/tag)"),
    ] = None,
    segmented: Annotated[
        bool, typer.Option(help="input is already segmented: words separated by spaces")
    ] = False,
    segmenter: Annotated[
        str | None,
        typer.Option(help="model (a segtag run's own segmentation) | jieba; tag runs use jieba"),
    ] = None,
    json_: Annotated[bool, typer.Option("--json", help="print JSON instead of word/tag")] = False,
    plot: Annotated[Path | None, typer.Option(help="save a heatmap of the self-attention")] = None,
    layer: Annotated[int, typer.Option(help="attention layer for --plot (-1: last)")] = -1,
    onnx: Annotated[
        Path | None,
        typer.Option(help="tag with an `attnkit export` folder of a tag run (onnxruntime)"),
    ] = None,
) -> None:
    """Tag Chinese text with PKU part-of-speech tags (segmenting raw text first)."""
    from attnkit.errors import AttnkitError
    from attnkit.tasks import get_task, open_run, task_of_run
    from attnkit.tasks.tag import check_input

    joined = (" " if segmented else "").join(text)
    check_input(joined)  # before the model loads
    if onnx is not None:
        _echo(_tag_onnx(onnx, joined, model=model, segmented=segmented, segmenter=segmenter,
                        plot=plot), json_)  # fmt: skip
        return
    run_dir = model or default_run()
    kind = task_of_run(run_dir)
    if kind not in ("tag", "segtag"):
        raise AttnkitError(f"{run_dir} holds a {kind!r} model, not a tagger")
    options = {"segmented": segmented, "attention": plot is not None, "layer": layer}
    if kind == "segtag":
        options["segmenter"] = segmenter or "model"
    elif segmenter not in (None, "jieba"):
        raise AttnkitError("a word tagger (a tag run) segments raw text with jieba only")
    task = get_task(kind)
    result = task.predict(open_run(run_dir), [joined], **options)[0]
    _echo(list(zip(result["words"], result["tags"], strict=True)), json_)
    if plot is not None:
        task.plot(result, plot)
        typer.echo(f"attention heatmap: {plot}", err=True)


def _tag_onnx(
    folder: Path,
    text: str,
    *,
    model: Path | None,
    segmented: bool,
    segmenter: str | None,
    plot: Path | None,
) -> list[tuple[str, str]]:
    """(word, tag) pairs of ``text`` from an exported word tagger: jieba's words of raw
    text (or the user's), tags from onnxruntime's emissions and the CRF's Viterbi."""
    from attnkit.errors import AttnkitError
    from attnkit.export import require_onnx
    from attnkit.tasks.tag import segment
    from attnkit.tasks.tag.onnx import OnnxTagger

    if model is not None:
        raise AttnkitError("give --model (a run) or --onnx (an exported folder), not both")
    if plot is not None:
        raise AttnkitError("--plot needs a run (--model): an exported tagger has no attention")
    if segmenter not in (None, "jieba"):
        raise AttnkitError("an exported word tagger segments raw text with jieba only")
    require_onnx()
    tagger = OnnxTagger(folder)
    words = segment(text, segmented=segmented)
    return list(zip(words, tagger.tag_words(words), strict=True))


def _echo(pairs: list[tuple[str, str]], as_json: bool) -> None:
    if as_json:
        typer.echo(json.dumps([{"word": w, "tag": t} for w, t in pairs], ensure_ascii=False))
    else:
        typer.echo("  ".join(f"{w}/{t}" for w, t in pairs))
