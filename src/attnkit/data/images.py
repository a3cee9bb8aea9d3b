"""Fashion-MNIST made ready for a classifier: splits, standardisation, augmented batches, files.

Everything between "the IDX files" (or a user's PNG/JPEG) and "normalised tensors" lives here:
the train / validation / test split as uint8 tensors, :func:`normalize`, the shuffled and
augmented training epochs, and :func:`load_image` / :func:`read_image` for photos a user brings.

Notation for tensor shapes: N images, B batch, H = W = 28.

Example:
    >>> import torch
    >>> x = torch.full((2, 28, 28), 255, dtype=torch.uint8)
    >>> normalize(x).shape, round(normalize(x)[0, 0, 0, 0].item(), 3)   # (1 - mean) / std
    (torch.Size([2, 1, 28, 28]), 2.023)
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import BinaryIO

import numpy as np
import torch

from attnkit.data import fashion_mnist
from attnkit.data.augment import augment
from attnkit.errors import AttnkitError

IMAGE_SIZE = 28


@dataclass
class ImageDataConfig:
    """Which images, how many, how batched and augmented."""

    root: str | None = None  # folder with the *-ubyte.gz files; None: the cached dataset
    validation_per_class: int = 500  # held out of the 60k training images, per class
    train_limit: int | None = None  # use only the first N training images (smoke runs)
    eval_limit: int | None = None  # evaluate on only the first N validation images
    batch_size: int = 128
    eval_batch_size: int = 500
    padding: int = 2  # random-crop padding in pixels (0: no crop)
    flip: bool = True  # random horizontal flips


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, H, W)`` or float [0, 1] ``(B, 1, H, W)`` -> standardised ``(B, 1, H, W)``."""
    if images.dtype == torch.uint8:
        images = images.float().div_(255.0)
    if images.ndim == 3:
        images = images[:, None]  # (B, 1, H, W)
    return (images - fashion_mnist.MEAN) / fashion_mnist.STD


SPLIT_NAMES = {"dev": "validation", "val": "validation"}


def load_images(
    split: str, cfg: ImageDataConfig, limit: int | None = None
) -> tuple[torch.Tensor, torch.Tensor]:
    """uint8 images ``(N, 28, 28)`` and int64 labels ``(N,)`` of ``train``, ``validation``
    (also ``dev``) or ``test``."""
    images, labels = fashion_mnist.load_split(
        SPLIT_NAMES.get(split, split), cfg.root, validation_per_class=cfg.validation_per_class
    )
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(images), torch.from_numpy(labels)


class EpochBatches:
    """One epoch of shuffled, augmented training batches (deterministic per seed and epoch).

    Batches are ``(images (B, 1, 28, 28) float, labels (B,) int64)``; the last partial
    batch is dropped (BatchNorm dislikes tiny batches).
    """

    def __init__(
        self, images: torch.Tensor, labels: torch.Tensor, cfg: ImageDataConfig, seed: int
    ) -> None:
        self.images, self.labels, self.cfg, self.seed = images, labels, cfg, seed

    def __len__(self) -> int:
        return len(self.labels) // self.cfg.batch_size

    def __iter__(self) -> Iterator[tuple[torch.Tensor, torch.Tensor]]:
        g = torch.Generator().manual_seed(self.seed)
        order = torch.randperm(len(self.labels), generator=g)
        bs = self.cfg.batch_size
        for i in range(len(self)):
            idx = order[i * bs : (i + 1) * bs]
            x = self.images[idx].float().div_(255.0)[:, None]  # (B, 1, H, W) in [0, 1]
            x = augment(x, padding=self.cfg.padding, flip=self.cfg.flip, generator=g)
            yield normalize(x), self.labels[idx]


