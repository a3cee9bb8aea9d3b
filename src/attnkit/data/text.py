"""Tokenizers and vocabularies shared by every text task, plus parallel-corpus files.

Two tokenizers with one interface (:class:`Tokenizer`):

- :class:`SentencePieceTokenizer`: a subword model (BPE or unigram) trained with
  sentencepiece from an iterator of sentences.
- :class:`WordTokenizer`: words and punctuation marks, a frequency cut-off, saved as JSON.

Both reserve the special ids of :mod:`attnkit.specials` (``PAD_ID = 0``, ``UNK_ID = 1``,
``BOS_ID = 2``, ``EOS_ID = 3``). ``encode`` never adds BOS/EOS unless asked and maps anything
it does not know (an unseen character or word) to ``UNK_ID``; it never fails on odd input.
``decode`` drops PAD/BOS/EOS.

A parallel corpus on disk is one file per split and language, one sentence a line,
line ``i`` of ``train.es`` translating line ``i`` of ``train.en``
(:func:`write_parallel`, :func:`read_parallel`); :func:`hash_split` assigns an item
to train/dev/test from a hash of its key, so the split never depends on order.

Example:
    >>> tok = WordTokenizer.build(["the cat sat", "the dog sat"])
    >>> tok.decode(tok.encode("the cat sat"))
    'the cat sat'
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Literal, Protocol, runtime_checkable

from attnkit.data.placeholders import PLACEHOLDER_PATTERN
from attnkit.errors import AttnkitError
from attnkit.fileio import atomic_write
from attnkit.specials import BOS_ID, EOS_ID, PAD_ID, SPECIAL_TOKENS, UNK_ID

__all__ = [
    "BOS_ID",
    "EOS_ID",
    "PAD_ID",
    "SPECIAL_TOKENS",
    "SPLITS",
    "UNK_ID",
    "SentencePieceTokenizer",
    "Tokenizer",
    "WordTokenizer",
    "build_tokenizers",
    "hash_split",
    "load_tokenizer",
    "read_parallel",
    "require_text",
    "write_parallel",
]

SPLITS = ("train", "dev", "test")


def require_text(text: str, what: str = "input text") -> str:
    """Return ``text`` stripped, or raise ``ValueError`` if nothing is left.

    Use it where an empty string is a user mistake (a sentence to translate), not
    inside corpus loops where an empty line is simply skipped.
    """
    if not isinstance(text, str):
        raise ValueError(f"{what} must be a string, got {type(text).__name__}")
    stripped = text.strip()
    if not stripped:
        raise ValueError(f"{what} is empty")
    return stripped


@runtime_checkable
class Tokenizer(Protocol):
    """What models, tasks and plots rely on; both tokenizers implement it."""

    pad_id: int
    unk_id: int
    bos_id: int
    eos_id: int

    @property
    def vocab_size(self) -> int: ...

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]: ...

    def decode(self, ids: Iterable[int]) -> str: ...

    def pieces(self, text: str) -> list[str]: ...

    def id_to_piece(self, idx: int) -> str: ...

    def save(self, path: str | Path) -> None: ...


def _with_specials(ids: list[int], add_bos: bool, add_eos: bool) -> list[int]:
    if add_bos:
        ids = [BOS_ID, *ids]
    if add_eos:
        ids = [*ids, EOS_ID]
    return ids


# --------------------------------------------------------------------------- sentencepiece


def _utf8(text: str) -> str:
    """``text`` with lone surrogates (a JSON ``"\\ud800"`` escape gives one) replaced by U+FFFD:
    sentencepiece takes only what UTF-8 can encode."""
    return text.encode("utf-16", "surrogatepass").decode("utf-16", "replace")


class SentencePieceTokenizer:
    """A sentencepiece subword model with attnkit's special ids.

    Args:
        model_proto: the serialized model (the bytes of a ``.model`` file).

    Example:
        >>> tok = SentencePieceTokenizer.train(["hola mundo"] * 20, None, vocab_size=20)
        >>> tok.decode(tok.encode("hola mundo"))
        'hola mundo'
    """

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, model_proto: bytes) -> None:
        import sentencepiece as spm

        self._proto = bytes(model_proto)
        self._sp = spm.SentencePieceProcessor(model_proto=self._proto)
        got = (self._sp.pad_id(), self._sp.unk_id(), self._sp.bos_id(), self._sp.eos_id())
        if got != (PAD_ID, UNK_ID, BOS_ID, EOS_ID):
            raise AttnkitError(
                f"sentencepiece model has special ids pad/unk/bos/eos={got}, "
                f"attnkit needs {(PAD_ID, UNK_ID, BOS_ID, EOS_ID)}: retrain it with "
                "SentencePieceTokenizer.train"
            )

    @classmethod
    def train(
        cls,
        texts: Iterable[str],
        model_prefix: str | Path | None,
        vocab_size: int,
        model_type: Literal["bpe", "unigram"] = "bpe",
        *,
        max_sentence_length: int = 8192,
        symbols: Sequence[str] = (),
    ) -> SentencePieceTokenizer:
        """Train a model on ``texts`` (deterministic for the same texts in the same order).

        Args:
            texts: sentences; empty ones are skipped.
            model_prefix: writes ``<prefix>.model`` and ``<prefix>.vocab``; ``None`` keeps the
                model in memory only.
            vocab_size: the number of pieces wanted, specials included. On a corpus too small
                to give that many the model is smaller (``vocab_size`` tells the real size).
            model_type: ``"bpe"`` or ``"unigram"``.
            max_sentence_length: longer sentences (in bytes) are skipped by the trainer.
            symbols: pieces kept whole wherever they occur (placeholders such as ``⟦1⟧``),
                in the vocabulary whether the texts hold them or not.

        Returns:
            The trained tokenizer.

        Raises:
            ValueError: no non-empty text, a bad ``model_type`` or ``vocab_size``.
        """
        import io

        import sentencepiece as spm

        if model_type not in ("bpe", "unigram"):
            raise ValueError(f"model_type must be 'bpe' or 'unigram', got {model_type!r}")
        if vocab_size <= len(SPECIAL_TOKENS):
            raise ValueError(f"vocab_size must be > {len(SPECIAL_TOKENS)}, got {vocab_size}")
        sentences = [t.strip() for t in texts if t and t.strip()]
        if not sentences:
            raise ValueError("cannot train a sentencepiece model on no text (all texts empty)")
        model = io.BytesIO()
        try:
            spm.SentencePieceTrainer.train(
                sentence_iterator=iter(sentences),
                model_writer=model,
                vocab_size=vocab_size,
                model_type=model_type,
                character_coverage=1.0,
                pad_id=PAD_ID,
                unk_id=UNK_ID,
                bos_id=BOS_ID,
                eos_id=EOS_ID,
                pad_piece=SPECIAL_TOKENS[0],
                unk_piece=SPECIAL_TOKENS[1],
                bos_piece=SPECIAL_TOKENS[2],
                eos_piece=SPECIAL_TOKENS[3],
                hard_vocab_limit=False,  # a small corpus gives a smaller vocabulary, no error
                num_threads=1,  # one thread: the same pieces on every run
                shuffle_input_sentence=False,
                input_sentence_size=0,  # use every sentence, no sampling
                max_sentence_length=max_sentence_length,
                user_defined_symbols=list(symbols),
                minloglevel=2,
            )
        except RuntimeError as exc:
            raise ValueError(f"sentencepiece training failed: {exc}") from exc
        tok = cls(model.getvalue())
        if model_prefix is not None:
            tok.save(Path(f"{model_prefix}.model"))
            vocab = "".join(
                f"{tok._sp.id_to_piece(i)}\t{tok._sp.get_score(i)}\n" for i in range(tok.vocab_size)
            )
            atomic_write(Path(f"{model_prefix}.vocab"), vocab.encode("utf-8"))
        return tok

    @classmethod
    def load(cls, path: str | Path) -> SentencePieceTokenizer:
        """Load a ``.model`` file written by :meth:`train` or :meth:`save`."""
        try:
            return cls(Path(path).read_bytes())
        except OSError as exc:
            raise AttnkitError(f"cannot read sentencepiece model {path}: {exc.strerror}") from exc
        except RuntimeError as exc:
            raise AttnkitError(f"{path} is not a sentencepiece model: {exc}") from exc
        except AttnkitError as exc:  # a model, but not one of attnkit's
            raise AttnkitError(f"{path}: {exc}") from None

    def save(self, path: str | Path) -> None:
        """Write the model (the ``.model`` bytes) atomically."""
        atomic_write(Path(path), self._proto)

    @property
    def vocab_size(self) -> int:
        return self._sp.get_piece_size()

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of ``text`` (``[]`` for an empty string); unknown characters give ``UNK_ID``."""
        return _with_specials(list(self._sp.encode(_utf8(text))), add_bos, add_eos)

    def decode(self, ids: Iterable[int]) -> str:
        """Text of ``ids``; PAD/BOS/EOS are dropped, ``UNK_ID`` shows as ``⁇``."""
        size = self.vocab_size
        kept = [
            i if i < size else UNK_ID for i in map(int, ids) if i not in (PAD_ID, BOS_ID, EOS_ID)
        ]
        return self._sp.decode([i if i >= 0 else UNK_ID for i in kept])

    def pieces(self, text: str) -> list[str]:
        """The subword pieces of ``text`` (``▁`` marks a word start), one per id of ``encode``."""
        return list(self._sp.encode_as_pieces(_utf8(text)))

    def id_to_piece(self, idx: int) -> str:
        return self._sp.id_to_piece(int(idx)) if 0 <= int(idx) < self.vocab_size else "<unk>"

    def piece_to_id(self, piece: str) -> int:
        return int(self._sp.piece_to_id(_utf8(piece)))

    def __repr__(self) -> str:
        return f"SentencePieceTokenizer(vocab_size={self.vocab_size})"


