"""Summarization: documents -> PointerGenerator -> beam search -> ROUGE beside Lead baselines."""

from __future__ import annotations

import dataclasses
import shutil
import time
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch

from attnkit.data.batching import CollatedBatches, pad_sequences, token_batches
from attnkit.data.parallel import Encoded, collate_pairs
from attnkit.data.summaries import (
    SummaryPair,
    WordVocab,
    detokenize,
    lead,
    load_split,
    templated_ids,
    tokenize,
)
from attnkit.decoding import Hypothesis
from attnkit.decoding.batched import decode_batched
from attnkit.errors import AttnkitError
from attnkit.metrics import novel_ngram_share, repeated_ngram_share, rouge
from attnkit.models.pointer_generator import PointerGenerator
from attnkit.specials import BOS_ID, EOS_ID, PAD_ID
from attnkit.tasks.base import Prepared, Task
from attnkit.tasks.runs import Run, run_folder
from attnkit.tasks.summarize.config import Config, SummaryDataConfig

VOCAB_FILE = "vocab.json"


@dataclass
class Assets:
    """The word vocabulary of a summarization run (shared by documents and summaries)."""

    vocab: WordVocab


@dataclass
class EncodedDocs(Encoded):
    """Documents as extended ids (ending with EOS), summaries as BOS ... EOS, and per document
    its source words and OOV words (extended id ``len(vocab) + k`` is ``oovs[i][k]``)."""

    sources: list[list[str]] = field(default_factory=list)
    oovs: list[list[str]] = field(default_factory=list)


def tokenize_pairs(
    pairs: Sequence[SummaryPair], cfg: SummaryDataConfig
) -> list[tuple[list[str], list[str]]]:
    """``(document words cut at cfg.max_source_tokens, summary words)`` of each pair."""
    return [(tokenize(p.document)[: cfg.max_source_tokens], tokenize(p.summary)) for p in pairs]


def encode_docs(
    pairs: Sequence[SummaryPair],
    vocab: WordVocab,
    cfg: SummaryDataConfig,
    *,
    keep_empty: bool,
    tokens: Sequence[tuple[list[str], list[str]]] | None = None,
) -> EncodedDocs:
    """Tokenize (unless ``tokens``, from :func:`tokenize_pairs`, are given), truncate and
    encode pairs; ``keep_empty=False`` drops empty documents or summaries (training), ``True``
    keeps every pair (evaluation: every test pair is scored)."""
    out = EncodedDocs([], [], [], [])
    tokens = tokenize_pairs(pairs, cfg) if tokens is None else tokens
    for i, (pair, (words, summary)) in enumerate(zip(pairs, tokens, strict=True)):
        if not keep_empty and (not words or not summary):
            continue
        src, oovs = vocab.encode_source(words, cfg.max_source_tokens)
        tgt = vocab.encode_target(summary, oovs, cfg.max_target_tokens)
        out.src.append([*src, EOS_ID])
        out.tgt.append([BOS_ID, *tgt, EOS_ID])
        out.refs.append(pair.summary)
        out.index.append(i)
        out.sources.append(words)
        out.oovs.append(oovs)
    return out


