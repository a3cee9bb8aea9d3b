"""Commands about corpora and runs: ``data``, ``train``, ``eval``, ``export``, ``serve``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from attnkit.cli.app import app, data_app, echo_json
from attnkit.errors import AttnkitError

ModelOption = Annotated[Path, typer.Option(help="run folder written by `attnkit train`")]


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


def _config_path(task, run_dir: Path, config: Path | None, resume: bool) -> Path | None:
    from attnkit.paths import repo_configs_dir
    from attnkit.tasks.runs import CONFIG_FILE

    if config is not None:
        return config
    if resume and (run_dir / CONFIG_FILE).is_file():
        return run_dir / CONFIG_FILE
    default = repo_configs_dir() / task.default_config
    return default if default.is_file() else None


def _clear_run_folder(run_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Refuse to train over a run unless told to resume or overwrite it (rank 0 deletes)."""
    import shutil

    from attnkit.training import DistEnv

    if not (run_dir / "last").exists() or resume:
        return
    if not overwrite:
        raise AttnkitError(
            f"{run_dir} already holds a run: pass --resume to continue it, "
            "--overwrite to start again, or --out for another folder"
        )
    if DistEnv.from_environ().is_main:
        shutil.rmtree(run_dir)


@app.command()
def train(
    task: Annotated[
        str, typer.Argument(help="translate | tag | segtag | classify | summarize | babi | correct")
    ],
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
    test: Annotated[
        bool,
        typer.Option(help="score the test split at the end (--no-test while choosing on dev)"),
    ] = True,
) -> None:
    """Train a task's model, then score its best checkpoint (chosen on dev) on the test split."""
    from attnkit import log
    from attnkit.config import load_config
    from attnkit.paths import runs_dir
    from attnkit.tasks import get_task
    from attnkit.tasks import train as train_task
    from attnkit.training import DistEnv

    task_obj = get_task(task)
    run_dir = out or runs_dir() / task
    _clear_run_folder(run_dir, resume=resume, overwrite=overwrite)
    overrides = list(set_ or [])
    if seed is not None:
        overrides.append(f"train.seed={seed}")
    if budget_minutes is not None:
        overrides.append(f"train.budget_minutes={budget_minutes}")
    cfg_path = _config_path(task_obj, run_dir, config, resume)
    cfg = load_config(task_obj.config_class, cfg_path, overrides)
    main_rank = DistEnv.from_environ().is_main
    if main_rank:
        log.info(f"run folder: {run_dir}  (config: {cfg_path or 'defaults'})")
    try:
        metrics = train_task(task_obj, cfg, run_dir, resume=resume, test=test)
    except KeyboardInterrupt:
        raise AttnkitError(
            f"interrupted: the last checkpoint is in {run_dir / 'last'}; continue exactly with "
            f"`attnkit train {task} --out {run_dir} --resume`"
        ) from None
    if main_rank:
        echo_json(metrics)


@app.command("eval")
def eval_(
    model: ModelOption,
    split: Annotated[str, typer.Option(help="test | dev")] = "test",
) -> None:
    """Evaluate a trained run on a held-out split and print its metrics as JSON."""
    from attnkit.tasks import evaluate

    echo_json(evaluate(model, split))


@app.command()
def export(
    model: ModelOption,
    out: Annotated[
        Path | None,
        typer.Option(help="ONNX file (classify; default model.onnx) or folder (translate, tag)"),
    ] = None,
) -> None:
    """Export a trained model to ONNX and check it against PyTorch with onnxruntime.

    A classifier becomes one file; a translator a folder with its encoder, one decoder step,
    its tokenizers and search settings (run it with ``attnkit translate --onnx DIR``); a
    tagger a folder with its emissions graph, CRF scores and vocabulary."""
    from attnkit.export import require_onnx
    from attnkit.tasks import get_task, open_run, task_of_run

    task = get_task(task_of_run(model))
    if not task.exports_onnx:
        raise AttnkitError(
            f"{model} holds a {task.name!r} model; ONNX export exists for classify, "
            "translate and tag models"
        )
    require_onnx()  # name a missing extra before the model loads
    default = Path("model.onnx") if task.name == "classify" else Path(f"{task.name}-onnx")
    echo_json(task.export_onnx(open_run(model), out or default))


@app.command()
def serve(
    model: Annotated[
        Path | None, typer.Option(help="run folder to serve (default: cache/runs/demo)")
    ] = None,
    host: Annotated[
        str, typer.Option(help="interface to listen on (0.0.0.0 = all of them: set --api-key)")
    ] = "127.0.0.1",
    port: Annotated[int, typer.Option(help="TCP port")] = 8000,
    api_key: Annotated[
        str | None,
        typer.Option(
            envvar="ATTNKIT_API_KEY",
            help="require 'Authorization: Bearer KEY' on the API (the page and docs stay open)",
        ),
    ] = None,
    batching: Annotated[
        bool, typer.Option(help="decode concurrent translate / summarize requests together")
    ] = True,
    max_batch: Annotated[int, typer.Option(help="requests decoded together at most")] = 32,
    batch_wait_ms: Annotated[
        float, typer.Option(help="how long a request waits for others to batch with")
    ] = 5.0,
    queue_size: Annotated[
        int, typer.Option(help="requests that may wait; more get 503 + Retry-After")
    ] = 256,
) -> None:
    """HTTP API + attention explorer page for a trained model (open http://HOST:PORT/)."""
    from attnkit.paths import runs_dir

    try:
        import uvicorn

        from attnkit.serve import create_app
        from attnkit.serve.security import exposure_warning
    except ImportError as e:
        raise AttnkitError(
            f"attnkit serve needs fastapi and uvicorn ({e.name} is missing): "
            "pip install 'attnkit[serve]'"
        ) from None
    run_dir = model or runs_dir() / "demo"
    web = create_app(
        run_dir,
        batching=batching,
        max_batch=max_batch,
        wait_ms=batch_wait_ms,
        queue_size=queue_size,
        api_key=api_key,
    )
    if warning := exposure_warning(host, api_key):
        typer.echo(warning, err=True)
    typer.echo(f"serving {run_dir} on http://{host}:{port}/  (schema: /openapi.json; Ctrl-C stops)")
    uvicorn.run(web, host=host, port=port, log_level="warning")
