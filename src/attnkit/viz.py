"""Pictures: attention heatmaps, confusion matrices and training curves (matplotlib, Agg).

Example:
    >>> import tempfile, torch
    >>> from pathlib import Path
    >>> path = Path(tempfile.mkdtemp()) / "attn.png"
    >>> plot_attention(torch.eye(2), ["a", "b"], ["x", "y"], path)
    >>> path.exists()
    True
"""

from __future__ import annotations

import csv
import warnings
from collections import defaultdict
from collections.abc import Sequence
from pathlib import Path

import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import numpy as np
import torch

CJK_FONT_NAME = "WenQuanYi Micro Hei"


def use_cjk_font() -> bool:
    """Make Chinese characters drawable, fetching the ``cjk-font`` asset when needed.

    matplotlib's own fonts have no CJK glyphs (labels become empty boxes). This registers
    WenQuanYi Micro Hei from the data cache (``attnkit data get cjk-font``, 1.6 MB) as a
    fallback after DejaVu Sans, so Latin text looks as before.

    Returns:
        True when a CJK font is available, False (with a warning) when it cannot be fetched.
    """
    from matplotlib import font_manager

    from attnkit.data import registry
    from attnkit.errors import AttnkitError

    if not _has_font(CJK_FONT_NAME):
        try:
            folder = registry.ensure("cjk-font")
        except AttnkitError as e:
            warnings.warn(f"no CJK font ({e}); Chinese labels will show as boxes", stacklevel=2)
            return False
        for font in sorted(folder.rglob("*.tt[cf]")):
            font_manager.fontManager.addfont(str(font))
    if not _has_font(CJK_FONT_NAME):
        warnings.warn(
            f"{CJK_FONT_NAME} is not in the cjk-font asset; Chinese labels will show "
            "as boxes (attnkit data get cjk-font --force)",
            stacklevel=2,
        )
        return False
    # matplotlib falls back glyph by glyph along font.family (not along font.sans-serif)
    plt.rcParams["font.family"] = ["DejaVu Sans", CJK_FONT_NAME]
    return True


def _has_font(name: str) -> bool:
    from matplotlib import font_manager

    return any(f.name == name for f in font_manager.fontManager.ttflist)


def _as_array(matrix: torch.Tensor | np.ndarray) -> np.ndarray:
    if isinstance(matrix, torch.Tensor):
        matrix = matrix.detach().float().cpu().numpy()
    return np.asarray(matrix, dtype=float)


def plot_heatmap(
    matrix: torch.Tensor | np.ndarray,
    row_labels: Sequence[str],
    col_labels: Sequence[str],
    path: str | Path,
    title: str | None = None,
    *,
    xlabel: str = "",
    ylabel: str = "",
    annotate: bool = False,
    cmap: str = "viridis",
) -> None:
    """Draw ``matrix`` (R, C) with labelled rows and columns and save it as PNG."""
    m = _as_array(matrix)
    if m.ndim != 2 or m.shape != (len(row_labels), len(col_labels)):
        raise ValueError(
            f"matrix of shape {m.shape} does not match {len(row_labels)} row and "
            f"{len(col_labels)} column labels"
        )
    rows, cols = m.shape
    fig, ax = plt.subplots(figsize=(max(4, 0.35 * cols + 2), max(3, 0.35 * rows + 1.5)))
    im = ax.imshow(m, cmap=cmap, aspect="auto")
    ax.set_xticks(range(cols), labels=list(col_labels), rotation=90, fontsize=8)
    ax.set_yticks(range(rows), labels=list(row_labels), fontsize=8)
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if annotate:
        for i in range(rows):
            for j in range(cols):
                ax.text(j, i, f"{m[i, j]:.0f}", ha="center", va="center", fontsize=6, color="w")
    if title:
        ax.set_title(title)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04)
    fig.tight_layout()
    fig.savefig(path, dpi=120)
    plt.close(fig)


def plot_attention(
    weights: torch.Tensor | np.ndarray,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    path: str | Path,
    title: str | None = None,
) -> None:
    """Attention heatmap: target tokens down the side, source tokens along the top.

    Args:
        weights: (Lt, Ls) attention of each target step over the source.
        src_tokens: Ls labels; tgt_tokens: Lt labels.
        path: PNG to write.
    """
    plot_heatmap(weights, tgt_tokens, src_tokens, path, title, xlabel="source", ylabel="output")


def plot_attention_grid(
    weights: torch.Tensor | np.ndarray,
    src_tokens: Sequence[str],
    tgt_tokens: Sequence[str],
    path: str | Path,
    title: str | None = None,
) -> None:
    """Every layer's and head's attention, one small heatmap each: layers down, heads across.

    Args:
        weights: (N, H, Lt, Ls) attention of N layers with H heads each.
        src_tokens: Ls labels (bottom row); tgt_tokens: Lt labels (left column).
        path: PNG to write.
    """
    w = _as_array(weights)
    if w.ndim != 4 or w.shape[2:] != (len(tgt_tokens), len(src_tokens)):
        raise ValueError(
            f"weights of shape {w.shape} do not match (layers, heads, {len(tgt_tokens)}, "
            f"{len(src_tokens)})"
        )
    layers, heads, rows, cols = w.shape
    cell_w, cell_h = max(2.0, 0.2 * cols + 0.8), max(1.8, 0.2 * rows + 0.8)
    fig, axes = plt.subplots(
        layers, heads, figsize=(cell_w * heads, cell_h * layers), squeeze=False
    )
    for n in range(layers):
        for h in range(heads):
            ax = axes[n][h]
            ax.imshow(w[n, h], cmap="viridis", aspect="auto", vmin=0.0, vmax=1.0)
            ax.set_title(f"layer {n + 1}, head {h + 1}", fontsize=8)
            ax.set_xticks(range(cols), labels=list(src_tokens) if n == layers - 1 else [],
                          rotation=90, fontsize=6)  # fmt: skip
            ax.set_yticks(range(rows), labels=list(tgt_tokens) if h == 0 else [], fontsize=6)
    if title:
        fig.suptitle(title)
    fig.tight_layout()
    fig.savefig(path, dpi=110)
    plt.close(fig)


def plot_confusion(
    matrix: torch.Tensor | np.ndarray, labels: Sequence[str], path: str | Path
) -> None:
    """Confusion matrix (rows: true class, columns: predicted), counts annotated."""
    plot_heatmap(
        matrix,
        labels,
        labels,
        path,
        "confusion matrix",
        xlabel="predicted",
        ylabel="true",
        annotate=True,
        cmap="Blues",
    )


def plot_curves(metrics_csv: str | Path, path: str | Path) -> None:
    """Training curves from a Trainer ``metrics.csv``: train loss and every dev metric."""
    series: dict[tuple[str, str], list[tuple[int, float]]] = defaultdict(list)
    with open(metrics_csv, newline="") as f:
        for row in csv.DictReader(f):
            series[(row["split"], row["name"])].append((int(row["step"]), float(row["value"])))
    names = [k for k in series if k[1] not in ("lr",) and not k[1].endswith("_per_s")]
    if not names:
        return
    fig, axes = plt.subplots(1, len(names), figsize=(4 * len(names), 3), squeeze=False)
    for ax, key in zip(axes[0], names, strict=True):
        steps, values = zip(*series[key], strict=True)
        ax.plot(steps, values, marker="." if len(steps) < 50 else None)
        ax.set_title(f"{key[0]} {key[1]}")
        ax.set_xlabel("step")
    fig.tight_layout()
    fig.savefig(path, dpi=100)
    plt.close(fig)
