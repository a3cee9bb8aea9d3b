"""Chinese part-of-speech tagging (PKU tag set) with a BiLSTM + self-attention + CRF tagger.

Data: People's Daily, January 1998 (:mod:`attnkit.data.pku`), split by blocks of 50
paragraphs. Model: :class:`attnkit.models.tagger.Tagger`. The best checkpoint is picked by
dev token accuracy. ``evaluate`` reports, on one split: the model's token accuracy with gold
segmentation, its accuracy on out-of-vocabulary words, and the most-frequent-tag and jieba
``posseg`` baselines on the same tokens (OOV defined once, by normalised form).
"""

from __future__ import annotations

import time
from collections.abc import Sequence
from pathlib import Path
from typing import Any

import torch

from attnkit.data import pku, tagging
from attnkit.data.tagging import VOCAB_FILE, Vocab
from attnkit.errors import AttnkitError
from attnkit.models.tagger import Tagger
from attnkit.tasks.base import Prepared, Task
from attnkit.tasks.runs import Run
from attnkit.tasks.tag.config import Config
from attnkit.tasks.tag.segment import jieba_baseline, segment

EVAL_BATCH_TOKENS = 8000


@torch.no_grad()
def predict_ids(model: Tagger, examples: Sequence[tagging.Example]) -> list[list[int]]:
    """Tag ids of each encoded sentence (input order); the model in eval mode."""
    device = next(model.parameters()).device
    out: list[list[int]] = [[] for _ in examples]
    groups = tagging.batches(examples, EVAL_BATCH_TOKENS, shuffle=False)
    for idx, batch in zip(groups.groups, groups, strict=True):
        paths = model.decode(
            batch["words"].to(device), batch["chars"].to(device), batch["mask"].to(device)
        )
        for i, path in zip(idx, paths, strict=True):
            out[i] = path
    return out


def tag_words(run: Run, words: Sequence[str]) -> list[str]:
    """The PKU tags a tag run gives ``words`` (unchecked: callers validate user text).

    Example: ``tag_words(open_run(path), ["今天", "天气", "很", "好"])`` -> ``["t", "n", "d", "a"]``
    """
    w, c = run.assets.encode_words(list(words))
    with torch.no_grad():
        path = run.model.decode(w.unsqueeze(0).to(run.device), c.unsqueeze(0).to(run.device))[0]
    return [run.assets.tags[i] for i in path]


def token_accuracy(
    model: Tagger,
    examples: Sequence[tagging.Example],
    sentences: Sequence[pku.Sentence],
    vocab: Vocab,
) -> dict[str, float]:
    """Token accuracy and accuracy on out-of-vocabulary words."""
    preds = predict_ids(model, examples)
    n = correct = n_oov = correct_oov = 0
    for (_, _, gold), pred, sent in zip(examples, preds, sentences, strict=True):
        ok = (torch.tensor(pred, dtype=torch.long) == gold).tolist()
        n += len(ok)
        correct += sum(ok)
        for w, good in zip(sent.words, ok, strict=True):
            if vocab.is_oov(w):
                n_oov += 1
                correct_oov += good
    return {
        "accuracy": correct / max(n, 1),
        "oov_accuracy": correct_oov / max(n_oov, 1),
        "oov_rate": n_oov / max(n, 1),
        "tokens": n,
    }


def splits_and_vocab(data_cfg: Any, path: Path, vocab_cls: type, reuse: bool) -> tuple[dict, Any]:
    """The PKU splits of ``data_cfg`` and the vocabulary ``vocab_cls.build(train, data_cfg)``,
    saved at ``path`` (read back from there when ``reuse``)."""
    splits = tagging.load_splits(data_cfg)
    build = lambda: vocab_cls.build(splits["train"], data_cfg)  # noqa: E731
    return splits, vocab_cls.load_or_build(path, reuse=reuse, build=build)


def attention_layers(model: Tagger, inputs: Sequence[str], *, attention: bool, layer: int) -> int:
    """The tagger's number of attention blocks, once the request is checked.

    Raises:
        AttnkitError: no input, or ``layer`` is not one of the model's blocks.
    """
    if not inputs:
        raise AttnkitError('empty input: give Chinese text to tag, e.g. "今天天气很好"')
    layers = len(model.blocks)
    if attention and layers and not -layers <= layer < layers:
        raise AttnkitError(f"layer {layer}: the model has {layers} attention layers")
    return layers