class SummarizeTask(Task):
    """The ``summarize`` task (see :mod:`attnkit.tasks.base` for the contract)."""

    name = "summarize"
    config_class = Config
    default_config = "summarize_debian.yaml"

    # ----- training ---------------------------------------------------------------------------
    def prepare(self, cfg: Config, run_dir: Path, *, reuse: bool) -> Prepared:
        d = cfg.data
        pairs = load_split(d.corpus, "train")[: d.train_limit]
        tokens = tokenize_pairs(pairs, d)  # once, for the vocabulary and the ids
        path = Path(run_dir) / VOCAB_FILE
        if cfg.train.init_from and not path.is_file():  # fine-tuning keeps the vocabulary
            shutil.copy(run_folder(cfg.train.init_from) / VOCAB_FILE, path)
            reuse = True
        vocab = WordVocab.load_or_build(
            path,
            reuse=reuse,
            build=lambda: WordVocab.build((w + s for w, s in tokens), d.vocab_size, d.min_count),
        )
        train = encode_docs(pairs, vocab, d, keep_empty=False, tokens=tokens)
        dev = encode_docs(load_split(d.corpus, "dev")[: d.dev_limit], vocab, d, keep_empty=True)

        def batches(epoch: int) -> CollatedBatches:
            groups = token_batches(
                train.lengths(), d.max_tokens, shuffle=True, seed=cfg.train.seed, epoch=epoch
            )
            return CollatedBatches(groups, lambda idx: collate_pairs(train, idx))

        return Prepared(
            assets=Assets(vocab),
            meta={"vocab_file": VOCAB_FILE, "vocab": len(vocab), "train_pairs": len(train)},
            batches=batches,
            dev=dev,
            description=(
                f"{len(train):,} training pairs of {d.corpus}, {len(dev):,} dev; vocabulary "
                f"{len(vocab):,} words; documents cut at {d.max_source_tokens} words"
            ),
        )

    def build_model(self, cfg: Config, assets: Assets) -> PointerGenerator:
        return PointerGenerator(cfg.model, vocab=len(assets.vocab))

    def loss(self, cfg: Config, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
        """Mean NLL of the target words under the final (mixed) distribution, plus
        ``coverage_weight`` x the coverage loss when the model has coverage."""
        out = model(batch["src"], batch["src_len"], batch["tgt_in"], batch["tgt_out"])
        mask = batch["tgt_out"] != PAD_ID  # (B, Lt)
        n = int(mask.sum())
        loss = -(out.target_log_probs * mask).sum()
        if out.coverage_loss is not None and cfg.coverage_weight:
            loss = loss + cfg.coverage_weight * (out.coverage_loss * mask).sum()
        return loss / max(n, 1), n

    def validate(self, cfg: Config, model: torch.nn.Module, prepared: Prepared) -> dict[str, float]:
        """Dev loss (teacher forcing) and greedy ROUGE of the first ``data.dev_limit`` documents."""
        data: EncodedDocs = prepared.dev
        device = next(model.parameters()).device
        total, count = 0.0, 0
        for idx in token_batches(
            data.lengths(), cfg.data.max_tokens, shuffle=False, seed=0, epoch=0
        ):
            batch = {k: v.to(device) for k, v in collate_pairs(data, idx).items()}
            loss, n = self.loss(cfg, model, batch)
            total, count = total + loss.item() * n, count + n
        hyps = decode_batched(model, data.src, cfg.decode, device, greedy=True)
        scores = rouge(self._texts(prepared.assets.vocab, data, hyps), data.refs)
        return {"loss": total / max(count, 1), **scores}

    # ----- runs -------------------------------------------------------------------------------
    def load_assets(self, run_dir: Path, meta: dict[str, Any]) -> Assets:
        return Assets(WordVocab.load(Path(run_dir) / meta.get("vocab_file", VOCAB_FILE)))

    @staticmethod
    def _texts(
        vocab: WordVocab, data: EncodedDocs, hyps: Sequence[Sequence[Hypothesis]]
    ) -> list[str]:
        return [
            detokenize(vocab.decode(h[0].tokens, o)) for h, o in zip(hyps, data.oovs, strict=True)
        ]

    @torch.no_grad()
    def p_gen(self, run: Run, data: EncodedDocs, outputs: Sequence[list[int]]) -> list[list[float]]:
        """p_gen at each output word of each document, by teacher forcing the outputs."""
        model, result = run.model, []
        for start in range(0, len(outputs), run.config.decode.batch_sentences):
            idx = range(start, min(start + run.config.decode.batch_sentences, len(outputs)))
            src, src_len = pad_sequences([data.src[i] for i in idx])
            tgt, _ = pad_sequences([[BOS_ID, *outputs[i], EOS_ID] for i in idx])
            out = model(
                src.to(run.device), src_len, tgt[:, :-1].to(run.device), tgt[:, 1:].to(run.device)
            )
            for row, i in enumerate(idx):
                result.append(out.p_gen[row, : len(outputs[i])].tolist())
        return result

    def evaluate(self, run: Run, split: str) -> dict[str, Any]:
        """ROUGE-1/2/L F1 with beam search beside Lead-1 and Lead-N (the first N words, N the
        model's summary length) on the same pairs; the copy and novelty figures; repetition
        with the search's trigram blocking and without it. Writes ``<split>.hyp.txt``."""
        cfg: Config = run.config
        vocab: WordVocab = run.assets.vocab
        pairs = load_split(cfg.data.corpus, split)
        data = encode_docs(pairs, vocab, cfg.data, keep_empty=True)
        t0 = time.perf_counter()
        hyps = decode_batched(
            run.model, data.src, cfg.decode, run.device, progress=f"{split} (beam)"
        )
        seconds = time.perf_counter() - t0
        texts = self._texts(vocab, data, hyps)
        (run.path / f"{split}.hyp.txt").write_text("".join(t + "\n" for t in texts), "utf-8")
        unblocked_cfg = dataclasses.replace(cfg.decode, no_repeat_ngram_size=0)
        unblocked = self._texts(
            vocab, data, decode_batched(run.model, data.src, unblocked_cfg, run.device)
        )
        outputs = [h[0].tokens for h in hyps]
        out_words = [vocab.decode(t, o) for t, o in zip(outputs, data.oovs, strict=True)]
        docs = [pairs[i].document for i in data.index]
        p_gen = [p for row in self.p_gen(run, data, outputs) for p in row]
        leads = [lead(d) for d in docs]
        templated = templated_ids(cfg.data.corpus)
        plain = [k for k, i in enumerate(data.index) if pairs[i].id not in templated]
        without = {}  # a corpus with templated families is also scored without them
        if templated:
            refs = [data.refs[k] for k in plain]
            without = {
                "templated_documents": len(texts) - len(plain),
                "without_templated": {
                    name: _rouge([h[k] for k in plain], refs)
                    for name, h in (("model", texts), ("lead1", leads))
                },
            }
        oov_words = sum(t >= len(vocab) for row in outputs for t in row)
        n_words = sum(len(w) for w in out_words)
        lead_n = [lead(d, n_words=len(w)) for d, w in zip(docs, out_words, strict=True)]
        return {
            **_rouge(texts, data.refs),
            "lead1": _rouge(leads, data.refs),
            "lead_n": _rouge(lead_n, data.refs),
            "documents": len(texts),
            "beam_size": cfg.decode.beam_size,
            "decode_seconds": round(seconds, 1),
            "documents_per_second": round(len(texts) / max(seconds, 1e-9), 1),
            "mean_summary_words": round(n_words / max(len(texts), 1), 2),
            "mean_p_gen": round(sum(p_gen) / max(len(p_gen), 1), 4),
            "copied_oov_share": round(100 * oov_words / max(n_words, 1), 2),
            "novel_unigram_share": round(novel_ngram_share(out_words, data.sources, 1), 2),
            "novel_bigram_share": round(novel_ngram_share(out_words, data.sources, 2), 2),
            "reference_novel_unigram_share": round(
                novel_ngram_share([tokenize(r) for r in data.refs], data.sources, 1), 2
            ),
            "repeated_trigram_share": round(repeated_ngram_share(out_words, 3), 2),
            "repeated_trigram_share_unblocked": round(
                repeated_ngram_share([tokenize(t) for t in unblocked], 3), 2
            ),
            "unblocked": _rouge(unblocked, data.refs),
            **without,
        }

    # ----- use --------------------------------------------------------------------------------
    def check_input(self, run: Run, text: str) -> None:
        """Refuse a document :meth:`predict` cannot take (``attnkit serve`` checks each alone).

        Raises:
            AttnkitError: an empty document, or one over ``decode.max_input_tokens`` words.
        """
        n = len(tokenize(text)) if isinstance(text, str) else 0
        if not n:
            raise AttnkitError("empty input: give a document to summarise")
        limit = run.config.decode.max_input_tokens
        if n > limit:
            raise AttnkitError(
                f"input is {n} words long, over the limit of {limit} (decode.max_input_tokens)"
            )

    def predict(
        self,
        run: Run,
        inputs: Sequence[str],
        *,
        beam: int | None = None,
        n_best: int = 1,
        attention: bool = False,
    ) -> list[dict[str, Any]]:
        """Summarise documents: each result has ``summary``, ``score`` and ``n_best``; with
        ``attention`` also ``source_tokens``, ``summary_tokens``, ``attention`` (Lt, Ls),
        ``p_gen`` per summary word and ``copied`` (a word outside the vocabulary, or a source
        word produced mostly by copying, p_gen < 0.5).

        Raises:
            AttnkitError: no document, an empty one, one over ``decode.max_input_tokens``
                words, a bad beam / n-best.
        """
        cfg: Config = run.config
        vocab: WordVocab = run.assets.vocab
        if not inputs:
            raise AttnkitError("empty input: give a document to summarise")
        for text in inputs:
            self.check_input(run, text)
        decode = cfg.decode.with_search(beam=beam, n_best=n_best)
        pairs = [SummaryPair(str(i), t, "") for i, t in enumerate(inputs)]
        data = encode_docs(pairs, vocab, cfg.data, keep_empty=True)
        hyps = decode_batched(run.model, data.src, decode, run.device)
        p_gens = self.p_gen(run, data, [h[0].tokens for h in hyps]) if attention else None
        results = []
        for i, nbest in enumerate(hyps):
            oovs = data.oovs[i]
            out: dict[str, Any] = {
                "summary": detokenize(vocab.decode(nbest[0].tokens, oovs)),
                "score": nbest[0].score,
                "n_best": [
                    {"summary": detokenize(vocab.decode(h.tokens, oovs)), "score": h.score}
                    for h in nbest
                ],
            }
            if attention:
                assert p_gens is not None
                words = vocab.decode(nbest[0].tokens, oovs)
                source = set(data.sources[i])
                out.update(
                    source_tokens=[*data.sources[i], "</s>"],
                    summary_tokens=words,
                    attention=nbest[0].attention,
                    p_gen=p_gens[i],
                    copied=[
                        t >= len(vocab) or (w in source and p < 0.5)
                        for t, w, p in zip(nbest[0].tokens, words, p_gens[i], strict=True)
                    ],
                )
            results.append(out)
        return results

    def plot(self, result: dict[str, Any], path: Path) -> None:
        """Heatmap of a :meth:`predict` result (``attention=True``): summary words down (with
        p_gen, copied ones starred), document words across."""
        from attnkit.viz import plot_attention

        labels = [
            f"{'*' if c else ''}{w} ({p:.2f})"
            for w, p, c in zip(
                result["summary_tokens"], result["p_gen"], result["copied"], strict=True
            )
        ]
        plot_attention(
            result["attention"][: len(labels)],
            result["source_tokens"],
            labels,
            path,
            title=f"{result['summary']}  (word (p_gen); * copied)",
        )


def _rouge(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
    """ROUGE-1/2/L F1 rounded to 2 decimals, as every summarization figure is reported."""
    return {k: round(v, 2) for k, v in rouge(hyps, refs).items()}


TASK = SummarizeTask()

__all__ = ["TASK", "Assets", "EncodedDocs", "SummarizeTask", "encode_docs", "tokenize_pairs"]
