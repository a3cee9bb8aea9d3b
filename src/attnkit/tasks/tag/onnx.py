"""The tagger through ONNX: emission scores in the graph, the CRF's Viterbi outside it.

``attnkit export --model TAG_RUN --out DIR`` writes

* ``emissions.onnx``: ``words`` (B, L) int64, ``chars`` (B, L, C) int64 and ``mask``
  (B, L) bool in, ``emissions`` (B, L, T) float32 out (dynamic B, L and C); the BiLSTM runs
  unpacked (:class:`~attnkit.models.unpacked_rnn.UnpackedBiRNN`, same results);
* ``tagger.json``: the tag names and the CRF's ``start``, ``end`` and ``transitions`` scores
  (None for a softmax tagger), so any runtime can run the Viterbi loop;
* the run's ``vocab.json`` (words, characters, tags: how text becomes ids).

:class:`OnnxTagger` reads the folder back and tags encoded sentences with onnxruntime and
:func:`~attnkit.models.tagger.best_tag_paths`; :func:`export_tagger` checks it against
PyTorch on the dev split before it reports success.

Example:
    $ attnkit export --model ~/.cache/attnkit/runs/tag --out tag-onnx
    {"emissions": "tag-onnx/emissions.onnx", ..., "same_tags": 1.0, ...}
"""

from __future__ import annotations

import json
import shutil
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch
from torch import Tensor, nn

from attnkit.data import tagging
from attnkit.data.tagging import VOCAB_FILE, Vocab
from attnkit.errors import AttnkitError
from attnkit.fileio import atomic_write
from attnkit.models.crf import CRF
from attnkit.models.tagger import Tagger, best_tag_paths
from attnkit.models.unpacked_rnn import UnpackedBiRNN
from attnkit.tasks.runs import Run

GRAPH_FILE = "emissions.onnx"
MANIFEST = "tagger.json"
FORMAT = 1


class EmissionsGraph(nn.Module):
    """``(words, chars, mask)`` -> the tagger's emission scores (B, L, T), traceable."""

    def __init__(self, tagger: Tagger) -> None:
        super().__init__()
        self.tagger = tagger
        self.rnn = None if tagger.lstm is None else UnpackedBiRNN(tagger.lstm)

    def forward(self, words: Tensor, chars: Tensor, mask: Tensor) -> Tensor:
        x = self.tagger.token_features(words, chars)  # (B, L, F)
        if self.rnn is not None:
            x, _ = self.rnn(x, mask.sum(1).clamp(min=1))  # (B, L, D)
        return self.tagger.emissions_from(x, mask)[0]


class OnnxTagger:
    """An exported tagger: emissions from onnxruntime, the best paths in Python.

    Args:
        folder: what ``attnkit export`` wrote for a tag run.
        threads: onnxruntime intra-op threads (None: its default).

    Raises:
        AttnkitError: not an exported tagger, or an unreadable part of it.
    """

    def __init__(self, folder: str | Path, *, threads: int | None = None) -> None:
        from attnkit.export import inference_session

        folder = Path(folder)
        path = folder / MANIFEST
        try:
            manifest = json.loads(path.read_text("utf-8"))
            self.tags: list[str] = list(manifest["tags"])
            self.crf = _crf(manifest["crf"], len(self.tags))
            if manifest["format"] != FORMAT:
                raise ValueError(f"format {manifest['format']}, expected {FORMAT}")
        except FileNotFoundError:
            raise AttnkitError(
                f"{folder} is not an exported tagger (no {MANIFEST}): make one with "
                "`attnkit export --model TAG_RUN --out DIR`"
            ) from None
        except (OSError, ValueError, KeyError, TypeError) as e:
            raise AttnkitError(
                f"cannot read {path} ({type(e).__name__}: {e}): export again"
            ) from None
        self.vocab = Vocab.load(folder / VOCAB_FILE)
        self.session = inference_session(folder / GRAPH_FILE, threads=threads)

    def emissions(self, words: Tensor, chars: Tensor, mask: Tensor) -> Tensor:
        """Emission scores (B, L, T) of a padded batch."""
        feeds = {"words": words.numpy(), "chars": chars.numpy(), "mask": mask.numpy()}
        return torch.from_numpy(self.session.run(["emissions"], feeds)[0])

    def decode(self, words: Tensor, chars: Tensor, mask: Tensor | None = None) -> list[list[int]]:
        """Best tag ids per sentence, as :meth:`Tagger.decode <attnkit.models.tagger.Tagger
        .decode>` gives them."""
        if mask is None:
            mask = words != 0
        return best_tag_paths(self.emissions(words, chars, mask), mask, self.crf)

    def tag_words(self, words: Sequence[str]) -> list[str]:
        """The tags of one segmented sentence."""
        w, c = self.vocab.encode_words(list(words))
        return [self.tags[i] for i in self.decode(w[None], c[None])[0]]


