"""The classifier as an ONNX file that takes raw pixels, checked against PyTorch."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import torch

from attnkit.data.images import IMAGE_SIZE, normalize
from attnkit.models.se_resnet import SEResNet
from attnkit.tasks.runs import Run


class PixelClassifier(torch.nn.Module):
    """A trained classifier that takes raw pixels: ``(N, 1, 28, 28)`` in [0, 1] -> logits.

    The standardisation of :func:`~attnkit.data.images.normalize` is part of the module, so
    an exported graph needs no preprocessing beyond scaling bytes to [0, 1] (light garment
    on a dark ground, as in Fashion-MNIST).
    """

    def __init__(self, model: SEResNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(normalize(images))  # (N, 1, 28, 28) pixels in [0, 1] -> (N, K)


def export_classifier(run: Run, out: str | Path, *, check_images: int = 64) -> dict[str, Any]:
    """Export a trained classifier to ONNX and check it against PyTorch with onnxruntime.

    The graph takes ``images`` (float32 ``(N, 1, 28, 28)``, pixels in [0, 1], any N) and
    returns ``logits`` ``(N, K)``; the class names are in its metadata (``classes``).
    Returns the file, its size, and the largest logit difference between onnxruntime and
    PyTorch on ``check_images`` random images.

    Raises:
        AttnkitError: the onnx extra is missing, or the export fails.
    """
    from attnkit.export import export_onnx, max_abs_diff, require_onnx

    require_onnx()
    net = PixelClassifier(run.model.cpu()).eval()
    metadata = {
        "task": run.task.name,
        "arch": run.config.model.arch,
        "classes": run.assets,
        "input": "float32 (N, 1, 28, 28), pixels in [0, 1], light object on dark ground",
    }
    example = torch.rand(2, 1, IMAGE_SIZE, IMAGE_SIZE)
    path = export_onnx(
        net, example, out, input_name="images", output_name="logits", metadata=metadata
    )
    gen = torch.Generator().manual_seed(0)
    check = torch.rand(check_images, 1, IMAGE_SIZE, IMAGE_SIZE, generator=gen)
    return {
        "onnx": str(path),
        "bytes": path.stat().st_size,
        "checked_images": check_images,
        "max_abs_logit_diff": max_abs_diff(path, net, check),
    }


__all__ = ["PixelClassifier", "export_classifier"]
