"""The ``attnkit`` command line.

Commands shared by every task live here (``data``, ``train``, ``eval``, ``bench``, ``demo``);
each task module adds its own prediction commands (``translate``, ``tag``, ``classify``,
``explain``). Errors a user can cause print ``error: ...`` and exit 1, never a traceback.

Example:
    $ attnkit data list
    $ attnkit train translate --set train.budget_minutes=5
    $ attnkit eval --model ~/.cache/attnkit/runs/translate
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Annotated

import typer

from attnkit.errors import AttnkitError

app = typer.Typer(
    add_completion=False,
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    help="attnkit: attention mechanisms and the classic models built on them.",
)
data_app = typer.Typer(no_args_is_help=True, help="List and fetch the real corpora.")
bench_app = typer.Typer(no_args_is_help=True, help="Side-by-side benchmarks against the peers.")
app.add_typer(data_app, name="data")
app.add_typer(bench_app, name="bench")


def echo_json(obj: object) -> None:
    """Print ``obj`` as indented JSON (what the eval commands print)."""
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False))


@data_app.command("list")
def data_list() -> None:
    """Show the corpora attnkit can fetch, whether each is cached, and its size."""
    from attnkit.data.registry import DATASETS, folder_size, is_cached
    from attnkit.paths import dataset_dir

    typer.echo(f"{'name':<15} {'cached':<8} {'size':>9}  source / description")
    for name, spec in DATASETS.items():
        cached = is_cached(name)
        size = f"{folder_size(dataset_dir(name)) / 1e6:.1f} MB" if cached else "-"
        typer.echo(f"{name:<15} {'yes' if cached else 'no':<8} {size:>9}  {spec.source}")
        typer.echo(f"{'':<35}{spec.description}")


@data_app.command("get")
def data_get(
    name: Annotated[str, typer.Argument(help="corpus name, see `attnkit data list`")],
    force: Annotated[bool, typer.Option(help="fetch again even if cached")] = False,
) -> None:
    """Fetch a corpus into the cache (``$ATTNKIT_HOME`` or ``~/.cache/attnkit``)."""
    from attnkit.data.registry import fetch

    path = fetch(name, force=force)
    typer.echo(f"{name}: {path}")


def _resolve_config(task_mod, run_dir: Path, config: Path | None, resume: bool) -> Path | None:
    from attnkit.paths import repo_configs_dir

    if config is not None:
        return config
    if resume and (run_dir / "config.yaml").is_file():
        return run_dir / "config.yaml"
    default = repo_configs_dir() / task_mod.DEFAULT_CONFIG
    return default if default.is_file() else None


@app.command()
def train(
    task: Annotated[str, typer.Argument(help="translate | tag | classify")],
    config: Annotated[Path | None, typer.Option(help="YAML config (default: configs/)")] = None,
    set_: Annotated[
        list[str] | None, typer.Option("--set", help="override a config key: key=value")
    ] = None,
    out: Annotated[Path | None, typer.Option(help="run folder (default: cache/runs/TASK)")] = None,
    resume: Annotated[bool, typer.Option(help="continue the run in --out exactly")] = False,
    overwrite: Annotated[bool, typer.Option(help="replace an existing run folder")] = False,
    seed: Annotated[int | None, typer.Option(help="shortcut for --set train.seed=N")] = None,
    budget_minutes: Annotated[
        float | None, typer.Option(help="shortcut for --set train.budget_minutes=M")
    ] = None,
) -> None:
    """Train a task's model; writes best/, last/, metrics.csv and curves.png to the run."""
    import shutil

    from attnkit.config import load_config, save_config
    from attnkit.paths import runs_dir
    from attnkit.tasks import get_task

    task_mod = get_task(task)
    run_dir = out or runs_dir() / task
    if (run_dir / "last").exists() and not resume:
        if not overwrite:
            raise AttnkitError(
                f"{run_dir} already holds a run: pass --resume to continue it, "
                "--overwrite to start again, or --out for another folder"
            )
        shutil.rmtree(run_dir)
    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"train.seed={seed}")
    if budget_minutes is not None:
        overrides.append(f"train.budget_minutes={budget_minutes}")
    cfg_path = _resolve_config(task_mod, run_dir, config, resume)
    cfg = load_config(task_mod.Config, cfg_path, overrides)
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    typer.echo(f"run folder: {run_dir}  (config: {cfg_path or 'defaults'})")
    try:
        metrics = task_mod.train(cfg, run_dir, resume=resume)
    except KeyboardInterrupt:
        raise AttnkitError(
            f"interrupted: the last checkpoint is in {run_dir / 'last'}; continue exactly with "
            f"`attnkit train {task} --out {run_dir} --resume`"
        ) from None
    echo_json(metrics)


@app.command("eval")
def eval_(
    model: Annotated[Path, typer.Option(help="run folder written by `attnkit train`")],
    split: Annotated[str, typer.Option(help="test | dev")] = "test",
) -> None:
    """Evaluate a trained run on a held-out split and print its metrics as JSON."""
    from attnkit.tasks import get_task, task_of_run

    echo_json(get_task(task_of_run(model)).evaluate(model, split=split))


