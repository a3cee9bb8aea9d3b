"""Image classification with squeeze-and-excitation: Fashion-MNIST on (SE-)ResNet-20/56.

Wires :mod:`attnkit.data.fashion_mnist`, :mod:`attnkit.data.augment` and
:mod:`attnkit.models.se_resnet` into the shared :class:`attnkit.training.Trainer`.

Commands (registered by :func:`add_commands`)::

    attnkit train classify --config configs/classify_fmnist.yaml [--set model.arch=resnet20]
    attnkit eval --model RUN_DIR                        # top-1 accuracy + confusion matrix PNG
    attnkit classify --model RUN_DIR a.png b.jpg        # top-k classes with probabilities
    attnkit explain classify --model RUN_DIR --out se.png  # mean SE gates per class (Fig. 6)
    attnkit export --model RUN_DIR --out fmnist.onnx    # ONNX, checked with onnxruntime

Example:
    >>> cfg = Config()
    >>> cfg.model.arch, cfg.train.metric
    ('se_resnet20', 'accuracy')
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Literal

import numpy as np
import torch
import torch.nn.functional as F

from attnkit.config import save_config, to_dict
from attnkit.data import fashion_mnist
from attnkit.data.augment import augment
from attnkit.errors import AttnkitError
from attnkit.models.se_resnet import SEResNet, SEResNetConfig
from attnkit.training import TrainConfig, Trainer, default_device, seed_everything

TASK = "classify"
DEFAULT_CONFIG = "classify_fmnist.yaml"

ARCHS: dict[str, tuple[int, bool]] = {
    "resnet20": (20, False),
    "se_resnet20": (20, True),
    "resnet56": (56, False),
    "se_resnet56": (56, True),
}
"""Model name -> (depth, with SE)."""

IMAGE_SIZE = 28


@dataclass
class DataConfig:
    """Which images, how many, how batched and augmented."""

    root: str | None = None  # folder with the *-ubyte.gz files; None: the cached dataset
    validation_per_class: int = 500  # held out of the 60k training images, per class
    train_limit: int | None = None  # use only the first N training images (smoke runs)
    eval_limit: int | None = None  # evaluate on only the first N validation images
    batch_size: int = 128
    eval_batch_size: int = 500
    padding: int = 2  # random-crop padding in pixels (0: no crop)
    flip: bool = True  # random horizontal flips


@dataclass
class ModelConfig:
    """Which network (see :mod:`attnkit.models.se_resnet`)."""

    arch: Literal["resnet20", "se_resnet20", "resnet56", "se_resnet56"] = "se_resnet20"
    reduction: int = 16  # SE bottleneck ratio r
    shortcut: Literal["A", "B"] = "A"  # A: zero-padding identity, B: 1x1 projection
    channels_last: bool = True  # NHWC activations (faster convolutions on CPU)


def _default_train() -> TrainConfig:
    return TrainConfig(
        epochs=20,
        lr=0.1,
        optimizer="sgd",
        momentum=0.9,
        weight_decay=5e-4,
        schedule="cosine",
        grad_clip=None,
        metric="accuracy",
        metric_mode="max",
        log_every=50,
        bf16="auto",
    )


@dataclass
class Config:
    """The classify task: data, model, training and the loss's label smoothing."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(default_factory=_default_train)
    label_smoothing: float = 0.1


# ----- model -------------------------------------------------------------------------------


def build_model(model_cfg: ModelConfig | dict[str, Any]) -> SEResNet:
    """The network a :class:`ModelConfig` (or its dict from a checkpoint's meta) describes."""
    if isinstance(model_cfg, dict):
        from attnkit.config import from_dict

        model_cfg = from_dict(ModelConfig, model_cfg, "model")
    if model_cfg.arch not in ARCHS:
        raise AttnkitError(f"unknown model.arch {model_cfg.arch!r}; valid: {', '.join(ARCHS)}")
    depth, se = ARCHS[model_cfg.arch]
    return SEResNet(
        SEResNetConfig(
            depth=depth,
            in_channels=1,
            num_classes=len(fashion_mnist.CLASSES),
            se=se,
            reduction=model_cfg.reduction,
            shortcut=model_cfg.shortcut,
            channels_last=model_cfg.channels_last,
        )
    )


