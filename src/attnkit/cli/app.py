"""The typer apps every command module registers on, and what they share."""

from __future__ import annotations

import json

import typer

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
    typer.echo(json.dumps(obj, indent=2, ensure_ascii=False, default=float))


__all__ = ["app", "bench_app", "data_app", "echo_json"]
