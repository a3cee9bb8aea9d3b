"""Chinese part-of-speech tagging (PKU tag set) with a BiLSTM + self-attention + CRF tagger.

Data: People's Daily, January 1998 (:mod:`attnkit.data.pku`), split by document. Model:
:class:`attnkit.models.tagger.Tagger`. Training goes through the shared
:class:`attnkit.training.Trainer`; the best checkpoint is picked by dev token accuracy.

``evaluate`` reports, on the same split: the model's token accuracy with gold segmentation,
its accuracy on out-of-vocabulary words (never seen in training), the most-frequent-tag
baseline and jieba's ``posseg`` baseline (see :func:`jieba_baseline` for the tag mapping).

Example:
    $ attnkit data get pku-1998
    $ attnkit train tag --config configs/tag_pku.yaml
    $ attnkit eval --model ~/.cache/attnkit/runs/tag
    $ attnkit tag "今天天气很好"            # 今天/t 天气/n 很/d 好/a
    $ attnkit tag --segmented "我 爱 北京" --json
"""

from __future__ import annotations

import json
import re
import time
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Annotated, Any

import torch
import typer

from attnkit.config import to_dict
from attnkit.data import pku
from attnkit.errors import AttnkitError
from attnkit.models.tagger import PAD, UNK, Tagger, TaggerConfig
from attnkit.training import TrainConfig, Trainer, seed_everything

DEFAULT_CONFIG = "tag_pku.yaml"
TASK = "tag"
VOCAB_FILE = "vocab.json"


@dataclass
class DataConfig:
    """Corpus, vocabularies and batching."""

    dataset: str = "pku-1998"  # registry name of the corpus
    min_word_count: int = 2  # rarer training words map to UNK (so UNK is trained)
    min_char_count: int = 2  # rarer training characters map to UNK
    max_chars: int = 8  # characters kept per word (first half + last half if longer)
    batch_tokens: int = 1500  # padded tokens per training batch (sentences bucketed by length)
    max_train_sentences: int | None = None  # use only the first N training sentences (quick runs)
    threads: int = 0  # torch CPU threads (0: torch's default)


@dataclass
class Config:
    """The ``tag`` task: data, model and training settings."""

    data: DataConfig = field(default_factory=DataConfig)
    model: TaggerConfig = field(default_factory=TaggerConfig)
    train: TrainConfig = field(
        default_factory=lambda: TrainConfig(
            epochs=15, lr=3e-3, metric="accuracy", metric_mode="max", warmup_steps=100
        )
    )


