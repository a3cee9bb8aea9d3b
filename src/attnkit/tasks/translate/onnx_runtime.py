"""An exported translator run by onnxruntime: the same search and the same Translator.

``attnkit export --model RUN --out DIR`` writes ``DIR`` (see
:mod:`attnkit.tasks.translate.onnx_export`); :func:`load_onnx_translator` reads it back as a
:class:`~attnkit.tasks.translate.translator.Translator` whose model is an
:class:`OnnxStepModel`: greedy and beam search of :mod:`attnkit.decoding` call its
``encode`` / ``decode_step`` / ``reorder`` as they call a PyTorch model's, and each call runs
one ONNX graph. Tokenizers, placeholders, input checks and search settings are the run's.

Example:
    $ attnkit export --model ~/.cache/attnkit/runs/demo --out demo-onnx
    $ attnkit translate --onnx demo-onnx "Tengo 3 gatos."
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import Tensor

from attnkit.data.parallel import load_tokenizers
from attnkit.data.placeholders import SOURCE_WORDS_FILE, load_word_forms
from attnkit.decoding.batched import DecodeConfig
from attnkit.errors import AttnkitError
from attnkit.tasks.translate.onnx_graphs import GraphSpec

MANIFEST = "translator.json"
ENCODER_FILE = "encoder.onnx"
STEP_FILE = "decoder_step.onnx"
FORMAT = 1


@dataclass
class OnnxEncoding:
    """The encoder graph's memory tensors, by name."""

    memory: dict[str, Tensor]


@dataclass
class OnnxState:
    """The decoder state between steps: its tensors by name and the steps taken."""

    tensors: dict[str, Tensor]
    step: int = 0


class OnnxStepModel:
    """The step interface of :mod:`attnkit.decoding` over an exported encoder and decoder step.

    Args:
        folder: what ``attnkit export`` wrote for a translate run.
        threads: onnxruntime intra-op threads (None: its default, every core).

    Raises:
        AttnkitError: a missing or unreadable folder, manifest or graph.
    """

    def __init__(self, folder: str | Path, *, threads: int | None = None) -> None:
        from attnkit.export import inference_session

        self.folder = Path(folder)
        self.manifest = read_manifest(self.folder)
        self.spec = _spec(self.manifest["spec"], self.folder / MANIFEST)
        self.encoder = inference_session(self.folder / ENCODER_FILE, threads=threads)
        self.step = inference_session(self.folder / STEP_FILE, threads=threads)

    def eval(self) -> OnnxStepModel:
        """Nothing to switch (a graph has no training mode); here so callers need not ask."""
        return self

    def encode(self, src: Tensor, src_lengths: Tensor) -> OnnxEncoding:
        """Run the encoder graph on (B, Ls) ids and (B,) lengths."""
        feeds = {"src": _array(src), "src_lengths": _array(src_lengths)}
        outputs = self.encoder.run(list(self.spec.encoder_outputs), feeds)
        return OnnxEncoding(
            {
                n: torch.from_numpy(a)
                for n, a in zip(self.spec.encoder_outputs, outputs, strict=True)
            }
        )

    def init_decoder_state(self, enc: OnnxEncoding) -> OnnxState:
        """The encoder's first state, with the empty (growing) tensors made here."""
        batch = enc.memory["mask"].shape[0]  # (B, Ls) in both architectures
        tensors = {n: enc.memory[n] for n in self.spec.state if n in enc.memory}
        for name, (shape, _) in self.spec.empty_state.items():
            tensors[name] = torch.zeros([batch if d == -1 else d for d in shape])
        return OnnxState(tensors)

    def decode_step(
        self, enc: OnnxEncoding, state: OnnxState, prev_tokens: Tensor
    ) -> tuple[Tensor, OnnxState, Tensor]:
        """One step of the decoder graph: log-probs (B, V), the next state, attention (B, Ls)."""
        feeds = {"prev_tokens": _array(prev_tokens), "step": np.array([state.step], np.int64)}
        for name in self.spec.memory:
            feeds[name] = _array(enc.memory[name])
        for name in self.spec.state:
            feeds[name] = _array(state.tensors[name])
        log_probs, attention, *nxt = self.step.run(list(self.spec.step_outputs), feeds)
        tensors = {n: torch.from_numpy(a) for n, a in zip(self.spec.state, nxt, strict=True)}
        return (
            torch.from_numpy(log_probs),
            OnnxState(tensors, state.step + 1),
            torch.from_numpy(attention),
        )

    def reorder(
        self, enc: OnnxEncoding | None, state: OnnxState, indices: Tensor
    ) -> tuple[OnnxEncoding | None, OnnxState]:
        """Select batch rows (beam search); ``enc=None`` leaves the memory as it is."""
        axis = self.spec.batch_axis
        new_enc = None
        if enc is not None:
            new_enc = OnnxEncoding(
                {n: t.index_select(axis[n], indices) for n, t in enc.memory.items()}
            )
        tensors = {n: t.index_select(axis[n], indices) for n, t in state.tensors.items()}
        return new_enc, OnnxState(tensors, state.step)