def _checkpoint_dir(model_dir: str | Path) -> Path:
    """A run dir's ``best/`` (else ``last/``), or ``model_dir`` itself if it is a checkpoint."""
    model_dir = Path(model_dir)
    if (model_dir / "model.safetensors").is_file():
        return model_dir
    for sub in ("best", "last"):
        if (model_dir / sub / "model.safetensors").is_file():
            return model_dir / sub
    raise AttnkitError(
        f"no trained model in {model_dir} (expected {model_dir}/best/model.safetensors); "
        "train one with: attnkit train classify"
    )


def load_model(model_dir: str | Path) -> tuple[SEResNet, dict[str, Any]]:
    """Load a trained classifier (eval mode) and its meta from a run or checkpoint dir.

    Raises:
        AttnkitError: no checkpoint, a checkpoint of another task, or corrupt files.
    """
    from attnkit.training.checkpoint import load_model_state

    ckpt = _checkpoint_dir(model_dir)
    state, meta = load_model_state(ckpt)
    if meta.get("task") != TASK or "model" not in meta:
        raise AttnkitError(f"{ckpt} is not a classify checkpoint (task: {meta.get('task')!r})")
    model = build_model(meta["model"])
    try:
        model.load_state_dict(state)
    except RuntimeError as e:
        raise AttnkitError(f"checkpoint {ckpt} does not fit its model config: {e}") from None
    return model.eval(), meta


# ----- data --------------------------------------------------------------------------------


def normalize(images: torch.Tensor) -> torch.Tensor:
    """uint8 ``(B, H, W)`` or float [0, 1] ``(B, 1, H, W)`` -> standardised ``(B, 1, H, W)``."""
    if images.dtype == torch.uint8:
        images = images.float().div_(255.0)
    if images.ndim == 3:
        images = images[:, None]  # (B, 1, H, W)
    return (images - fashion_mnist.MEAN) / fashion_mnist.STD


