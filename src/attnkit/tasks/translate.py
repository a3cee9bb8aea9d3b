"""Translation with Bahdanau attention: data -> Seq2Seq -> Trainer -> beam search -> BLEU.

The flagship task. ``attnkit train translate`` trains on a real parallel corpus
(default: the Spanish RV1909 / English WEB Bible, verse-aligned), ``attnkit eval`` reports
sacrebleu BLEU and chrF on the held-out test split, ``attnkit translate`` decodes new text
and draws where the model attended, ``attnkit demo`` does all of it under a time budget.

Example:
    $ attnkit train translate --set train.budget_minutes=10
    $ attnkit translate --model ~/.cache/attnkit/runs/translate "En el principio" --plot a.png
"""

from __future__ import annotations

import dataclasses
import json
import math
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Literal

import torch
import typer
from tqdm import tqdm

from attnkit.data.batching import pad_sequences, token_batches
from attnkit.data.registry import ensure
from attnkit.data.text import (
    UNK_ID,
    build_tokenizers,
    load_tokenizer,
    read_parallel,
)
from attnkit.decoding import beam_search, greedy_search
from attnkit.errors import AttnkitError
from attnkit.metrics import bleu, bleu_signature, chrf
from attnkit.models.losses import label_smoothed_cross_entropy
from attnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from attnkit.paths import runs_dir
from attnkit.training import TrainConfig, Trainer, default_device, seed_everything
from attnkit.training.checkpoint import load_into

DEFAULT_CONFIG = "translate_es_en.yaml"

# corpus name -> (source language, target language), as the corpus files are named
CORPUS_LANGS: dict[str, tuple[str, str]] = {
    "bible-es-en": ("es", "en"),
    "jupyterlab-fr": ("en", "fr"),
}


@dataclass
class DataConfig:
    """Which corpus, how it is tokenized and batched."""

    corpus: Literal["bible-es-en", "jupyterlab-fr"] = "bible-es-en"
    tokenizer: Literal["bpe", "unigram", "word"] = "bpe"
    vocab_size: int = 4000  # subword pieces (joint) or max words
    joint_vocab: bool = True  # one vocabulary for both languages
    max_len: int = 60  # drop training pairs with a side longer than this (tokens)
    max_tokens: int = 6000  # tokens per batch (source or target, padding counted)
    train_limit: int | None = None  # use only the first N training pairs (quick runs)
    dev_limit: int = 400  # dev sentences scored with greedy BLEU during training


@dataclass
class ModelConfig:
    """Architecture, as in :class:`~attnkit.models.seq2seq.Seq2SeqConfig` (vocab from data)."""

    emb_dim: int = 256
    hidden_dim: int = 256
    enc_layers: int = 1
    dec_layers: int = 1
    rnn: Literal["gru", "lstm"] = "gru"
    attention: Literal["bahdanau", "luong_dot", "luong_general", "luong_concat"] = "bahdanau"
    attention_dim: int | None = None
    self_attention_heads: int = 0
    dropout: float = 0.2
    tie_embeddings: bool = True
    input_feeding: bool = True


@dataclass
class DecodeConfig:
    """Beam search settings used by eval and translate."""

    beam_size: int = 5
    alpha: float = 0.6  # GNMT length penalty exponent
    max_len_ratio: float = 1.5  # output tokens <= ratio * source tokens + 10
    n_best: int = 1
    no_repeat_ngram_size: int = 0
    batch_sentences: int = 64  # sentences decoded together
    max_input_tokens: int = 250  # longer inputs are refused by `attnkit translate`


@dataclass
class Config:
    """The translation task's config (configs/translate_es_en.yaml)."""

    data: DataConfig = field(default_factory=DataConfig)
    model: ModelConfig = field(default_factory=ModelConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=20, lr=3e-3, metric="bleu", metric_mode="max", bf16="auto"
        )
    )
    decode: DecodeConfig = field(default_factory=DecodeConfig)
    label_smoothing: float = 0.1
    device: Literal["auto", "cpu", "cuda"] = "auto"
    threads: int | None = None  # torch intra-op threads (None: torch's default)


# ----------------------------------------------------------------------------- data


@dataclass
class Encoded:
    """A split as token ids (source without specials; target with BOS ... EOS)."""

    src: list[list[int]]
    tgt: list[list[int]]
    refs: list[str]  # the raw target sentences, for BLEU

    def __len__(self) -> int:
        return len(self.src)