@app.command()
def export(
    model: Annotated[Path, typer.Option(help="run folder written by `attnkit train classify`")],
    out: Annotated[Path, typer.Option(help="ONNX file to write")] = Path("model.onnx"),
) -> None:
    """Export a trained classifier to ONNX and check it against PyTorch with onnxruntime."""
    from attnkit.tasks import get_task, task_of_run

    task = task_of_run(model)
    task_mod = get_task(task)
    if not hasattr(task_mod, "export_onnx"):
        raise AttnkitError(
            f"{model} holds a {task!r} model; ONNX export exists for classify models "
            "(beam search and the CRF's Viterbi loop stay in PyTorch)"
        )
    echo_json(task_mod.export_onnx(model, out))


# Benchmarks parse their own options (argparse): typer hands every argument through.
PASS_THROUGH = {"allow_extra_args": True, "ignore_unknown_options": True, "help_option_names": []}


@bench_app.command("attention", context_settings=PASS_THROUGH)
def bench_attention(ctx: typer.Context) -> None:
    """SDPA / MultiHeadAttention vs torch, printing ratios (extra args go to the benchmark)."""
    from attnkit.bench.attention import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@bench_app.command("translate", context_settings=PASS_THROUGH)
def bench_translate(ctx: typer.Context) -> None:
    """Translator training speed vs JoeyNMT 2.3.0 on the same batches (--help)."""
    from attnkit.bench.translate import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@bench_app.command("tag", context_settings=PASS_THROUGH)
def bench_tag(ctx: typer.Context) -> None:
    """The tagger with and without self-attention / CRF, beside jieba (--help for options)."""
    from attnkit.bench.tag import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@bench_app.command("classify", context_settings=PASS_THROUGH)
def bench_classify(ctx: typer.Context) -> None:
    """ResNet-20 vs SE-ResNet-20 over seeds: mean +/- std, SE gain and cost (--help)."""
    from attnkit.bench.classify import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@bench_app.command("onnx", context_settings=PASS_THROUGH)
def bench_onnx(ctx: typer.Context) -> None:
    """The exported classifier in onnxruntime vs PyTorch eager, interleaved (--help)."""
    from attnkit.bench.onnx import main as bench_main

    raise typer.Exit(bench_main(list(ctx.args)))


@app.command()
def demo(
    budget_minutes: Annotated[float, typer.Option(help="training time budget")] = 15.0,
    out: Annotated[Path | None, typer.Option(help="run folder")] = None,
) -> None:
    """The main job: train a small es->en attention translator, report BLEU, translate, plot."""
    from attnkit.tasks.translate import demo as run_demo

    run_demo(budget_minutes=budget_minutes, run_dir=out)


@app.command()
def serve(
    model: Annotated[
        Path | None, typer.Option(help="translate or tag run folder (default: cache/runs/demo)")
    ] = None,
    host: Annotated[str, typer.Option(help="interface to listen on")] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
) -> None:
    """HTTP API + attention explorer page for a trained model (open http://HOST:PORT/)."""
    from attnkit.paths import runs_dir

    try:
        import uvicorn

        from attnkit.serve import create_app
    except ImportError as e:
        raise AttnkitError(
            f"attnkit serve needs fastapi and uvicorn ({e.name} is missing): "
            "pip install 'attnkit[serve]'"
        ) from None
    run_dir = model or runs_dir() / "demo"
    web = create_app(run_dir)
    typer.echo(f"serving {run_dir} on http://{host}:{port}/  (API docs: /docs; Ctrl-C stops)")
    uvicorn.run(web, host=host, port=port, log_level="warning")


# Prediction commands and the task module that registers each (imported only when used, so
# that `attnkit data get` never pays for, or depends on, the task modules).
TASK_COMMANDS = {
    "translate": "translate",
    "tag": "tag",
    "classify": "classify",
    "explain": "classify",
}


def _register_task_commands(argv: list[str]) -> None:
    from attnkit.tasks import available_tasks, get_task

    wanted = {TASK_COMMANDS[a] for a in argv[:1] if a in TASK_COMMANDS}
    if not argv or argv[0] in ("--help", "-h"):
        wanted = set(available_tasks())  # the help lists every command
    for name in sorted(wanted):
        get_task(name).add_commands(app)


def main(argv: list[str] | None = None) -> int:
    """Entry point of the ``attnkit`` console script; returns the exit status."""
    try:
        argv = sys.argv[1:] if argv is None else argv
        _register_task_commands(argv)
        app(args=argv)
    except AttnkitError as e:
        typer.echo(f"error: {e}", err=True)
        return 1
    except SystemExit as e:
        return e.code if isinstance(e.code, int) else (0 if e.code is None else 1)
    return 0


if __name__ == "__main__":
    sys.exit(main())
