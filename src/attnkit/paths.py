"""Where attnkit keeps data, runs and configs.

Example:
    >>> from attnkit.paths import cache_dir
    >>> cache_dir().name != ""
    True
"""

from __future__ import annotations

import os
from pathlib import Path


def cache_dir() -> Path:
    """The cache root: ``$ATTNKIT_HOME`` or ``~/.cache/attnkit`` (created on first use)."""
    root = Path(os.environ.get("ATTNKIT_HOME") or Path.home() / ".cache" / "attnkit")
    root.mkdir(parents=True, exist_ok=True)
    return root


def dataset_dir(name: str) -> Path:
    """The folder a fetched corpus lives in: ``cache_dir()/data/<name>`` (not created)."""
    return cache_dir() / "data" / name


def runs_dir() -> Path:
    """The default parent folder of training runs: ``cache_dir()/runs``."""
    return cache_dir() / "runs"


def repo_configs_dir() -> Path:
    """The ``configs/`` folder of the source checkout (the package is installed editable)."""
    return Path(__file__).resolve().parents[2] / "configs"


def repo_measured_dir() -> Path:
    """The ``benchmarks/measured/`` folder of the source checkout: the JSON behind the README."""
    return Path(__file__).resolve().parents[2] / "benchmarks" / "measured"