def encode_pairs(pairs, src_tok, tgt_tok, max_len: int | None = None) -> Encoded:
    """Encode (source, target) pairs; with ``max_len``, drop pairs with a longer side."""
    out = Encoded([], [], [])
    for s, t in pairs:
        s_ids = src_tok.encode(s, add_eos=True)
        t_ids = tgt_tok.encode(t, add_bos=True, add_eos=True)
        if max_len is not None and (len(s_ids) > max_len or len(t_ids) > max_len + 1):
            continue
        if len(s_ids) < 2 or len(t_ids) < 3:  # empty after tokenization
            continue
        out.src.append(s_ids)
        out.tgt.append(t_ids)
        out.refs.append(t)
    return out


def collate(data: Encoded, idx: list[int], device: torch.device):
    """Pad a batch: ``(src (B,Ls), src_len (B,), tgt_in (B,Lt), tgt_out (B,Lt))``."""
    src, src_len = pad_sequences([data.src[i] for i in idx])
    tgt, _ = pad_sequences([data.tgt[i] for i in idx])
    return src.to(device), src_len, tgt[:, :-1].to(device), tgt[:, 1:].to(device)


def resolve_device(name: str) -> torch.device:
    """``auto`` -> CUDA when available, else CPU."""
    if name == "cuda" and not torch.cuda.is_available():
        raise AttnkitError("device: cuda was asked for but no CUDA device is available")
    return default_device() if name == "auto" else torch.device(name)


# ----------------------------------------------------------------------------- model I/O


def build_model(cfg: Config, src_vocab: int, tgt_vocab: int) -> Seq2Seq:
    """A :class:`Seq2Seq` from the task's model config and the vocabulary sizes."""
    return Seq2Seq(
        Seq2SeqConfig(src_vocab=src_vocab, tgt_vocab=tgt_vocab, **dataclasses.asdict(cfg.model))
    )


@dataclass
class Translator:
    """A trained model with its tokenizers and decoding settings, ready to translate."""

    model: Seq2Seq
    src_tok: object
    tgt_tok: object
    decode: DecodeConfig
    device: torch.device

    @classmethod
    def load(cls, run_dir: Path, which: str = "best") -> Translator:
        """Load ``run_dir/<which>`` (best or last) with the run's tokenizers and config.

        Raises:
            AttnkitError: not a translation run, or missing/corrupt files.
        """
        run_dir = Path(run_dir)
        meta_path = run_dir / "meta.json"
        if not meta_path.is_file():
            raise AttnkitError(f"{run_dir} is not a run folder (no meta.json); train one first")
        try:
            meta = json.loads(meta_path.read_text())
        except json.JSONDecodeError as e:
            raise AttnkitError(f"{meta_path} is corrupt: {e}") from None
        if meta.get("task") != "translate":
            raise AttnkitError(f"{run_dir} holds a {meta.get('task')!r} model, not 'translate'")
        src_tok = load_tokenizer(run_dir / meta["src_tokenizer"])
        tgt_tok = load_tokenizer(run_dir / meta["tgt_tokenizer"])
        model = Seq2Seq(Seq2SeqConfig(**meta["model"]))
        load_into(model, run_dir / which)
        device = resolve_device("auto")
        model.to(device).eval()
        return cls(model, src_tok, tgt_tok, DecodeConfig(**meta["decode"]), device)

    @torch.no_grad()
    def translate_ids(
        self,
        src: list[list[int]],
        beam_size: int | None = None,
        greedy: bool = False,
        progress: str | None = None,
    ):
        """Decode encoded sentences (in batches, sorted by length); returns Hypothesis lists.

        ``progress`` names a progress bar (sentences/s on stderr, shown on terminals only).
        """
        d = self.decode
        order = sorted(range(len(src)), key=lambda i: len(src[i]))
        results: list = [None] * len(src)
        # disable=None: tqdm draws the bar only when stderr is a terminal
        bar = tqdm(total=len(src), desc=progress, unit="sent", disable=None if progress else True)
        for start in range(0, len(order), d.batch_sentences):
            idx = order[start : start + d.batch_sentences]
            batch, lengths = pad_sequences([src[i] for i in idx])
            batch = batch.to(self.device)
            max_len = int(d.max_len_ratio * lengths.max().item()) + 10
            if greedy:
                hyps = greedy_search(self.model, batch, lengths, max_len=max_len)
            else:
                hyps = beam_search(
                    self.model,
                    batch,
                    lengths,
                    beam_size=beam_size or d.beam_size,
                    max_len=max_len,
                    alpha=d.alpha,
                    n_best=d.n_best,
                    no_repeat_ngram_size=d.no_repeat_ngram_size,
                )
            for i, nbest in zip(idx, hyps, strict=True):
                results[i] = nbest
            bar.update(len(idx))
        bar.close()
        return results

    def check_input(
        self, text: str, allow_unknown: bool = False, how_to_allow: str = "pass --allow-unknown"
    ) -> list[int]:
        """Encode one sentence, refusing empty, unknown-character and over-long input.

        ``how_to_allow`` completes the unknown-character message: how the caller's user asks
        for ``allow_unknown`` (a CLI flag here, a JSON field in ``attnkit serve``).
        """
        if not text or not text.strip():
            raise AttnkitError("empty input: give a sentence to translate")
        ids = self.src_tok.encode(text.strip(), add_eos=True)
        if UNK_ID in ids and not allow_unknown:
            unknown = sorted(
                {
                    p
                    for p in self.src_tok.pieces(text.strip())
                    if self.src_tok.piece_to_id(p) == UNK_ID
                }
            )
            raise AttnkitError(
                f"the model has never seen {' '.join(map(repr, unknown))} in {text.strip()!r}; "
                f"{how_to_allow} to translate anyway (they become <unk>)"
            )
        if len(ids) > self.decode.max_input_tokens:
            raise AttnkitError(
                f"input is {len(ids)} tokens long, over the limit of "
                f"{self.decode.max_input_tokens}: split it into sentences"
            )
        return ids