# ----- vocabularies ----------------------------------------------------------------------------
@dataclass
class Vocab:
    """Word, character and tag vocabularies of a run, plus training word counts (for OOV).

    Words and characters are looked up in their :func:`attnkit.data.pku.normalize` form.
    Ids 0 and 1 of ``words`` and ``chars`` are PAD and UNK.
    """

    words: list[str]
    chars: list[str]
    tags: list[str]
    train_counts: dict[str, int]  # normalised training word -> count (all words, for OOV)
    max_chars: int = 8

    def __post_init__(self) -> None:
        self.word_id = {w: i for i, w in enumerate(self.words)}
        self.char_id = {c: i for i, c in enumerate(self.chars)}
        self.tag_id = {t: i for i, t in enumerate(self.tags)}

    @classmethod
    def build(cls, train: Sequence[pku.Sentence], cfg: DataConfig) -> Vocab:
        counts: Counter[str] = Counter()
        chars: Counter[str] = Counter()
        tags: Counter[str] = Counter()
        for s in train:
            for w, t in zip(s.words, s.tags, strict=True):
                w = pku.normalize(w)
                counts[w] += 1
                chars.update(w)
                tags[t] += 1
        keep_w = sorted(w for w, n in counts.items() if n >= cfg.min_word_count)
        keep_c = sorted(c for c, n in chars.items() if n >= cfg.min_char_count)
        return cls(
            words=["<pad>", "<unk>", *keep_w],
            chars=["<pad>", "<unk>", *keep_c],
            tags=sorted(tags),
            train_counts=dict(counts),
            max_chars=cfg.max_chars,
        )

    def save(self, path: Path) -> None:
        data = {
            k: getattr(self, k) for k in ("words", "chars", "tags", "train_counts", "max_chars")
        }
        path.write_text(json.dumps(data, ensure_ascii=False), encoding="utf-8")

    @classmethod
    def load(cls, path: Path) -> Vocab:
        try:
            data = json.loads(path.read_text(encoding="utf-8"))
            return cls(**data)
        except FileNotFoundError:
            raise AttnkitError(f"vocabulary missing: {path}") from None
        except (json.JSONDecodeError, TypeError) as e:
            raise AttnkitError(f"vocabulary {path} is corrupt: {e}") from None

    def is_oov(self, word: str) -> bool:
        return pku.normalize(word) not in self.train_counts

    def encode_words(self, words: Sequence[str]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(L,)`` word ids and ``(L, C)`` character ids (C <= max_chars) of one sentence."""
        norm = [pku.normalize(w) for w in words]
        wid = torch.tensor([self.word_id.get(w, UNK) for w in norm], dtype=torch.long)
        half = self.max_chars // 2
        clipped = [
            w if len(w) <= self.max_chars else w[:half] + w[-(self.max_chars - half) :]
            for w in norm
        ]
        width = max((len(w) for w in clipped), default=1) or 1
        cid = torch.zeros(len(words), width, dtype=torch.long)
        for i, w in enumerate(clipped):
            if w:
                cid[i, : len(w)] = torch.tensor([self.char_id.get(c, UNK) for c in w])
        return wid, cid

    def encode_tags(self, tags: Sequence[str]) -> torch.Tensor:
        # A tag never seen in training (3 singletons in the corpus) counts as an error.
        return torch.tensor([self.tag_id.get(t, -1) for t in tags], dtype=torch.long)


# ----- batching ------------------------------------------------------------------------------
Example = tuple[torch.Tensor, torch.Tensor, torch.Tensor]  # words (L,), chars (L, C), tags (L,)


def encode(sentences: Sequence[pku.Sentence], vocab: Vocab) -> list[Example]:
    out = []
    for s in sentences:
        w, c = vocab.encode_words(s.words)
        out.append((w, c, vocab.encode_tags(s.tags)))
    return out


def collate(examples: Sequence[Example]) -> dict[str, torch.Tensor]:
    """Pad a list of sentences into ``words (B, L)``, ``chars (B, L, C)``, ``tags (B, L)``,
    ``mask (B, L)`` (tags of padding are 0)."""
    B = len(examples)
    L = max(len(e[0]) for e in examples)
    C = max(e[1].size(1) for e in examples)
    words = torch.zeros(B, L, dtype=torch.long)
    chars = torch.zeros(B, L, C, dtype=torch.long)
    tags = torch.zeros(B, L, dtype=torch.long)
    for b, (w, c, t) in enumerate(examples):
        words[b, : len(w)] = w
        chars[b, : len(w), : c.size(1)] = c
        tags[b, : len(t)] = t.clamp(min=0)
    return {"words": words, "chars": chars, "tags": tags, "mask": words != PAD}


def bucket_batches(
    examples: Sequence[Example], batch_tokens: int, *, seed: int | None = None
) -> list[list[int]]:
    """Group sentence indices of similar length into batches of about ``batch_tokens`` padded
    tokens. With a seed, ties are broken randomly and the batch order is shuffled
    (deterministically); without, the order is by length (evaluation)."""
    lengths = torch.tensor([len(e[0]) for e in examples], dtype=torch.float64)
    if seed is not None:
        g = torch.Generator().manual_seed(seed)
        lengths = lengths + torch.rand(len(examples), generator=g, dtype=torch.float64) * 0.9
    order = torch.argsort(lengths).tolist()
    batches: list[list[int]] = []
    cur: list[int] = []
    longest = 0
    for i in order:
        n = len(examples[i][0])
        if cur and max(longest, n) * (len(cur) + 1) > batch_tokens:
            batches.append(cur)
            cur, longest = [], 0
        cur.append(i)
        longest = max(longest, n)
    if cur:
        batches.append(cur)
    if seed is not None:
        perm = torch.randperm(len(batches), generator=g).tolist()
        batches = [batches[p] for p in perm]
    return batches


def loss_fn(model: torch.nn.Module, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """Trainer hook: mean loss per real token of one batch."""
    inner = getattr(model, "module", model)  # DDP wraps the model
    loss = inner.loss(batch["words"], batch["chars"], batch["tags"], batch["mask"])
    return loss, int(batch["mask"].sum())


@torch.no_grad()
def predict(
    model: Tagger, examples: Sequence[Example], *, batch_tokens: int = 8000
) -> list[list[int]]:
    """Tag ids for each sentence (input order)."""
    model.eval()
    out: list[list[int]] = [[] for _ in examples]
    for idx in bucket_batches(examples, batch_tokens):
        batch = collate([examples[i] for i in idx])
        for i, path in zip(
            idx, model.decode(batch["words"], batch["chars"], batch["mask"]), strict=True
        ):
            out[i] = path
    return out


def token_accuracy(
    model: Tagger, examples: Sequence[Example], sentences: Sequence[pku.Sentence], vocab: Vocab
) -> dict[str, float]:
    """Token accuracy and accuracy on words unseen in training."""
    preds = predict(model, examples)
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
        "tokens": float(n),
    }


# ----- train / evaluate ------------------------------------------------------------------------
def _splits(cfg: DataConfig) -> dict[str, list[pku.Sentence]]:
    from attnkit.data.registry import ensure

    splits = pku.load_splits(ensure(cfg.dataset))
    if cfg.max_train_sentences is not None:
        splits["train"] = splits["train"][: cfg.max_train_sentences]
    return splits


def build_model(cfg: TaggerConfig, vocab: Vocab) -> Tagger:
    return Tagger(
        cfg, num_words=len(vocab.words), num_chars=len(vocab.chars), num_tags=len(vocab.tags)
    )


def train(cfg: Config, run_dir: Path, *, resume: bool = False) -> dict[str, float]:
    """Train the tagger on the train split; dev token accuracy picks the best checkpoint.

    Writes ``run_dir/vocab.json`` and ``run_dir/meta.json`` besides the Trainer's files.
    Returns the Trainer's summary plus the dev accuracy of the best checkpoint.
    """
    run_dir = Path(run_dir)
    run_dir.mkdir(parents=True, exist_ok=True)
    if cfg.data.threads:
        torch.set_num_threads(cfg.data.threads)
    splits = _splits(cfg.data)
    vocab_path = run_dir / VOCAB_FILE
    if resume and vocab_path.is_file():
        vocab = Vocab.load(vocab_path)
    else:
        vocab = Vocab.build(splits["train"], cfg.data)
        vocab.save(vocab_path)
    seed_everything(cfg.train.seed)
    model = build_model(cfg.model, vocab)
    train_ex = encode(splits["train"], vocab)
    dev_ex = encode(splits["dev"], vocab)

    def batches(epoch: int) -> _LazyBatches:
        groups = bucket_batches(train_ex, cfg.data.batch_tokens, seed=cfg.train.seed + epoch)
        return _LazyBatches(train_ex, groups)

    def evaluate_dev(m: torch.nn.Module) -> dict[str, float]:
        out = token_accuracy(m, dev_ex, splits["dev"], vocab)
        return {"accuracy": out["accuracy"], "oov_accuracy": out["oov_accuracy"]}

    meta = {
        "task": TASK,
        "model": to_dict(cfg.model),
        "vocab": VOCAB_FILE,
        "dataset": cfg.data.dataset,
        "parameters": sum(p.numel() for p in model.parameters()),
    }
    trainer = Trainer(
        model,
        cfg.train,
        run_dir,
        loss_fn=loss_fn,
        batches=batches,
        evaluate=evaluate_dev,
        unit="tok",
        meta=meta,
        resume=resume,
    )
    return trainer.fit()


class _LazyBatches:
    """A sized iterable of collated batches (collated on the fly, so memory stays small)."""

    def __init__(self, examples: Sequence[Example], groups: list[list[int]]) -> None:
        self.examples, self.groups = examples, groups

    def __len__(self) -> int:
        return len(self.groups)

    def __iter__(self):
        for idx in self.groups:
            yield collate([self.examples[i] for i in idx])


def load_run(run_dir: Path) -> tuple[Tagger, Vocab, dict[str, Any]]:
    """The best (else last) checkpoint of a run, its vocabulary and meta."""
    from attnkit.training.checkpoint import load_into

    run_dir = Path(run_dir)
    meta_path = run_dir / "meta.json"
    if not meta_path.is_file():
        raise AttnkitError(
            f"{run_dir} is not a tagger run (no meta.json); train one with `attnkit train tag`"
        )
    try:
        meta = json.loads(meta_path.read_text(encoding="utf-8"))
        model_cfg = TaggerConfig(**meta["model"])
    except (json.JSONDecodeError, KeyError, TypeError) as e:
        raise AttnkitError(f"{meta_path} is corrupt or not a tagger run: {e}") from None
    vocab = Vocab.load(run_dir / meta.get("vocab", VOCAB_FILE))
    model = build_model(model_cfg, vocab)
    ckpt = run_dir / "best" if (run_dir / "best").is_dir() else run_dir / "last"
    load_into(model, ckpt)
    return model.eval(), vocab, meta


def evaluate(run_dir: Path, *, split: str = "test") -> dict[str, float]:
    """Token accuracy (gold segmentation) of a trained run on ``split``, its OOV accuracy, and
    the most-frequent-tag and jieba baselines on the same sentences.

    Also writes ``run_dir/eval_<split>.json``.
    """
    if split not in pku.SPLITS:
        raise AttnkitError(f"unknown split {split!r}; choose one of: {', '.join(pku.SPLITS)}")
    model, vocab, meta = load_run(Path(run_dir))
    cfg = DataConfig(dataset=meta.get("dataset", "pku-1998"))
    splits = _splits(cfg)
    sents = splits[split]
    t0 = time.perf_counter()
    ours = token_accuracy(model, encode(sents, vocab), sents, vocab)
    seconds = time.perf_counter() - t0
    mft = pku.most_frequent_tag_baseline(splits["train"], sents)
    jb = jieba_baseline(sents)
    out = {
        "accuracy": ours["accuracy"],
        "oov_accuracy": ours["oov_accuracy"],
        "oov_rate": ours["oov_rate"],
        "tokens": ours["tokens"],
        "tagging_seconds": round(seconds, 1),
        "most_frequent_tag_accuracy": mft["accuracy"],
        "most_frequent_tag_oov_accuracy": mft["oov_accuracy"],
        "jieba_accuracy": jb["accuracy"],
        "jieba_accuracy_where_segmentation_agrees": jb["accuracy_where_segmentation_agrees"],
        "jieba_segmentation_agreement": jb["segmentation_agreement"],
    }
    (Path(run_dir) / f"eval_{split}.json").write_text(json.dumps(out, indent=1))
    return out


# ----- jieba ---------------------------------------------------------------------------------
# jieba.posseg's tags (ICTCLAS-style) -> PKU. Identical names (n, v, a, nr, ns, nt, nz, vn, vd,
# ad, an, d, m, q, r, p, c, u, y, e, o, h, k, i, l, j, b, s, t, f, z) map to themselves.
JIEBA_TO_PKU: dict[str, str] = {
    "x": "w",  # non-word symbols: punctuation
    "eng": "nx",  # Latin letters: PKU's foreign-string tag
    "nrt": "nr",  # transliterated person names
    "nrfg": "nr",  # person names (other)
    "uj": "u",  # 的
    "ul": "u",  # 了
    "uz": "u",  # 着
    "ug": "u",  # 过
    "uv": "u",  # 地
    "ud": "u",  # 得
    "mq": "m",  # number+measure word merged; PKU splits them, m is the first part
    "rr": "r",
    "rz": "r",
    "df": "d",  # 不要
    "vq": "v",
    "vi": "v",
    "g": "Ng",  # morphemes: PKU capitalises the morpheme tags
    "ng": "Ng",
    "vg": "Vg",
    "ag": "Ag",
    "dg": "Dg",
    "tg": "Tg",
    "rg": "Rg",
    "mg": "Mg",
    "yg": "Yg",
    "zg": "z",  # jieba's status-word morpheme; PKU has no Zg
}


def _jieba_text(text: str) -> str:
    """Full-width ASCII forms to ASCII, character by character (same length: spans align).

    jieba treats full-width digits (１９９８) as isolated symbols; this gives it its best shot.
    """
    out = []
    for ch in text:
        n = pku.normalize(ch)
        out.append(n if len(n) == 1 else ch)
    return "".join(out)


def jieba_baseline(sentences: Iterable[pku.Sentence]) -> dict[str, float]:
    """jieba.posseg on each sentence's concatenated gold words, scored against gold.

    A gold token counts as correct when jieba produced exactly its character span and a tag
    that maps (:data:`JIEBA_TO_PKU`) to the gold tag; tokens jieba segmented differently count
    as wrong in ``accuracy``. ``accuracy_where_segmentation_agrees`` is over the gold tokens
    whose span jieba reproduced; ``segmentation_agreement`` is their share.
    """
    import logging

    import jieba
    import jieba.posseg as pseg

    jieba.setLogLevel(logging.WARNING)
    n = agreed = correct = 0
    for s in sentences:
        gold: dict[tuple[int, int], str] = {}
        pos = 0
        for w, t in zip(s.words, s.tags, strict=True):
            gold[(pos, pos + len(w))] = t
            pos += len(w)
        pos = 0
        for pair in pseg.lcut(_jieba_text("".join(s.words))):
            span = (pos, pos + len(pair.word))
            pos = span[1]
            if span in gold:
                agreed += 1
                correct += JIEBA_TO_PKU.get(pair.flag, pair.flag) == gold[span]
        n += len(gold)
    return {
        "accuracy": correct / max(n, 1),
        "accuracy_where_segmentation_agrees": correct / max(agreed, 1),
        "segmentation_agreement": agreed / max(n, 1),
    }


# ----- prediction / CLI ----------------------------------------------------------------------
_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def check_input(text: str) -> str:
    """Validate text for the tagger: non-empty and containing Chinese characters.

    Latin letters, digits and punctuation mixed into Chinese text are fine (they get tags).

    Raises:
        AttnkitError: empty input, or no Chinese character in it.
    """
    if not text or not text.strip():
        raise AttnkitError('empty input: give Chinese text to tag, e.g. attnkit tag "今天天气很好"')
    if not _HAN.search(text):
        raise AttnkitError(
            f"no Chinese characters in {text[:40]!r}: this tagger tags Chinese text "
            "(PKU tag set); Latin letters and digits are tagged only inside Chinese text"
        )
    return text.strip()


def segment(text: str, *, segmented: bool = False) -> list[str]:
    """Words of ``text``: split on whitespace if ``segmented``, else segmented by jieba."""
    text = check_input(text)
    if segmented:
        return text.split()
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    norm = _jieba_text(text)
    words, pos = [], 0
    for piece in jieba.lcut(norm):
        original = text[pos : pos + len(piece)]  # same length: report the user's characters
        pos += len(piece)
        if original.strip():
            words.append(original)
    return words


def tag_words(model: Tagger, vocab: Vocab, words: Sequence[str]) -> list[str]:
    """PKU tags of one segmented sentence."""
    w, c = vocab.encode_words(words)
    path = model.decode(w.unsqueeze(0), c.unsqueeze(0))[0]
    return [vocab.tags[i] for i in path]


def add_commands(app: Any) -> None:
    """Register ``attnkit tag``."""

    @app.command("tag")
    def tag_cmd(
        text: Annotated[
            list[str], typer.Argument(help="Chinese text (several arguments are joined)")
        ],
        model: Annotated[
            Path | None, typer.Option(help="run folder (default: cache/runs/tag)")
        ] = None,
        segmented: Annotated[
            bool, typer.Option(help="input is already segmented: words separated by spaces")
        ] = False,
        json_: Annotated[
            bool, typer.Option("--json", help="print JSON instead of word/tag")
        ] = False,
        plot: Annotated[
            Path | None, typer.Option(help="save a heatmap of the self-attention between words")
        ] = None,
        layer: Annotated[int, typer.Option(help="attention layer for --plot (-1: last)")] = -1,
    ) -> None:
        """Tag Chinese text with PKU part-of-speech tags (jieba segments raw text)."""
        from attnkit.paths import runs_dir

        joined = (" " if segmented else "").join(text)
        words = segment(joined, segmented=segmented)
        tagger, vocab, _ = load_run(model or runs_dir() / TASK)
        tags = tag_words(tagger, vocab, words)
        if json_:
            typer.echo(
                json.dumps(
                    [{"word": w, "tag": t} for w, t in zip(words, tags, strict=True)],
                    ensure_ascii=False,
                )
            )
        else:
            typer.echo("  ".join(f"{w}/{t}" for w, t in zip(words, tags, strict=True)))
        if plot is not None:
            plot_attention_heatmap(tagger, vocab, words, tags, plot, layer=layer)
            typer.echo(f"attention heatmap: {plot}", err=True)


def self_attention(
    model: Tagger, vocab: Vocab, words: Sequence[str], *, layer: int = -1
) -> torch.Tensor:
    """``(H, L, L)`` self-attention weights of block ``layer`` over ``words`` (row attends col).

    Raises:
        AttnkitError: the model has no attention layers, or no layer ``layer``.
    """
    if not len(model.blocks):
        raise AttnkitError("this model has no self-attention layers (attention_layers=0)")
    if not -len(model.blocks) <= layer < len(model.blocks):
        raise AttnkitError(f"layer {layer}: the model has {len(model.blocks)} attention layers")
    w, c = vocab.encode_words(words)
    with torch.no_grad():
        return model.attention_weights(w, c, layer=layer)


def plot_attention_heatmap(
    model: Tagger,
    vocab: Vocab,
    words: Sequence[str],
    tags: Sequence[str],
    path: Path,
    *,
    layer: int = -1,
) -> None:
    """Save the head-averaged self-attention weights (rows attend to columns) as a heatmap."""
    from attnkit.viz import plot_heatmap, use_cjk_font

    weights = self_attention(model, vocab, words, layer=layer).mean(0)  # (L, L), head mean
    labels = [f"{i}:{word}/{t}" for i, (word, t) in enumerate(zip(words, tags, strict=True))]
    n = layer % len(model.blocks) + 1
    use_cjk_font()
    plot_heatmap(weights, labels, labels, path, f"self-attention, layer {n} (mean over heads)")