# --------------------------------------------------------------------------- words

# A word is a placeholder (``⟦1⟧``, attnkit.data.placeholders) or a run of letters/digits/
# underscore (apostrophes inside words kept: "don't", "l'espace"); every other non-space
# character is a token of its own.
_WORD_RE = re.compile(rf"{PLACEHOLDER_PATTERN}|\w+(?:['’]\w+)*|[^\w\s]")
_NO_SPACE_BEFORE = set(",.;:!?)]}»”’%…")
_NO_SPACE_AFTER = set("([{«“¿¡‘")


class WordTokenizer:
    """Words and punctuation marks with a frequency cut-off.

    Args:
        tokens: the vocabulary in id order; must start with the four special tokens.
        lowercase: lower-case text before looking words up.

    Example:
        >>> tok = WordTokenizer.build(["Hello, world!"], min_freq=1)
        >>> tok.pieces("Hello, world!")
        ['Hello', ',', 'world', '!']
    """

    pad_id, unk_id, bos_id, eos_id = PAD_ID, UNK_ID, BOS_ID, EOS_ID

    def __init__(self, tokens: Sequence[str], *, lowercase: bool = False) -> None:
        if tuple(tokens[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"a word vocabulary must start with {SPECIAL_TOKENS}")
        self.tokens = list(tokens)
        self.lowercase = lowercase
        self._index = {t: i for i, t in enumerate(self.tokens)}
        if len(self._index) != len(self.tokens):
            raise ValueError("duplicate tokens in the vocabulary")

    @staticmethod
    def split(text: str) -> list[str]:
        """Split into words and single punctuation marks (the surface forms)."""
        return _WORD_RE.findall(text)

    @classmethod
    def build(
        cls,
        texts: Iterable[str],
        *,
        min_freq: int = 1,
        max_size: int | None = None,
        lowercase: bool = False,
        symbols: Sequence[str] = (),
    ) -> WordTokenizer:
        """Count words in ``texts`` and keep those seen at least ``min_freq`` times.

        The order is: specials, then by decreasing count, ties alphabetical — so the
        same texts always give the same ids.

        Args:
            texts: the training sentences.
            min_freq: drop rarer words (they become ``UNK_ID``).
            max_size: keep at most this many entries, specials included.
            lowercase: fold case before counting and looking up.
            symbols: words kept however rare (placeholders), right after the specials.

        Raises:
            ValueError: no word in ``texts``, or bad ``min_freq`` / ``max_size``.
        """
        if min_freq < 1:
            raise ValueError(f"min_freq must be >= 1, got {min_freq}")
        if max_size is not None and max_size <= len(SPECIAL_TOKENS):
            raise ValueError(f"max_size must be > {len(SPECIAL_TOKENS)}, got {max_size}")
        counts: Counter[str] = Counter()
        for text in texts:
            counts.update(cls.split(text.lower() if lowercase else text))
        if not counts:
            raise ValueError("cannot build a word vocabulary from no text (all texts empty)")
        words = sorted(
            (
                w
                for w, c in counts.items()
                if c >= min_freq and w not in SPECIAL_TOKENS and w not in symbols
            ),
            key=lambda w: (-counts[w], w),
        )
        words = [*symbols, *words]
        if max_size is not None:
            words = words[: max_size - len(SPECIAL_TOKENS)]
        return cls([*SPECIAL_TOKENS, *words], lowercase=lowercase)

    @classmethod
    def load(cls, path: str | Path) -> WordTokenizer:
        """Load a JSON vocabulary written by :meth:`save`."""
        try:
            data = json.loads(Path(path).read_text(encoding="utf-8"))
        except OSError as exc:
            raise AttnkitError(f"cannot read word vocabulary {path}: {exc.strerror}") from exc
        except (json.JSONDecodeError, UnicodeDecodeError) as exc:
            raise AttnkitError(f"{path} is not a word vocabulary (bad JSON: {exc})") from exc
        if not isinstance(data, dict) or data.get("type") != "word" or "tokens" not in data:
            raise AttnkitError(f"{path} is not a word vocabulary written by WordTokenizer.save")
        try:
            return cls(data["tokens"], lowercase=bool(data.get("lowercase", False)))
        except (TypeError, ValueError) as exc:
            raise AttnkitError(f"{path} is a corrupt word vocabulary: {exc}") from exc

    def save(self, path: str | Path) -> None:
        """Write the vocabulary as JSON (atomically)."""
        data = {"type": "word", "lowercase": self.lowercase, "tokens": self.tokens}
        atomic_write(Path(path), json.dumps(data, ensure_ascii=False, indent=0).encode("utf-8"))

    @property
    def vocab_size(self) -> int:
        return len(self.tokens)

    def encode(self, text: str, *, add_bos: bool = False, add_eos: bool = False) -> list[int]:
        """Ids of the words of ``text``; unknown words give ``UNK_ID``."""
        if self.lowercase:
            text = text.lower()
        ids = [self._index.get(w, UNK_ID) for w in self.split(text)]
        return _with_specials(ids, add_bos, add_eos)

    def decode(self, ids: Iterable[int]) -> str:
        """Join the words of ``ids`` with spaces, without a space before ``,.;:!?`` and
        after opening brackets; PAD/BOS/EOS are dropped."""
        out: list[str] = []
        for i in map(int, ids):
            if i in (PAD_ID, BOS_ID, EOS_ID):
                continue
            word = self.tokens[i] if 0 <= i < len(self.tokens) else SPECIAL_TOKENS[UNK_ID]
            if out and word not in _NO_SPACE_BEFORE and out[-1][-1:] not in _NO_SPACE_AFTER:
                out.append(" ")
            out.append(word)
        return "".join(out)

    def pieces(self, text: str) -> list[str]:
        """The surface words of ``text`` (as written, unknown ones too), one per id."""
        return self.split(text)

    def id_to_piece(self, idx: int) -> str:
        idx = int(idx)
        return self.tokens[idx] if 0 <= idx < len(self.tokens) else SPECIAL_TOKENS[UNK_ID]

    def piece_to_id(self, piece: str) -> int:
        return self._index.get(piece.lower() if self.lowercase else piece, UNK_ID)

    def __repr__(self) -> str:
        return f"WordTokenizer(vocab_size={self.vocab_size}, lowercase={self.lowercase})"


def load_tokenizer(path: str | Path) -> SentencePieceTokenizer | WordTokenizer:
    """Load either tokenizer: ``.json`` -> :class:`WordTokenizer`, else sentencepiece."""
    path = Path(path)
    if not path.exists():
        raise AttnkitError(f"no tokenizer file at {path}")
    if path.suffix == ".json":
        return WordTokenizer.load(path)
    return SentencePieceTokenizer.load(path)


def build_tokenizers(
    kind: Literal["bpe", "unigram", "word"],
    src_texts: Sequence[str],
    tgt_texts: Sequence[str],
    out_dir: str | Path,
    *,
    joint: bool,
    vocab_size: int = 8000,
    min_freq: int = 2,
    lowercase: bool = False,
    symbols: Sequence[str] = (),
) -> tuple[Path, Path]:
    """Train source and target tokenizers (one shared model when ``joint``) into ``out_dir``.

    Args:
        kind: ``"bpe"`` / ``"unigram"`` (sentencepiece) or ``"word"``.
        src_texts: source training sentences.
        tgt_texts: target training sentences.
        out_dir: where to write ``{src,tgt}.model`` (or ``.json``); with ``joint`` both
            paths are the same ``joint.model`` / ``joint.json``.
        joint: one vocabulary for both languages (needed to tie embeddings or copy).
        vocab_size: sentencepiece pieces, or the word vocabulary's ``max_size``.
        min_freq: word tokenizer frequency cut-off.
        lowercase: word tokenizer case folding.
        symbols: pieces both tokenizers keep whole (the placeholders ``⟦1⟧`` ...).

    Returns:
        ``(src_path, tgt_path)``; load them with :func:`load_tokenizer`.
    """
    if kind not in ("bpe", "unigram", "word"):
        raise ValueError(f"tokenizer kind must be 'bpe', 'unigram' or 'word', got {kind!r}")
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    sides = {"joint": [*src_texts, *tgt_texts]} if joint else {"src": src_texts, "tgt": tgt_texts}
    paths: dict[str, Path] = {}
    for name, texts in sides.items():
        if kind == "word":
            paths[name] = out / f"{name}.json"
            WordTokenizer.build(
                texts, min_freq=min_freq, max_size=vocab_size, lowercase=lowercase, symbols=symbols
            ).save(paths[name])
        else:
            paths[name] = out / f"{name}.model"
            SentencePieceTokenizer.train(
                texts, out / name, vocab_size, model_type=kind, symbols=symbols
            )
    if joint:
        return paths["joint"], paths["joint"]
    return paths["src"], paths["tgt"]


# --------------------------------------------------------------------------- corpus files


def hash_split(key: str, *, dev: float, test: float, salt: str = "") -> str:
    """Assign ``key`` to ``"train"``, ``"dev"`` or ``"test"`` from a hash of ``salt + key``.

    The same key always lands in the same split, whatever the order or size of the
    corpus; the fractions are met in expectation.

    Args:
        key: the item's identity (a verse key, a chapter, a msgid).
        dev: fraction for dev.
        test: fraction for test.
        salt: changes the assignment as a whole (name it after the corpus).
    """
    if not (dev >= 0 and test >= 0 and dev + test < 1):
        raise ValueError(f"need 0 <= dev, test and dev + test < 1, got dev={dev}, test={test}")
    digest = hashlib.sha256(f"{salt}\x00{key}".encode()).digest()
    u = int.from_bytes(digest[:8], "big") / 2**64  # uniform in [0, 1)
    if u < test:
        return "test"
    if u < test + dev:
        return "dev"
    return "train"


def _one_line(text: str) -> str:
    return " ".join(text.split())


def write_parallel(
    dest: str | Path,
    split: str,
    langs: tuple[str, str],
    pairs: Sequence[tuple[str, str]],
    keys: Sequence[str] | None = None,
) -> None:
    """Write ``dest/{split}.{src_lang}``, ``dest/{split}.{tgt_lang}`` (and ``keys.{split}``).

    Whitespace inside a sentence (newlines, tabs) becomes single spaces so that
    line ``i`` of each file is pair ``i``.
    """
    dest = Path(dest)
    dest.mkdir(parents=True, exist_ok=True)
    if keys is not None and len(keys) != len(pairs):
        raise ValueError(f"{len(keys)} keys for {len(pairs)} pairs")
    for side, lang in enumerate(langs):
        lines = "".join(_one_line(p[side]) + "\n" for p in pairs)
        (dest / f"{split}.{lang}").write_text(lines, encoding="utf-8")
    if keys is not None:
        (dest / f"keys.{split}").write_text("".join(k + "\n" for k in keys), encoding="utf-8")


def read_parallel(dest: str | Path, split: str, langs: tuple[str, str]) -> list[tuple[str, str]]:
    """Read the pairs written by :func:`write_parallel`.

    Raises:
        AttnkitError: an unknown split, a missing file (fetch the corpus first), or
            files with different numbers of lines.
    """
    if split not in SPLITS:
        raise AttnkitError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    dest = Path(dest)
    sides = []
    for lang in langs:
        path = dest / f"{split}.{lang}"
        if not path.exists():
            raise AttnkitError(f"missing corpus file {path} (fetch the corpus first)")
        lines = path.read_text(encoding="utf-8").split("\n")
        sides.append(lines[:-1] if lines[-1] == "" else lines)
    if len(sides[0]) != len(sides[1]):
        raise AttnkitError(
            f"{dest}: {split}.{langs[0]} has {len(sides[0])} lines but "
            f"{split}.{langs[1]} has {len(sides[1])}"
        )
    return list(zip(sides[0], sides[1], strict=True))