def load_image(path: str | Path, *, invert: str = "auto") -> torch.Tensor:
    """Read any PNG/JPEG/... file into a Fashion-MNIST-like uint8 image ``(28, 28)``.

    Opens ``path`` and hands it to :func:`read_image` (which says how the image is converted).

    Raises:
        AttnkitError: missing file, not an image, or a bad ``invert`` value.
    """
    path = Path(path)
    if not path.is_file():
        raise AttnkitError(f"no such image file: {path}")
    with path.open("rb") as file:
        return read_image(file, invert=invert, name=str(path))


def read_image(
    file: BinaryIO,
    *,
    invert: str = "auto",
    name: str = "the image",
    formats: tuple[str, ...] | None = None,
    max_pixels: int | None = None,
) -> torch.Tensor:
    """Decode an open image file (or bytes in ``io.BytesIO``) into a uint8 image ``(28, 28)``.

    The image is converted to grayscale, its longer side scaled to 28 pixels (aspect kept)
    and centred on a black 28x28 canvas. Fashion-MNIST shows light objects on black; with
    ``invert="auto"`` an image whose border is mostly light (a product photo on white) is
    negated first.

    Args:
        file: a binary stream positioned at the image's first byte.
        invert: ``"auto"``, ``"yes"`` or ``"no"``.
        name: how error messages name the image.
        formats: PIL format names to accept (e.g. ``("PNG", "JPEG")``); None: any.
        max_pixels: refuse larger images before decoding their pixels (None: PIL's limit).

    Raises:
        AttnkitError: not an image (of ``formats``), a truncated one, too many pixels, or a
            bad ``invert`` value.

    Example:
        >>> import io
        >>> from PIL import Image
        >>> png = io.BytesIO()
        >>> Image.new("L", (56, 28), 255).save(png, "PNG")
        >>> x = read_image(io.BytesIO(png.getvalue()), invert="no")
        >>> x.shape, x[7:21].min().item(), x[:7].max().item()   # 56x28 -> 28x14, centred
        (torch.Size([28, 28]), 255, 0)
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if invert not in ("auto", "yes", "no"):
        raise AttnkitError(f"invert must be auto, yes or no, got {invert!r}")
    try:
        with Image.open(file, formats=formats) as im:
            if max_pixels is not None and im.width * im.height > max_pixels:
                raise AttnkitError(
                    f"{name} is {im.width}x{im.height} pixels; at most {max_pixels:,} are accepted"
                )
            im.load()
            gray = ImageOps.exif_transpose(im).convert("L")
    except UnidentifiedImageError:
        kind = " or ".join(formats) if formats else "an image format PIL reads"
        raise AttnkitError(f"{name} is not a readable image (not {kind})") from None
    except (OSError, ValueError, EOFError, SyntaxError, Image.DecompressionBombError) as e:
        # SyntaxError: what PIL's plugins raise for a broken chunk ("broken PNG file")
        raise AttnkitError(f"{name} is not a readable image ({e})") from None
    if gray.width == 0 or gray.height == 0:
        raise AttnkitError(f"{name} is an empty image")
    pixels = np.asarray(gray, dtype=np.float32)
    border = np.concatenate([pixels[0], pixels[-1], pixels[:, 0], pixels[:, -1]])
    if invert == "yes" or (invert == "auto" and border.mean() > 127):
        gray = ImageOps.invert(gray)
    scale = IMAGE_SIZE / max(gray.width, gray.height)
    size = (max(1, round(gray.width * scale)), max(1, round(gray.height * scale)))
    gray = gray.resize(size, Image.Resampling.LANCZOS)
    canvas = Image.new("L", (IMAGE_SIZE, IMAGE_SIZE), 0)
    canvas.paste(gray, ((IMAGE_SIZE - size[0]) // 2, (IMAGE_SIZE - size[1]) // 2))
    return torch.from_numpy(np.array(canvas, dtype=np.uint8))


__all__ = [
    "IMAGE_SIZE",
    "EpochBatches",
    "ImageDataConfig",
    "load_image",
    "load_images",
    "normalize",
    "read_image",
]