def _crf(scores: dict[str, list] | None, num_tags: int) -> CRF | None:
    if scores is None:
        return None
    crf = CRF(num_tags)
    with torch.no_grad():
        for name in ("transitions", "start", "end"):
            getattr(crf, name).copy_(torch.tensor(scores[name]))
    return crf.eval()


def export_tagger(run: Run, out: str | Path) -> dict[str, Any]:
    """Export a tag run to the folder ``out`` and check it on the dev split.

    Returns:
        the files, and on every dev sentence: the share of tags onnxruntime + Python Viterbi
        gives as PyTorch does, and the largest emission difference.

    Raises:
        AttnkitError: the onnx extra is missing or the export fails.
    """
    from attnkit.export import export_graph, require_onnx

    require_onnx()
    out = Path(out)
    model: Tagger = run.model.cpu().eval()
    batch, length = torch.export.Dim("batch", min=1), torch.export.Dim("length", min=1)
    chars = torch.export.Dim("chars", min=1)
    words = torch.tensor([[5, 6, 7, 8], [9, 10, 0, 0], [4, 11, 12, 0]])  # (B, L)
    mask = words != 0
    example = (words, torch.where(mask[..., None], 2, 0).repeat(1, 1, 3), mask)  # chars (B, L, 3)
    export_graph(
        EmissionsGraph(model),
        example,
        out / GRAPH_FILE,
        input_names=["words", "chars", "mask"],
        output_names=["emissions"],
        dynamic_shapes=({0: batch, 1: length}, {0: batch, 1: length, 2: chars},
                        {0: batch, 1: length}),
        metadata={"task": "tag", "graph": "emissions"},
    )  # fmt: skip
    crf = None
    if model.crf is not None:
        crf = {n: getattr(model.crf, n).tolist() for n in ("transitions", "start", "end")}
    vocab: Vocab = run.assets
    manifest = {"format": FORMAT, "task": "tag", "source_run": str(run.path),
                "tags": list(vocab.tags), "crf": crf}  # fmt: skip
    atomic_write(out / MANIFEST, json.dumps(manifest).encode())
    shutil.copyfile(run.path / run.meta.get("vocab", VOCAB_FILE), out / VOCAB_FILE)
    sentences = tagging.load_splits(run.config.data)["dev"]
    check = tag_parity(model, OnnxTagger(out), tagging.encode(sentences, vocab))
    return {"folder": str(out), "emissions": str(out / GRAPH_FILE),
            "bytes": (out / GRAPH_FILE).stat().st_size, **check}  # fmt: skip


@torch.no_grad()
def tag_parity(
    model: Tagger, onnx: OnnxTagger, examples: Sequence[tagging.Example]
) -> dict[str, Any]:
    """PyTorch against onnxruntime on encoded sentences, in padded batches: the share of
    tokens given the same tag, sentences with any difference, the largest emission gap."""
    same = tokens = differ = 0
    worst = 0.0
    groups = tagging.batches(examples, 4000, shuffle=False)
    for batch in groups:
        w, c, m = batch["words"], batch["chars"], batch["mask"]
        want = model(w, c, m)  # (B, L, T)
        got = onnx.emissions(w, c, m)
        worst = max(worst, (got - want).abs().max().item())
        for a, b in zip(best_tag_paths(want, m, model.crf), onnx.decode(w, c, m), strict=True):
            hits = sum(x == y for x, y in zip(a, b, strict=True))
            same, tokens, differ = same + hits, tokens + len(a), differ + (hits < len(a))
    return {
        "checked_sentences": len(examples),
        "same_tags": same / max(tokens, 1),
        "sentences_differ": differ,
        "max_abs_emission_diff": worst,
    }


__all__ = ["EmissionsGraph", "OnnxTagger", "export_tagger", "tag_parity"]
