"""What every benchmark shares: the machine it ran on, JSON results, mean +/- std.

Example:
    >>> mean_std([94.0, 94.5, 95.0])
    (94.5, 0.5)
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import re
import shutil
import statistics
from collections.abc import Sequence
from datetime import datetime
from pathlib import Path

import torch

DEFAULT_OUT = Path("benchmarks/results")


def code_version() -> str:
    """The git commit of the attnkit checkout (``+dirty`` with uncommitted changes), or ''."""
    import subprocess

    repo = Path(__file__).resolve().parents[3]

    def git(*args: str) -> str:
        cmd = ["git", "-C", str(repo), *args]
        return subprocess.run(cmd, capture_output=True, text=True, timeout=10, check=True).stdout

    try:
        sha = git("rev-parse", "--short", "HEAD").strip()
        dirty = git("status", "--porcelain", "--untracked-files=no").strip()
    except (OSError, subprocess.SubprocessError):
        return ""
    return sha + ("+dirty" if dirty else "")


def machine() -> dict:
    """torch version, CPU model, core count, torch threads of this process, attnkit commit."""
    cpu = platform.processor()
    try:
        with open("/proc/cpuinfo") as f:
            match = re.search(r"^model name\s*:\s*(.+)$", f.read(), re.MULTILINE)
            cpu = match.group(1) if match else cpu
    except OSError:
        pass
    return {
        "torch": torch.__version__,
        "python": platform.python_version(),
        "cpu": cpu,
        "cpu_count": os.cpu_count(),
        "torch_threads": torch.get_num_threads(),
        "platform": platform.platform(),
        "attnkit_commit": code_version(),
    }


def write_results(out: Path, name: str, record: dict, started: datetime) -> Path:
    """Write ``out/<name>-<timestamp>.json`` and a copy as ``out/<name>-latest.json``."""
    out.mkdir(parents=True, exist_ok=True)
    path = out / f"{name}-{started:%Y%m%d-%H%M%S}.json"
    path.write_text(json.dumps(record, indent=2) + "\n")
    shutil.copyfile(path, out / f"{name}-latest.json")
    return path


def positive_ints(text: str) -> list[int]:
    """An argparse ``type``: comma-separated positive integers (``"1,4,16"``).

    Example:
        >>> positive_ints("1,64, 500")
        [1, 64, 500]
    """
    try:
        values = [int(part) for part in text.split(",") if part.strip()]
    except ValueError:
        raise argparse.ArgumentTypeError(
            f"expected comma-separated integers, got {text!r}"
        ) from None
    if not values or min(values) < 1:
        raise argparse.ArgumentTypeError(f"expected positive integers, got {text!r}")
    return values


def positive_int(text: str) -> int:
    """An argparse ``type``: one positive integer.

    Example:
        >>> positive_int("3")
        3
    """
    try:
        value = int(text)
    except ValueError:
        value = 0
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def publish(name: str, out: Path, started: datetime, lines: list[str], **record) -> Path:
    """Print a benchmark's table ``lines`` and write them, the machine and ``record`` as its
    JSON (:func:`write_results`); the path written."""
    print("\n".join(lines))
    full = {
        "benchmark": name,
        "started": started.isoformat(timespec="seconds"),
        "machine": machine(),
        **record,
        "table": lines,
    }
    path = write_results(out, name, full, started)
    print(f"\nwrote {path}")
    return path


def mean_std(values: Sequence[float]) -> tuple[float, float]:
    """Mean and sample standard deviation (0 for a single value)."""
    mean = statistics.fmean(values)
    return mean, statistics.stdev(values) if len(values) > 1 else 0.0


__all__ = ["DEFAULT_OUT", "code_version", "machine", "mean_std", "write_results"]