class EpochBatches:
    """One epoch of shuffled, augmented training batches (deterministic per seed and epoch).

    Batches are ``(images (B, 1, 28, 28) float, labels (B,) int64)``; the last partial
    batch is dropped (BatchNorm dislikes tiny batches).
    """

    def __init__(
        self,
        images: torch.Tensor,
        labels: torch.Tensor,
        cfg: DataConfig,
        seed: int,
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


def _load(split: str, data: DataConfig, limit: int | None = None):
    images, labels = fashion_mnist.load_split(
        split, data.root, validation_per_class=data.validation_per_class
    )
    if limit is not None:
        images, labels = images[:limit], labels[:limit]
    return torch.from_numpy(images), torch.from_numpy(labels)


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


def _metrics(logits: torch.Tensor, labels: torch.Tensor) -> dict[str, float]:
    return {
        "accuracy": (logits.argmax(-1) == labels).float().mean().item(),
        "loss": F.cross_entropy(logits, labels).item(),
    }


def confusion_matrix(pred: torch.Tensor, gold: torch.Tensor, num_classes: int) -> np.ndarray:
    """Counts ``(K, K)``: rows are true classes, columns predictions."""
    flat = gold.long() * num_classes + pred.long()
    return torch.bincount(flat, minlength=num_classes**2).reshape(num_classes, -1).numpy()


# ----- train / evaluate --------------------------------------------------------------------


def train(cfg: Config, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train on the 55k split, pick the best epoch on validation, report test accuracy.

    Returns:
        The Trainer's summary plus ``test_accuracy``, ``test_loss`` and ``params``.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    seed_everything(cfg.train.seed)
    train_x, train_y = _load("train", cfg.data, cfg.data.train_limit)
    dev_x, dev_y = _load("validation", cfg.data, cfg.data.eval_limit)
    device = default_device()
    model = build_model(cfg.model).to(device)
    if len(train_y) < cfg.data.batch_size:
        raise AttnkitError(
            f"{len(train_y)} training images is fewer than one batch ({cfg.data.batch_size})"
        )
    meta = {
        "task": TASK,
        "model": to_dict(cfg.model),
        "classes": list(fashion_mnist.CLASSES),
        "mean": fashion_mnist.MEAN,
        "std": fashion_mnist.STD,
        "data": to_dict(cfg.data),
        "params": sum(p.numel() for p in model.parameters()),
    }
    save_config(cfg, run_dir / "config.yaml")

    def loss_fn(m: torch.nn.Module, batch: tuple[torch.Tensor, torch.Tensor]):
        x, y = batch[0].to(device, non_blocking=True), batch[1].to(device, non_blocking=True)
        logits = m(x)  # (B, K)
        return F.cross_entropy(logits.float(), y, label_smoothing=cfg.label_smoothing), len(y)

    def evaluate_dev(m: torch.nn.Module) -> dict[str, float]:
        logits = predict_logits(m, dev_x, batch_size=cfg.data.eval_batch_size, bf16=trainer.bf16)
        return _metrics(logits, dev_y)

    trainer = Trainer(
        model,
        cfg.train,
        run_dir,
        loss_fn=loss_fn,
        batches=lambda epoch: EpochBatches(train_x, train_y, cfg.data, cfg.train.seed + epoch),
        evaluate=evaluate_dev,
        unit="img",
        meta=meta,
        resume=resume,
    )
    summary = trainer.fit()
    test = evaluate(run_dir, split="test")
    summary.update({f"test_{k}": v for k, v in test.items()})
    summary["params"] = meta["params"]
    return summary


def evaluate(run_dir: Path, *, split: str = "test") -> dict[str, float]:
    """Top-1 accuracy and loss of the best checkpoint on ``split``; writes the confusion matrix.

    Writes ``run_dir/confusion_<split>.png`` and ``run_dir/eval_<split>.json``.

    Raises:
        AttnkitError: no checkpoint in ``run_dir`` or an unknown split.
    """
    from attnkit.config import from_dict
    from attnkit.viz import plot_confusion

    run_dir = Path(run_dir)
    split = {"dev": "validation", "val": "validation"}.get(split, split)
    model, meta = load_model(run_dir)
    data = from_dict(DataConfig, meta.get("data", {}), "data")
    images, labels = _load(split, data)
    logits = predict_logits(model, images, batch_size=data.eval_batch_size)
    metrics = _metrics(logits, labels)
    matrix = confusion_matrix(logits.argmax(-1), labels, len(fashion_mnist.CLASSES))
    out_dir = run_dir if run_dir.name not in ("best", "last") else run_dir.parent
    plot_confusion(matrix, list(fashion_mnist.CLASSES), out_dir / f"confusion_{split}.png")
    per_class = (matrix.diagonal() / np.maximum(matrix.sum(1), 1)).tolist()
    report = {
        **metrics,
        "split": split,
        "n": len(labels),
        "per_class_accuracy": dict(zip(fashion_mnist.CLASSES, per_class, strict=True)),
        "confusion": matrix.tolist(),
    }
    (out_dir / f"eval_{split}.json").write_text(json.dumps(report, indent=1))
    return metrics


# ----- prediction on image files -----------------------------------------------------------


def load_image(path: str | Path, *, invert: str = "auto") -> torch.Tensor:
    """Read any PNG/JPEG/... into a Fashion-MNIST-like uint8 image ``(28, 28)``.

    The image is converted to grayscale, its longer side scaled to 28 pixels (aspect kept)
    and centred on a black 28x28 canvas. Fashion-MNIST shows light objects on black; with
    ``invert="auto"`` an image whose border is mostly light (a product photo on white) is
    negated first.

    Args:
        path: the image file.
        invert: ``"auto"``, ``"yes"`` or ``"no"``.

    Raises:
        AttnkitError: missing file, not an image, or a bad ``invert`` value.
    """
    from PIL import Image, ImageOps, UnidentifiedImageError

    if invert not in ("auto", "yes", "no"):
        raise AttnkitError(f"invert must be auto, yes or no, got {invert!r}")
    path = Path(path)
    if not path.is_file():
        raise AttnkitError(f"no such image file: {path}")
    try:
        with Image.open(path) as im:
            im.load()
            gray = ImageOps.exif_transpose(im).convert("L")
    except (UnidentifiedImageError, OSError, ValueError) as e:
        raise AttnkitError(f"{path} is not a readable image ({e})") from None
    if gray.width == 0 or gray.height == 0:
        raise AttnkitError(f"{path} is an empty image")
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


def classify_images(
    model_dir: str | Path, paths: Sequence[str | Path], *, top_k: int = 3, invert: str = "auto"
) -> list[list[tuple[str, float]]]:
    """Top-k ``(class name, probability)`` for each image file.

    Raises:
        AttnkitError: no images, a bad file, a bad ``top_k`` or no model.
    """
    if not paths:
        raise AttnkitError("no image files given")
    images = torch.stack([load_image(p, invert=invert) for p in paths])  # (N, 28, 28)
    model, meta = load_model(model_dir)
    classes = meta.get("classes", list(fashion_mnist.CLASSES))
    if not 1 <= top_k <= len(classes):
        raise AttnkitError(f"--top-k must be between 1 and {len(classes)}, got {top_k}")
    probs = predict_logits(model, images).softmax(-1)  # (N, K)
    values, indices = probs.topk(top_k, dim=-1)
    return [
        [(classes[i], p) for i, p in zip(idx.tolist(), val.tolist(), strict=True)]
        for idx, val in zip(indices, values, strict=True)
    ]


# ----- ONNX export ------------------------------------------------------------------------


class PixelClassifier(torch.nn.Module):
    """A trained classifier that takes raw pixels: ``(N, 1, 28, 28)`` in [0, 1] -> logits.

    The standardisation of :func:`normalize` is part of the module, so an exported graph
    needs no preprocessing beyond scaling bytes to [0, 1] (light garment on a dark ground, as
    in Fashion-MNIST).
    """

    def __init__(self, model: SEResNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, images: torch.Tensor) -> torch.Tensor:
        return self.model(normalize(images))  # (N, 1, 28, 28) pixels in [0, 1] -> (N, K)


def export_onnx(model_dir: str | Path, out: str | Path, *, check_images: int = 64) -> dict:
    """Export a trained classifier to ONNX and check it against PyTorch with onnxruntime.

    The graph takes ``images`` (float32 ``(N, 1, 28, 28)``, pixels in [0, 1], any N) and
    returns ``logits`` ``(N, K)``; the class names are in its metadata (``classes``).
    Returns the file, its size, and the largest logit difference between onnxruntime and
    PyTorch on ``check_images`` random images.

    Raises:
        AttnkitError: no trained model, or the onnx extra is missing.
    """
    from attnkit.export import export_onnx as export_module
    from attnkit.export import max_abs_diff, require_onnx

    require_onnx()
    model, meta = load_model(model_dir)
    net = PixelClassifier(model).eval()
    metadata = {
        "task": TASK,
        "arch": meta["model"]["arch"],
        "classes": meta.get("classes", list(fashion_mnist.CLASSES)),
        "input": "float32 (N, 1, 28, 28), pixels in [0, 1], light object on dark ground",
    }
    example = torch.rand(2, 1, IMAGE_SIZE, IMAGE_SIZE)
    path = export_module(
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


# ----- explain: SE gates per class ---------------------------------------------------------


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
        x = normalize(images[i : i + batch_size])
        y = labels[i : i + batch_size]
        _, weights = model(x, return_channel_weights=True)
        if not weights:
            raise AttnkitError("this model has no squeeze-and-excitation modules to explain")
        one_hot = F.one_hot(y, num_classes).double()  # (B, K)
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
    model_dir: str | Path, out: str | Path, *, split: str = "test", limit: int | None = None
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

    model, meta = load_model(model_dir)
    from attnkit.config import from_dict

    data = from_dict(DataConfig, meta.get("data", {}), "data")
    images, labels = _load(split, data, limit)
    means = channel_weights_by_class(model, images, labels, batch_size=data.eval_batch_size)
    spec = {name: class_specificity(m) for name, m in means.items()}
    stages: dict[str, list[str]] = {}
    for name in means:
        stages.setdefault(name.split(".")[0], []).append(name)
    scores = dict(spec)
    for stage, names in stages.items():
        scores[stage] = float(np.mean([spec[n] for n in names]))

    classes = meta.get("classes", list(fashion_mnist.CLASSES))
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
    report = {
        "split": split,
        "n": len(labels),
        "class_specificity": scores,
        "mean_weights": {n: m.tolist() for n, m in means.items()},
        "classes": classes,
    }
    out.with_suffix(".json").write_text(json.dumps(report, indent=1))
    return scores


# ----- CLI ---------------------------------------------------------------------------------


def add_commands(app: Any) -> None:
    """Register ``attnkit classify`` and ``attnkit explain`` on the typer ``app``."""
    import typer

    @app.command("classify")
    def classify_command(
        images: list[Path] = typer.Argument(..., help="PNG/JPEG files (any size or colour mode)."),
        model: Path = typer.Option(..., "--model", help="A classify run dir (or its best/)."),
        top_k: int = typer.Option(3, "--top-k", "-k", help="How many classes to show."),
        invert: str = typer.Option(
            "auto", help="Negate to light-on-black: auto (if the border is light), yes, no."
        ),
    ) -> None:
        """Classify image files with a trained Fashion-MNIST model (top-k probabilities)."""
        results = classify_images(model, images, top_k=top_k, invert=invert)
        for path, top in zip(images, results, strict=True):
            shown = "  ".join(f"{name} {p:.3f}" for name, p in top)
            typer.echo(f"{path}\t{shown}")

    @app.command("explain")
    def explain_command(
        task: str = typer.Argument(
            "classify", help="The task to explain (only classify has an explanation)."
        ),
        model: Path = typer.Option(..., "--model", help="A classify run dir with an SE model."),
        out: Path = typer.Option(Path("se_weights.png"), "--out", help="PNG to write."),
        split: str = typer.Option("test", help="train, validation or test."),
        limit: int | None = typer.Option(None, help="Use only the first N images of the split."),
    ) -> None:
        """Plot the mean SE channel gates per class at each stage (Hu et al. 2018, Fig. 6)."""
        if task != TASK:
            raise AttnkitError(f"nothing to explain for {task!r}: `attnkit explain classify`")
        scores = explain(model, out, split=split, limit=limit)
        typer.echo("class specificity (mean over channels of the std across classes):")
        for name, value in scores.items():
            if "." not in name:
                typer.echo(f"  {name}: {value:.4f}")
        for name, value in scores.items():
            if "." in name:
                typer.echo(f"    {name}: {value:.4f}")
        typer.echo(f"wrote {out} and {Path(out).with_suffix('.json')}")


__all__ = [
    "DEFAULT_CONFIG",
    "Config",
    "DataConfig",
    "ModelConfig",
    "PixelClassifier",
    "add_commands",
    "build_model",
    "class_specificity",
    "classify_images",
    "evaluate",
    "explain",
    "export_onnx",
    "load_image",
    "load_model",
    "train",
]