# ----------------------------------------------------------------------------- train / eval


def _load_corpus(cfg: Config, split: str):
    folder = ensure(cfg.data.corpus)
    return read_parallel(folder, split, CORPUS_LANGS[cfg.data.corpus])


def _tokenizers(cfg: Config, run_dir: Path, train_pairs, resume: bool):
    tok_dir = run_dir / "tokenizer"
    ext = ".json" if cfg.data.tokenizer == "word" else ".model"
    names = ("joint", "joint") if cfg.data.joint_vocab else ("src", "tgt")
    paths = tuple(tok_dir / f"{n}{ext}" for n in names)
    if not (resume and all(p.exists() for p in paths)):
        paths = build_tokenizers(
            cfg.data.tokenizer,
            [s for s, _ in train_pairs],
            [t for _, t in train_pairs],
            tok_dir,
            joint=cfg.data.joint_vocab,
            vocab_size=cfg.data.vocab_size,
        )
    return [Path(p).relative_to(run_dir) for p in paths]


def train(cfg: Config, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train a translator into ``run_dir``, then score the best checkpoint on the test split."""
    if cfg.threads:
        torch.set_num_threads(cfg.threads)
    device = resolve_device(cfg.device)
    t0 = time.perf_counter()
    train_pairs = _load_corpus(cfg, "train")[: cfg.data.train_limit]
    dev_pairs = _load_corpus(cfg, "dev")[: cfg.data.dev_limit]
    src_path, tgt_path = _tokenizers(cfg, run_dir, train_pairs, resume)
    src_tok, tgt_tok = load_tokenizer(run_dir / src_path), load_tokenizer(run_dir / tgt_path)
    data = encode_pairs(train_pairs, src_tok, tgt_tok, cfg.data.max_len)
    dev = encode_pairs(dev_pairs, src_tok, tgt_tok)
    typer.echo(
        f"data: {len(data):,} training pairs (of {len(train_pairs):,}; max_len "
        f"{cfg.data.max_len}), {len(dev)} dev; vocab {src_tok.vocab_size}/{tgt_tok.vocab_size}; "
        f"prepared in {time.perf_counter() - t0:.0f}s",
        err=True,
    )

    seed_everything(cfg.train.seed)
    model = build_model(cfg, src_tok.vocab_size, tgt_tok.vocab_size).to(device)
    typer.echo(f"model: {model.num_parameters() / 1e6:.2f} M parameters on {device}", err=True)
    meta = {
        "task": "translate",
        "corpus": cfg.data.corpus,
        "langs": list(CORPUS_LANGS[cfg.data.corpus]),
        "src_tokenizer": str(src_path),
        "tgt_tokenizer": str(tgt_path),
        "model": dataclasses.asdict(model.cfg),
        "decode": dataclasses.asdict(cfg.decode),
    }
    lengths = [(len(s), len(t)) for s, t in zip(data.src, data.tgt, strict=True)]

    def batches(epoch: int):
        return token_batches(
            lengths, cfg.data.max_tokens, shuffle=True, seed=cfg.train.seed, epoch=epoch
        )

    def loss_fn(m, idx):
        src, src_len, tgt_in, tgt_out = collate(data, idx, device)
        logits, _ = m(src, src_len, tgt_in)
        loss, n = label_smoothed_cross_entropy(logits, tgt_out, smoothing=cfg.label_smoothing)
        return loss / n, n

    def evaluate(m):
        total, count = 0.0, 0
        dev_lengths = [(len(s), len(t)) for s, t in zip(dev.src, dev.tgt, strict=True)]
        for idx in token_batches(dev_lengths, cfg.data.max_tokens, shuffle=False, seed=0, epoch=0):
            src, src_len, tgt_in, tgt_out = collate(dev, idx, device)
            logits, _ = m(src, src_len, tgt_in)
            loss, n = label_smoothed_cross_entropy(logits, tgt_out, smoothing=0.0)
            total, count = total + loss.item(), count + n
        translator = Translator(m, src_tok, tgt_tok, cfg.decode, device)
        hyps = translator.translate_ids(dev.src, greedy=True)
        texts = [tgt_tok.decode(h[0].tokens) for h in hyps]
        return {
            "loss": total / count,
            "ppl": math.exp(total / count),
            "bleu": bleu(texts, dev.refs),
        }

    trainer = Trainer(
        model,
        cfg.train,
        run_dir,
        loss_fn=loss_fn,
        batches=batches,
        evaluate=evaluate,
        unit="tok",
        meta=meta,
        resume=resume,
    )
    summary = trainer.fit()
    summary.update({f"test_{k}": v for k, v in evaluate_run(run_dir, split="test").items()})
    return summary


def evaluate_run(run_dir: Path, *, split: str = "test", beam_size: int | None = None):
    """Score ``run_dir/best`` on a corpus split with beam search; writes the hypotheses."""
    tr = Translator.load(run_dir)
    meta = json.loads((Path(run_dir) / "meta.json").read_text())
    pairs = read_parallel(ensure(meta["corpus"]), split, tuple(meta["langs"]))
    data = encode_pairs(pairs, tr.src_tok, tr.tgt_tok)
    t0 = time.perf_counter()
    beam = beam_size or tr.decode.beam_size
    hyps = tr.translate_ids(data.src, beam_size=beam, progress=f"{split} (beam {beam})")
    texts = [tr.tgt_tok.decode(h[0].tokens) for h in hyps]
    out = Path(run_dir) / f"{split}.hyp.txt"
    out.write_text("".join(t + "\n" for t in texts), encoding="utf-8")
    metrics = {
        "bleu": round(bleu(texts, data.refs), 2),
        "chrf": round(chrf(texts, data.refs), 2),
        "sentences": len(texts),
        "beam_size": beam,
        "decode_seconds": round(time.perf_counter() - t0, 1),
    }
    (Path(run_dir) / f"{split}_metrics.json").write_text(
        json.dumps({**metrics, "signature": bleu_signature()}, indent=1)
    )
    return metrics


def evaluate(run_dir: Path, *, split: str = "test") -> dict[str, float]:
    """``attnkit eval``: BLEU and chrF of the best checkpoint on ``split`` (beam search)."""
    return evaluate_run(run_dir, split=split)


# ----------------------------------------------------------------------------- CLI


def translate_texts(
    tr: Translator, texts: list[str], *, beam: int | None, allow_unknown: bool
) -> list:
    """Check and translate sentences; returns each sentence's n-best hypotheses."""
    ids = [tr.check_input(t, allow_unknown) for t in texts]
    return tr.translate_ids(ids, beam_size=beam)


def attention_view(tr: Translator, text: str, hyp) -> tuple[list[str], list[str], torch.Tensor]:
    """Source pieces, target pieces and the ``(Lt, Ls)`` attention of ``hyp`` (from ``text``).

    Row i holds how much target piece i attended to each source piece (``</s>`` included).
    """
    src_pieces = [*tr.src_tok.pieces(text.strip()), "</s>"]
    tgt_pieces = [tr.tgt_tok.id_to_piece(i) for i in hyp.tokens]
    return src_pieces, tgt_pieces, hyp.attention[: len(tgt_pieces), : len(src_pieces)]


def plot_first(tr: Translator, text: str, hyp, path: Path) -> None:
    """Draw the attention of ``hyp`` (the translation of ``text``) as a heatmap."""
    from attnkit.viz import plot_attention

    src_pieces, tgt_pieces, weights = attention_view(tr, text, hyp)
    plot_attention(weights, src_pieces, tgt_pieces, path, title=tr.tgt_tok.decode(hyp.tokens))


def add_commands(app: typer.Typer) -> None:
    """Register ``attnkit translate``."""

    @app.command("translate")
    def translate_cmd(
        texts: Annotated[
            list[str] | None, typer.Argument(help="sentences (default: stdin)")
        ] = None,
        model: Annotated[Path, typer.Option(help="run folder")] = runs_dir() / "translate",
        beam: Annotated[int | None, typer.Option(help="beam size (1 = greedy)")] = None,
        n_best: Annotated[int, typer.Option(help="hypotheses per sentence")] = 1,
        plot: Annotated[Path | None, typer.Option(help="attention PNG of the first")] = None,
        allow_unknown: Annotated[
            bool, typer.Option(help="translate unseen chars as <unk>")
        ] = False,
    ) -> None:
        """Translate sentences with a trained model (attention heatmap with --plot)."""
        tr = Translator.load(model)
        if not texts:
            if sys.stdin.isatty():
                raise AttnkitError("give sentences as arguments or on standard input")
            texts = [line.rstrip("\n") for line in sys.stdin if line.strip()]
            if not texts:
                raise AttnkitError("empty input: no sentence on standard input")
        tr.decode.n_best = n_best
        if beam is not None and n_best > beam:
            raise AttnkitError(f"--n-best ({n_best}) cannot exceed --beam ({beam})")
        tr.decode.beam_size = max(tr.decode.beam_size, n_best) if beam is None else beam
        results = translate_texts(tr, texts, beam=tr.decode.beam_size, allow_unknown=allow_unknown)
        for nbest in results:
            for h in nbest:
                line = tr.tgt_tok.decode(h.tokens)
                typer.echo(f"{line}\t{h.score:.3f}" if n_best > 1 else line)
        if plot is not None:
            plot_first(tr, texts[0], results[0][0], plot)
            typer.echo(f"attention map: {plot}", err=True)


def demo(*, budget_minutes: float = 15.0, run_dir: Path | None = None) -> None:
    """``make demo``: fetch the Bible, train under a budget, report BLEU, translate, plot."""
    from attnkit.config import load_config, save_config
    from attnkit.paths import repo_configs_dir

    run_dir = Path(run_dir or runs_dir() / "demo")
    cfg_path = repo_configs_dir() / DEFAULT_CONFIG
    cfg = load_config(
        Config, cfg_path if cfg_path.is_file() else None, [f"train.budget_minutes={budget_minutes}"]
    )
    typer.echo(f"== attnkit demo: es->en Bahdanau translator, {budget_minutes:g}-minute budget")
    typer.echo("== 1/4 fetching the corpus (Debian packages sword-text-sparv, sword-text-web)")
    ensure(cfg.data.corpus)
    resume = (run_dir / "last").is_dir()
    if resume:
        typer.echo(f"   continuing the run in {run_dir} (delete it to start again)")
    run_dir.mkdir(parents=True, exist_ok=True)
    save_config(cfg, run_dir / "config.yaml")
    typer.echo(f"== 2/4 training into {run_dir}")
    summary = train(cfg, run_dir, resume=resume)
    typer.echo(
        f"== 3/4 test set: BLEU {summary['test_bleu']:.2f}  chrF {summary['test_chrf']:.2f} "
        f"({summary['test_sentences']} verses, beam {summary['test_beam_size']}; "
        f"trained {summary['steps']} steps in {summary['train_seconds'] / 60:.1f} min, "
        f"{summary['units_per_second']:,.0f} tok/s)"
    )
    tr = Translator.load(run_dir)
    test = read_parallel(ensure(cfg.data.corpus), "test", CORPUS_LANGS[cfg.data.corpus])
    picks = [test[i] for i in (0, len(test) // 2, len(test) - 1)]
    typer.echo("== 4/4 held-out verses")
    results = translate_texts(tr, [s for s, _ in picks], beam=None, allow_unknown=True)
    for (src, ref), nbest in zip(picks, results, strict=True):
        typer.echo(f"  es:  {src}\n  ref: {ref}\n  out: {tr.tgt_tok.decode(nbest[0].tokens)}\n")
    png = run_dir / "attention.png"
    plot_first(tr, picks[0][0], results[0][0], png)
    typer.echo(f"attention map: {png}\ntraining curves: {run_dir / 'curves.png'}")
