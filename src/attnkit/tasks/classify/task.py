"""Image classification with squeeze-and-excitation: Fashion-MNIST on (SE-)ResNet-20/56.

Wires :mod:`attnkit.data.images` and :mod:`attnkit.models.se_resnet` into the task contract:
the best epoch is picked on the 5,000 validation images held out of the training set, and the
official 10,000 test images are scored once with that checkpoint.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from attnkit.config import to_dict
from attnkit.data import fashion_mnist
from attnkit.data.images import EpochBatches, load_image, load_images, normalize
from attnkit.errors import AttnkitError
from attnkit.models.se_resnet import SEResNet, create_model
from attnkit.tasks.base import Prepared, Task
from attnkit.tasks.classify.config import Config, ModelConfig
from attnkit.tasks.runs import Run


def build_network(model_cfg: ModelConfig, num_classes: int = 10) -> SEResNet:
    """The network a :class:`ModelConfig` names, for 1-channel 28x28 images."""
    try:
        return create_model(
            model_cfg.arch,
            in_channels=1,
            num_classes=num_classes,
            reduction=model_cfg.reduction,
            shortcut=model_cfg.shortcut,
            channels_last=model_cfg.channels_last,
        )
    except ValueError as e:
        raise AttnkitError(f"model.arch: {e}") from None


@torch.no_grad()
def predict_logits(
    model: SEResNet, images: torch.Tensor, *, batch_size: int = 500, bf16: bool = False
) -> torch.Tensor:
    """Logits ``(N, K)`` for uint8 images ``(N, 28, 28)`` (model in eval mode)."""
    device = next(model.parameters()).device
    out = []
    for i in range(0, len(images), batch_size):
        x = normalize(images[i : i + batch_size]).to(device)
        with torch.autocast(device.type, dtype=torch.bfloat16, enabled=bf16):
            out.append(model(x).float().cpu())
    return torch.cat(out) if out else torch.zeros(0, len(fashion_mnist.CLASSES))


def confusion_matrix(pred: torch.Tensor, gold: torch.Tensor, num_classes: int) -> np.ndarray:
    """Counts ``(K, K)``: rows are true classes, columns predictions."""
    flat = gold.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, -1).numpy()


def _metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    return {
        "accuracy": (logits.argmax(-1) == labels).float().mean().item(),
        "loss": F.cross_entropy(logits, labels).item(),
    }


class ClassifyTask(Task):
    """The ``classify`` task (see :mod:`attnkit.tasks.base` for the contract)."""

    name = "classify"
    config_class = Config
    default_config = "classify_fmnist.yaml"
    unit = "img"
    exports_onnx = True

    # ----- training ---------------------------------------------------------------------------
    def prepare(self, cfg: Config, run_dir: Path, *, reuse: bool) -> Prepared:
        train_x, train_y = load_images("train", cfg.data, cfg.data.train_limit)
        dev_x, dev_y = load_images("validation", cfg.data, cfg.data.eval_limit)
        if len(train_y) < cfg.data.batch_size:
            raise AttnkitError(
                f"{len(train_y)} training images is fewer than one batch ({cfg.data.batch_size})"
            )
        return Prepared(
            assets=list(fashion_mnist.CLASSES),
            meta={
                "classes": list(fashion_mnist.CLASSES),
                "mean": fashion_mnist.MEAN,
                "std": fashion_mnist.STD,
                "model": to_dict(cfg.model),
            },
            batches=lambda epoch: EpochBatches(train_x, train_y, cfg.data, cfg.train.seed + epoch),
            dev=(dev_x, dev_y),
            description=f"{len(train_y):,} training images, {len(dev_y):,} validation",
        )

    def build_model(self, cfg: Config, assets: list[str]) -> SEResNet:
        return build_network(cfg.model, len(assets))

    def loss(self, cfg: Config, model: torch.nn.Module, batch: tuple) -> tuple[torch.Tensor, int]:
        x, y = batch
        logits = model(x)  # (B, K)
        return F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing), len(y)

    def validate(self, cfg: Config, model: torch.nn.Module, prepared: Prepared) -> dict[str, float]:
        from attnkit.training import resolve_bf16

        dev_x, dev_y = prepared.dev
        device = next(model.parameters()).device
        bf16 = resolve_bf16(cfg.train.bf16, device)
        logits = predict_logits(model, dev_x, batch_size=cfg.data.eval_batch_size, bf16=bf16)
        return _metrics(logits, dev_y)

    # ----- runs -------------------------------------------------------------------------------
    def load_assets(self, run_dir: Path, meta: dict[str, Any]) -> list[str]:
        return list(meta.get("classes", fashion_mnist.CLASSES))

    def evaluate(self, run: Run, split: str) -> dict[str, Any]:
        """Top-1 accuracy and loss on ``split``, per class, and ``confusion_<split>.png``."""
        from attnkit.viz import plot_confusion

        images, labels = load_images(split, run.config.data)
        split = "validation" if split in ("dev", "val") else split
        logits = predict_logits(run.model, images, batch_size=run.config.data.eval_batch_size)
        classes = run.assets
        matrix = confusion_matrix(logits.argmax(-1), labels, len(classes))
        plot_confusion(matrix, classes, run.path / f"confusion_{split}.png")
        per_class = (matrix.diagonal() / np.maximum(matrix.sum(1), 1)).tolist()
        return {
            **_metrics(logits, labels),
            "split": split,
            "n": len(labels),
            "per_class_accuracy": dict(zip(classes, per_class, strict=True)),
            "confusion": matrix.tolist(),
        }

    # ----- use --------------------------------------------------------------------------------
    def predict(
        self,
        run: Run,
        inputs: Sequence[str | Path | torch.Tensor],
        *,
        top_k: int = 3,
        invert: str = "auto",
    ) -> list[dict[str, Any]]:
        """Top-k classes of each image (a file path, or a uint8 ``(28, 28)`` tensor).

        Raises:
            AttnkitError: no images, an unreadable file, a bad ``top_k``.
        """
        if not inputs:
            raise AttnkitError("no images given")
        classes = run.assets
        if not 1 <= top_k <= len(classes):
            raise AttnkitError(f"top-k must be between 1 and {len(classes)}, got {top_k}")
        images = torch.stack(
            [x if isinstance(x, torch.Tensor) else load_image(x, invert=invert) for x in inputs]
        )  # (N, 28, 28)
        probs = predict_logits(run.model, images).softmax(-1)  # (N, K)
        values, indices = probs.topk(top_k, dim=-1)
        return [
            {
                "top": [
                    {"class": classes[i], "probability": p} for i, p in zip(idx, val, strict=True)
                ]
            }
            for idx, val in zip(indices.tolist(), values.tolist(), strict=True)
        ]

    def export_onnx(self, run: Run, out: Path) -> dict[str, Any]:
        from attnkit.tasks.classify.export import export_classifier

        return export_classifier(run, out)


TASK = ClassifyTask()

__all__ = ["TASK", "ClassifyTask", "build_network", "confusion_matrix", "predict_logits"]
