"""What the squeeze-and-excitation gates learned: their mean per class (Hu et al. 2018, Fig. 6).

Example (needs a trained SE run, so not a doctest)::

    scores = explain(open_run("~/.cache/attnkit/runs/classify"), "se.png")
    scores["stage1"], scores["stage3"]   # class specificity: near 0 early, larger late
"""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import torch
import torch.nn.functional as F

from attnkit.data import fashion_mnist
from attnkit.data.images import load_images, normalize
from attnkit.errors import AttnkitError
from attnkit.models.se_resnet import SEResNet
from attnkit.tasks.runs import Run


@torch.no_grad()
def channel_weights(model: SEResNet, images: torch.Tensor) -> dict[str, torch.Tensor]:
    """The SE gate of every block for each uint8 image ``(B, 28, 28)``: ``{block: (B, C)}``
    on the CPU, in block order (empty for a model without SE)."""
    x = normalize(images).to(next(model.parameters()).device)  # (B, 1, 28, 28)
    _, weights = model(x, return_channel_weights=True)
    return {name: w.float().cpu() for name, w in weights.items()}


def blocks_by_stage(blocks: list[str]) -> dict[str, list[str]]:
    """Group ``"stageI.blockJ"`` names by stage: ``{"stage1": ["stage1.block1", ...], ...}``."""
    stages: dict[str, list[str]] = {}
    for name in blocks:
        stages.setdefault(name.split(".")[0], []).append(name)
    return stages


def gate_summary(model: SEResNet, image: torch.Tensor) -> list[dict[str, float | int | str]]:
    """How one image's SE gates re-weight the channels, per stage (empty without SE).

    Args:
        model: the classifier (eval mode).
        image: uint8 ``(28, 28)``.

    Returns:
        One dict per stage, in order: ``stage``, ``blocks``, ``channels`` and the ``mean``,
        ``min`` and ``max`` of its gates over all its blocks and channels (gates are in (0, 1);
        near 1 keeps a channel, near 0 suppresses it).

    Example (needs a trained SE run, so not a doctest)::

        gate_summary(open_run("~/.cache/attnkit/runs/classify").model, load_image("a.png"))
        # [{"stage": "stage1", "blocks": 3, "channels": 16, "mean": 0.52, ...}, ...]
    """
    weights = channel_weights(model, image[None])  # {block: (1, C)}
    summary = []
    for stage, names in blocks_by_stage(list(weights)).items():
        gates = torch.cat([weights[n][0] for n in names])  # (blocks * C,)
        summary.append(
            {
                "stage": stage,
                "blocks": len(names),
                "channels": weights[names[0]].shape[1],
                "mean": gates.mean().item(),
                "min": gates.min().item(),
                "max": gates.max().item(),
            }
        )
    return summary


@torch.no_grad()
def channel_weights_by_class(
    model: SEResNet, images: torch.Tensor, labels: torch.Tensor, *, batch_size: int = 500
) -> dict[str, np.ndarray]:
    """Mean SE gate of every block for every class: ``{"stageI.blockJ": (K, C)}``.

    Raises:
        AttnkitError: the model has no SE modules.
    """
    num_classes = len(fashion_mnist.CLASSES)
    sums: dict[str, torch.Tensor] = {}
    counts = torch.bincount(labels, minlength=num_classes).double()  # (K,)
    for i in range(0, len(images), batch_size):
        weights = channel_weights(model, images[i : i + batch_size])
        if not weights:
            raise AttnkitError("this model has no squeeze-and-excitation modules to explain")
        one_hot = F.one_hot(labels[i : i + batch_size], num_classes).double()  # (B, K)
        for name, w in weights.items():  # w (B, C)
            sums[name] = sums.get(name, 0) + one_hot.T @ w.double()  # (K, C)
    return {n: (s / counts.clamp(min=1)[:, None]).numpy() for n, s in sums.items()}


def class_specificity(mean_weights: np.ndarray) -> float:
    """Mean over channels of the std across classes of the per-class mean gates.

    0 means every class gets the same channel re-weighting (class-agnostic, as the paper
    finds for early stages); larger values mean class-specific gates (late stages).

    Args:
        mean_weights: ``(K, C)`` per-class mean SE gates.
    """
    return float(mean_weights.std(axis=0).mean())


def explain(
    run: Run, out: str | Path, *, split: str = "test", limit: int | None = None
) -> dict[str, float]:
    """Plot the mean SE gate per class for every block (the analysis of Hu et al., Fig. 6).

    Writes ``out`` (a grid: one panel per block, rows = stages, one line per class) and
    ``out`` with suffix ``.json`` holding the per-class means and specificity numbers.

    Returns:
        Class specificity per block and per stage (``stage1`` ... = mean over its blocks).
    """
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    model = run.model
    data = run.config.data
    images, labels = load_images(split, data, limit)
    means = channel_weights_by_class(model, images, labels, batch_size=data.eval_batch_size)
    spec = {name: class_specificity(m) for name, m in means.items()}
    stages = blocks_by_stage(list(means))
    scores = dict(spec)
    for stage, names in stages.items():
        scores[stage] = float(np.mean([spec[n] for n in names]))

    classes = run.assets
    rows, cols = len(stages), max(len(v) for v in stages.values())
    fig, axes = plt.subplots(rows, cols, figsize=(3.2 * cols, 2.4 * rows), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for r, names in enumerate(stages.values()):
        for c in range(cols):
            ax = axes[r][c]
            if c >= len(names):
                ax.axis("off")
                continue
            m = means[names[c]]  # (K, C)
            for k in range(m.shape[0]):
                ax.plot(m[k], color=cmap(k % 10), lw=0.9, label=classes[k])
            ax.set_ylim(0, 1)
            ax.set_title(f"{names[c]}  spec={spec[names[c]]:.3f}", fontsize=8)
            ax.tick_params(labelsize=6)
            if c == 0:
                ax.set_ylabel("mean SE gate", fontsize=7)
            if r == rows - 1:
                ax.set_xlabel("channel", fontsize=7)
    handles, names_ = axes[0][0].get_legend_handles_labels()
    fig.legend(handles, names_, loc="lower center", ncol=5, fontsize=7, frameon=False)
    fig.suptitle(f"SE gates per class ({split}, {len(labels)} images)", fontsize=10)
    fig.tight_layout(rect=(0, 0.06, 1, 0.96))
    out = Path(out)
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=120)
    plt.close(fig)
    names = list(means)
    before_last = np.concatenate([means[n].ravel() for n in names[:-1]]) if len(names) > 1 else []
    report = {
        "split": split,
        "n": len(labels),
        "class_specificity": scores,
        "gate_range": {n: [float(m.min()), float(m.max())] for n, m in means.items()},
        "gate_range_before_last_block": [float(np.min(before_last)), float(np.max(before_last))]
        if len(before_last)
        else None,
        "mean_weights": {n: m.tolist() for n, m in means.items()},
        "classes": classes,
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    return scores


__all__ = [
    "blocks_by_stage",
    "channel_weights",
    "channel_weights_by_class",
    "class_specificity",
    "explain",
    "gate_summary",
]