def tagger_loss(model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
    """A :class:`~attnkit.models.tagger.Tagger`'s mean loss per real position of a batch of
    ``words``, ``chars``, ``tags`` and ``mask``, through ``model(...)`` (DDP-safe)."""
    loss = model(batch["words"], batch["chars"], batch["mask"], tags=batch["tags"])
    return loss, int(batch["mask"].sum())


class TagTask(Task):
    """The ``tag`` task (see :mod:`attnkit.tasks.base` for the contract)."""

    name = "tag"
    config_class = Config
    default_config = "tag_pku.yaml"
    exports_onnx = True

    # ----- training ---------------------------------------------------------------------------
    def prepare(self, cfg: Config, run_dir: Path, *, reuse: bool) -> Prepared:
        splits, vocab = splits_and_vocab(cfg.data, Path(run_dir) / VOCAB_FILE, Vocab, reuse)
        train = tagging.encode(splits["train"], vocab)
        dev = (tagging.encode(splits["dev"], vocab), splits["dev"], vocab)
        return Prepared(
            assets=vocab,
            meta={"vocab": VOCAB_FILE},
            batches=lambda epoch: tagging.batches(
                train, cfg.data.batch_tokens, shuffle=True, seed=cfg.train.seed, epoch=epoch
            ),
            dev=dev,
            description=(
                f"{len(train):,} training sentences, {len(dev[0]):,} dev; "
                f"{len(vocab.words):,} words, {len(vocab.chars):,} characters, "
                f"{len(vocab.tags)} tags"
            ),
        )

    def build_model(self, cfg: Config, assets: Vocab) -> Tagger:
        return Tagger(cfg.model, **assets.tagger_sizes())

    def loss(self, cfg: Config, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
        return tagger_loss(model, batch)

    def validate(self, cfg: Config, model: torch.nn.Module, prepared: Prepared) -> dict[str, float]:
        examples, sentences, vocab = prepared.dev
        out = token_accuracy(model, examples, sentences, vocab)
        return {"accuracy": out["accuracy"], "oov_accuracy": out["oov_accuracy"]}

    # ----- runs -------------------------------------------------------------------------------
    def export_onnx(self, run: Run, out: Path) -> dict[str, Any]:
        """Emissions as ONNX, the CRF's scores as JSON, in the folder ``out``, checked on dev
        (:func:`attnkit.tasks.tag.onnx.export_tagger`)."""
        from attnkit.tasks.tag.onnx import export_tagger

        return export_tagger(run, out)

    def load_assets(self, run_dir: Path, meta: dict[str, Any]) -> Vocab:
        return Vocab.load(Path(run_dir) / meta.get("vocab", VOCAB_FILE))

    def evaluate(self, run: Run, split: str) -> dict[str, Any]:
        """Token accuracy (gold segmentation) on ``split``, its OOV accuracy, and the
        most-frequent-tag and jieba baselines on the same tokens."""
        if split not in pku.SPLITS:
            raise AttnkitError(f"unknown split {split!r}; choose one of: {', '.join(pku.SPLITS)}")
        splits = tagging.load_splits(run.config.data)
        sents = splits[split]
        t0 = time.perf_counter()
        ours = token_accuracy(run.model, tagging.encode(sents, run.assets), sents, run.assets)
        seconds = time.perf_counter() - t0
        mft = pku.most_frequent_tag_baseline(splits["train"], sents)
        jb = jieba_baseline(sents)
        return {
            **ours,
            "tagging_seconds": round(seconds, 1),
            "most_frequent_tag_accuracy": mft["accuracy"],
            "most_frequent_tag_oov_accuracy": mft["oov_accuracy"],
            "jieba_accuracy": jb["accuracy"],
            "jieba_accuracy_where_segmentation_agrees": jb["accuracy_where_segmentation_agrees"],
            "jieba_segmentation_agreement": jb["segmentation_agreement"],
        }

    # ----- use --------------------------------------------------------------------------------
    def predict(
        self,
        run: Run,
        inputs: Sequence[str],
        *,
        segmented: bool = False,
        attention: bool = False,
        layer: int = -1,
    ) -> list[dict[str, Any]]:
        """Tag texts: each result has ``words``, ``tags`` and ``layers`` (attention blocks).

        With ``attention``, also ``layer`` and ``attention``, the ``(H, L, L)`` weights of that
        block (row i = how much word i attends to each word), or None for a model without
        self-attention (a BiLSTM + CRF tags, but has no weights to show).

        Raises:
            AttnkitError: empty or non-Chinese text, a layer the model does not have.
        """
        model: Tagger = run.model
        layers = attention_layers(model, inputs, attention=attention, layer=layer)
        results = []
        for text in inputs:
            words = segment(text, segmented=segmented)
            out: dict[str, Any] = {"words": words, "tags": tag_words(run, words), "layers": layers}
            if attention:
                w, c = (x.to(run.device) for x in run.assets.encode_words(words))
                with torch.no_grad():
                    weights = model.attention_weights(w, c, layer=layer) if layers else None
                out.update(layer=layer % layers if layers else None, attention=weights)
            results.append(out)
        return results

    def plot(self, result: dict[str, Any], path: Path) -> None:
        """Save the head-averaged self-attention of a :meth:`predict` result as a heatmap.

        Raises:
            AttnkitError: the result has no attention (a model without self-attention).
        """
        from attnkit.viz import plot_heatmap, use_cjk_font

        if result.get("attention") is None:
            raise AttnkitError("this model has no self-attention layers (attention_layers=0)")
        weights = result["attention"].float().mean(0)  # (L, L), mean over heads
        labels = [
            f"{i}:{w}/{t}"
            for i, (w, t) in enumerate(zip(result["words"], result["tags"], strict=True))
        ]
        use_cjk_font()
        title = f"self-attention, layer {result['layer'] + 1} (mean over heads)"
        plot_heatmap(weights, labels, labels, path, title)


TASK = TagTask()

__all__ = [
    "TASK",
    "TagTask",
    "attention_layers",
    "predict_ids",
    "splits_and_vocab",
    "tag_words",
    "tagger_loss",
    "token_accuracy",
]
