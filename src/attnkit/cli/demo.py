"""``attnkit demo`` (``make demo``): the main job, start to finish, on its defaults.

Fetch the Bible, train the es->en Bahdanau translator under a time budget, score it on the
test split, translate three held-out verses and a modern sentence with digits (they pass
through as placeholders), and draw the attention of the first verse.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attnkit.cli.app import app

MODERN_SENTENCE = "Tengo 3 gatos y 2 perros."


@app.command()
def demo(
    budget_minutes: Annotated[float, typer.Option(help="training time budget")] = 15.0,
    out: Annotated[Path | None, typer.Option(help="run folder")] = None,
) -> None:
    """The main job: train a small es->en attention translator, report BLEU, translate, plot."""
    from attnkit.config import load_config
    from attnkit.data import parallel
    from attnkit.data.registry import ensure
    from attnkit.paths import repo_configs_dir, runs_dir
    from attnkit.tasks import open_run
    from attnkit.tasks import train as train_task
    from attnkit.tasks.translate import TASK

    run_dir = Path(out or runs_dir() / "demo")
    cfg_path = repo_configs_dir() / TASK.default_config
    cfg = load_config(
        TASK.config_class,
        cfg_path if cfg_path.is_file() else None,
        [f"train.budget_minutes={budget_minutes}"],
    )
    typer.echo(f"== attnkit demo: es->en Bahdanau translator, {budget_minutes:g}-minute budget")
    typer.echo("== 1/4 fetching the corpus (Debian packages sword-text-sparv, sword-text-web)")
    ensure(cfg.data.corpus)
    resume = (run_dir / "last").is_dir()
    if resume:
        typer.echo(f"   continuing the run in {run_dir} (delete it to start again)")
    typer.echo(f"== 2/4 training into {run_dir}")
    summary = train_task(TASK, cfg, run_dir, resume=resume)
    typer.echo(
        f"== 3/4 test set: BLEU {summary['test_bleu']:.2f}  chrF {summary['test_chrf']:.2f} "
        f"({summary['test_sentences']} verses, beam {summary['test_beam_size']}; "
        f"trained {summary['steps']} steps in {summary['train_seconds'] / 60:.1f} min, "
        f"{summary['units_per_second']:,.0f} tok/s)"
    )
    run = open_run(run_dir)
    test = parallel.load_split(cfg.data.corpus, "test")
    picks = [test[i] for i in (0, len(test) // 2, len(test) - 1)]
    typer.echo("== 4/4 held-out verses")
    results = TASK.predict(run, [s for s, _ in picks], allow_unknown=True, attention=True)
    for (src, ref), result in zip(picks, results, strict=True):
        typer.echo(f"  es:  {src}\n  ref: {ref}\n  out: {result['translation']}\n")
    (modern,) = TASK.predict(run, [MODERN_SENTENCE], allow_unknown=True)
    typer.echo("  a sentence with digits (the Bible has none; they pass through as placeholders):")
    typer.echo(f"  es:  {MODERN_SENTENCE}\n  out: {modern['translation']}\n")
    png = run_dir / "attention.png"
    TASK.plot(results[0], png)
    typer.echo(f"attention map: {png}\ntraining curves: {run_dir / 'curves.png'}")