def _array(t: Tensor) -> np.ndarray:
    return t.detach().cpu().contiguous().numpy()


def _spec(fields: Any, where: Path) -> GraphSpec:
    """The manifest's :class:`GraphSpec` (lists back to tuples)."""
    try:
        return GraphSpec(
            arch=fields["arch"],
            memory=tuple(fields["memory"]),
            state=tuple(fields["state"]),
            batch_axis=dict(fields["batch_axis"]),
            empty_state={
                name: (tuple(shape), axis) for name, (shape, axis) in fields["empty_state"].items()
            },
        )
    except (KeyError, TypeError, ValueError, AttributeError) as e:
        raise AttnkitError(
            f"{where} is incomplete ({type(e).__name__}: {e}): export again"
        ) from None


def read_manifest(folder: str | Path) -> dict[str, Any]:
    """The ``translator.json`` of an exported translator, checked.

    Raises:
        AttnkitError: no such folder or file, unreadable JSON, or another format.
    """
    path = Path(folder) / MANIFEST
    if not path.is_file():
        raise AttnkitError(
            f"{folder} is not an exported translator (no {MANIFEST}): make one with "
            "`attnkit export --model RUN --out DIR`"
        )
    try:
        manifest = json.loads(path.read_text("utf-8"))
    except (OSError, UnicodeDecodeError, json.JSONDecodeError) as e:
        raise AttnkitError(f"cannot read {path}: {e}") from None
    if not isinstance(manifest, dict) or manifest.get("format") != FORMAT:
        raise AttnkitError(f"{path} is not a format-{FORMAT} translator manifest: export again")
    if not isinstance(manifest.get("spec"), dict):
        raise AttnkitError(f"{path} is incomplete (no 'spec'): export again")
    return manifest


def load_onnx_translator(folder: str | Path, *, threads: int | None = None):
    """The exported translator in ``folder`` as a
    :class:`~attnkit.tasks.translate.translator.Translator` running on onnxruntime.

    Raises:
        AttnkitError: see :class:`OnnxStepModel`; missing tokenizer files.
    """
    from attnkit.tasks.translate.translator import Translator

    model = OnnxStepModel(folder, threads=threads)
    files = model.manifest.get("tokenizers")
    if not (
        isinstance(files, list)
        and len(files) == 2
        and isinstance(model.manifest.get("decode"), dict)
    ):
        raise AttnkitError(
            f"{Path(folder) / MANIFEST} is incomplete (tokenizers, decode): export again"
        )
    missing = [f for f in files if not (Path(folder) / f).is_file()]
    if missing:
        raise AttnkitError(f"{folder} lacks its tokenizer file(s) {', '.join(missing)}")
    src_tok, tgt_tok = load_tokenizers(Path(folder), files)
    decode = DecodeConfig(**model.manifest["decode"])
    words = load_word_forms(Path(folder) / SOURCE_WORDS_FILE)
    return Translator(model, src_tok, tgt_tok, decode, torch.device("cpu"), words)


__all__ = [
    "ENCODER_FILE",
    "MANIFEST",
    "STEP_FILE",
    "OnnxEncoding",
    "OnnxState",
    "OnnxStepModel",
    "load_onnx_translator",
    "read_manifest",
]
