"""The size of every corpus and its splits, as attnkit reads them (the README's counts).

Example:
    $ attnkit bench corpora                 # seconds once the corpora are fetched
"""

from __future__ import annotations

import argparse
from datetime import datetime
from pathlib import Path

from attnkit.bench.report import DEFAULT_OUT, machine, write_results


def readme_counts(folder: Path) -> dict[str, int]:
    """The ``name: number`` lines of a fetched corpus's README (written by its fetch)."""
    out = {}
    for line in (folder / "README").read_text(encoding="utf-8").splitlines():
        key, _, value = line.partition(":")
        if value.strip().isdigit():
            out[key.strip()] = int(value)
    return out


def count() -> dict:
    """Pairs / sentences / tokens / images per split of the four corpora."""
    from attnkit.data import fashion_mnist, pku
    from attnkit.data.registry import ensure

    bible, jupyter = ensure("bible-es-en"), ensure("jupyterlab-fr")
    splits = pku.load_splits(ensure("pku-1998"))
    fmnist = {
        split: len(fashion_mnist.load_split(split, None)[1])
        for split in ("train", "validation", "test")
    }
    return {
        "bible-es-en": readme_counts(bible),
        "jupyterlab-fr": readme_counts(jupyter),
        "pku-1998": {
            split: {"sentences": len(s), "tokens": sum(len(x) for x in s)}
            for split, s in splits.items()
        },
        "fashion-mnist": fmnist,
    }


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="attnkit bench corpora", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    args = parser.parse_args(argv)
    started = datetime.now()
    record = {"benchmark": "corpora", "machine": machine(), "corpora": count()}
    for name, counts in record["corpora"].items():
        print(f"{name}: {counts}")
    print(f"wrote {write_results(args.out, 'corpora', record, started)}")
    return 0


__all__ = ["count", "main", "readme_counts"]
