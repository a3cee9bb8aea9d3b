"""Translation: parallel text -> RNN + Bahdanau or Transformer -> beam search -> BLEU / chrF."""

from __future__ import annotations

import math
import time
from collections.abc import Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import torch

from attnkit import log
from attnkit.data import parallel
from attnkit.data.batching import CollatedBatches, token_batches
from attnkit.data.placeholders import SOURCE_WORDS_FILE, load_word_forms
from attnkit.data.text import Tokenizer
from attnkit.metrics import bleu, bleu_signature, chrf, copy_recall, repeated_run_share
from attnkit.models.losses import label_smoothed_cross_entropy
from attnkit.models.seq2seq import Seq2Seq
from attnkit.models.transformer import Transformer
from attnkit.tasks.base import Prepared, Task
from attnkit.tasks.runs import Run
from attnkit.tasks.translate.config import Config
from attnkit.tasks.translate.translator import Translator


@dataclass
class Assets:
    """The source and target tokenizers of a translation run (the same object when joint), and
    the word forms of its training sources when it was trained with placeholders."""

    src_tok: Tokenizer
    tgt_tok: Tokenizer
    source_words: frozenset[str] | None = None


class TranslateTask(Task):
    """The ``translate`` task (see :mod:`attnkit.tasks.base` for the contract)."""

    name = "translate"
    config_class = Config
    default_config = "translate_es_en.yaml"
    exports_onnx = True

    # ----- training ---------------------------------------------------------------------------
    def prepare(self, cfg: Config, run_dir: Path, *, reuse: bool) -> Prepared:
        data = parallel.prepare(cfg.data, run_dir, reuse=reuse, seed=cfg.train.seed)
        batch_tokens = data.batch_tokens(cfg.data, cfg.train.budget_minutes)
        src_lang, tgt_lang = parallel.CORPORA[cfg.data.corpus]
        return Prepared(
            assets=Assets(data.src_tok, data.tgt_tok),
            meta={
                "tokenizers": list(data.tokenizer_files),
                "vocab": [data.src_tok.vocab_size, data.tgt_tok.vocab_size],
                "langs": [src_lang, tgt_lang],
                "train_pairs": len(data.train),  # after the length filter
                "train_pairs_before_filter": data.train_pairs,
            },
            batches=lambda epoch: data.batches(epoch, max_tokens=batch_tokens, seed=cfg.train.seed),
            dev=data,
            description=data.describe(cfg.data, cfg.train.budget_minutes),
        )

    def build_model(self, cfg: Config, assets: Assets) -> Seq2Seq | Transformer:
        sizes = {"src_vocab": assets.src_tok.vocab_size, "tgt_vocab": assets.tgt_tok.vocab_size}
        if cfg.arch == "transformer":
            return Transformer(cfg.transformer, **sizes)
        return Seq2Seq(cfg.model, **sizes)

    def loss(self, cfg: Config, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
        logits, _ = model(batch["src"], batch["src_len"], batch["tgt_in"])  # (B, Lt, V)
        loss, n = label_smoothed_cross_entropy(
            logits, batch["tgt_out"], smoothing=cfg.label_smoothing
        )
        return loss / max(n, 1), n

    def validate(self, cfg: Config, model: torch.nn.Module, prepared: Prepared) -> dict[str, float]:
        """Dev loss and perplexity (teacher forcing, no smoothing) and greedy BLEU."""
        data = prepared.dev
        device = next(model.parameters()).device
        total, count = 0.0, 0
        groups = token_batches(
            data.dev.lengths(), cfg.data.max_tokens, shuffle=False, seed=0, epoch=0
        )
        for batch in CollatedBatches(groups, lambda idx: parallel.collate_pairs(data.dev, idx)):
            batch = {k: v.to(device) for k, v in batch.items()}
            logits, _ = model(batch["src"], batch["src_len"], batch["tgt_in"])
            loss, n = label_smoothed_cross_entropy(logits, batch["tgt_out"], smoothing=0.0)
            total, count = total + loss.item(), count + n
        translator = Translator(model, data.src_tok, data.tgt_tok, cfg.decode, device)
        hyps = translator.translate_ids(data.dev.src, greedy=True)
        texts = [data.tgt_tok.decode(h[0].tokens) for h in hyps]
        mean = total / max(count, 1)
        return {"loss": mean, "ppl": math.exp(min(mean, 50.0)), "bleu": bleu(texts, data.dev.refs)}

    # ----- runs -------------------------------------------------------------------------------
    def load_assets(self, run_dir: Path, meta: dict[str, Any]) -> Assets:
        from attnkit.tasks.runs import meta_value

        files = meta_value(meta, "tokenizers", Path(run_dir) / "meta.json")
        words = load_word_forms(Path(run_dir) / SOURCE_WORDS_FILE)
        return Assets(*parallel.load_tokenizers(run_dir, files), source_words=words)

    def translator(self, run: Run) -> Translator:
        """The run's model, tokenizers and search settings as a :class:`Translator`."""
        a = run.assets
        return Translator(
            run.model, a.src_tok, a.tgt_tok, run.config.decode, run.device, a.source_words
        )

    def evaluate(self, run: Run, split: str) -> dict[str, Any]:
        """BLEU and chrF with beam search on ``split`` (sacrebleu), and the verbatim overlap.

        Writes ``<split>.hyp.txt``. Also reports how many pairs of ``split`` occur verbatim
        in the training split and the scores without them, the share of outputs with a word
        four or more times in a row (a looping decoder), and how many placeholders and names
        that source and reference share the output kept (:func:`attnkit.metrics.copy_recall`).
        A run trained with placeholders translates the sources with them
        (:meth:`Translator.mask`), as ``predict`` does.
        """
        cfg: Config = run.config
        tr = self.translator(run)
        pairs = parallel.load_split(cfg.data.corpus, split)
        masks = [tr.mask(src) for src, _ in pairs]
        masked_pairs = [(m.text, tgt) for m, (_, tgt) in zip(masks, pairs, strict=True)]
        data = parallel.encode_pairs(masked_pairs, tr.src_tok, tr.tgt_tok)
        t0 = time.perf_counter()
        hyps = tr.translate_ids(data.src, progress=f"{split} (beam {tr.decode.beam_size})")
        seconds = time.perf_counter() - t0
        texts = [
            masks[i].unmask(tr.tgt_tok.decode(h[0].tokens))
            for i, h in zip(data.index, hyps, strict=True)
        ]
        (run.path / f"{split}.hyp.txt").write_text("".join(t + "\n" for t in texts), "utf-8")
        seen = set(parallel.verbatim_overlap(pairs, parallel.load_split(cfg.data.corpus, "train")))
        keep = [k for k, i in enumerate(data.index) if i not in seen]
        unseen_hyps, unseen_refs = [texts[k] for k in keep], [data.refs[k] for k in keep]
        return {
            "bleu": round(bleu(texts, data.refs), 2),
            "chrf": round(chrf(texts, data.refs), 2),
            "sentences": len(texts),
            "beam_size": tr.decode.beam_size,
            "decode_seconds": round(seconds, 1),
            "sentences_per_second": round(len(texts) / max(seconds, 1e-9), 1),
            "looping_share": repeated_run_share(texts, run=4),
            **copy_recall([pairs[i][0] for i in data.index], data.refs, texts),
            "in_train_verbatim": len(texts) - len(keep),
            "bleu_without_in_train": round(bleu(unseen_hyps, unseen_refs), 2),
            "chrf_without_in_train": round(chrf(unseen_hyps, unseen_refs), 2),
            "signature": bleu_signature(),
        }

    # ----- use --------------------------------------------------------------------------------
    def predict(self, run: Run, inputs: Sequence[str], **options: Any) -> list[dict[str, Any]]:
        """Translate sentences with the run's :class:`Translator`: ``options`` and the results
        are those of :meth:`Translator.predict` (``beam``, ``n_best``, ``allow_unknown``,
        ``attention``, ``layer_attention``, ``how_to_allow``)."""
        return self.translator(run).predict(inputs, **options)

    def export_onnx(self, run: Run, out: Path) -> dict[str, Any]:
        """The encoder and one decoder step as ONNX in the folder ``out``, checked against
        PyTorch (:func:`attnkit.tasks.translate.onnx_export.export_translator`)."""
        from attnkit.tasks.translate.onnx_export import export_translator

        return export_translator(run, out)

    def plot(self, result: dict[str, Any], path: Path) -> None:
        """Save the attention of a :meth:`predict` result (made with ``attention=True``) as a
        heatmap: target pieces down, source pieces across. A Transformer's result also gets
        every layer and head, side by side, in ``<name>.layers.png`` beside ``path``."""
        from attnkit.viz import plot_attention, plot_attention_grid

        labels = (result["source_tokens"], result["target_tokens"])
        plot_attention(result["attention"], *labels, path, title=result["translation"])
        if result.get("layer_attention") is not None:
            grid = Path(path).with_suffix(".layers.png")
            plot_attention_grid(result["layer_attention"], *labels, grid, result["translation"])
            log.info(f"every layer and head: {grid}")


TASK = TranslateTask()

__all__ = ["TASK", "Assets", "TranslateTask"]
