"""Summarization corpora: document -> summary pairs, a word tokenizer and a pointer vocabulary.

Every summarization corpus is written by its fetcher as ``{train,dev,test}.jsonl``, one
``{"id": ..., "document": ..., "summary": ...}`` object a line (:func:`write_split`), and read
back as :class:`SummaryPair` by :func:`load_split`:

- ``debian-descriptions``: a Debian package's long description -> its one-line synopsis
  (:mod:`attnkit.data.debian_descriptions`);
- ``aclsum``: the sentences an annotator highlighted in an ACL paper -> the one-sentence
  challenge, approach or outcome summary written from them (:mod:`attnkit.data.aclsum`);
- ``manpages``: a Debian manual page's DESCRIPTION -> its NAME line (:mod:`attnkit.data.manpages`).

Text is split into words by :func:`tokenize`, which keeps case and keeps package names,
versions, paths and URLs whole (a pointer-generator copies them as one token), and joined back
by :func:`detokenize`. :class:`WordVocab` maps words to ids with the pointer-generator's
*extended* ids: a source word outside the vocabulary gets a temporary id ``len(vocab) + k``
for that one example, so the copy distribution can point at it.

Example:
    >>> tokenize("libfoo-dev 2.0.1: the C++ API (v3), it's fast.")
    ['libfoo-dev', '2.0.1', ':', 'the', 'C++', 'API', '(', 'v3', ')', ',', "it's", 'fast', '.']
    >>> vocab = WordVocab.build([["the", "cat", "sat"], ["the", "dog"]], max_size=10)
    >>> vocab.encode_source(["the", "zebra", "sat", "zebra"], max_len=10)
    ([4, 8, 7, 8], ['zebra'])
    >>> vocab.decode([4, 8], ["zebra"])
    ['the', 'zebra']
"""

from __future__ import annotations

import hashlib
import json
import re
from collections import Counter
from collections.abc import Iterable
from dataclasses import dataclass
from pathlib import Path

from attnkit.data.vocab import JsonFields
from attnkit.errors import AttnkitError
from attnkit.specials import SPECIAL_TOKENS, UNK_ID

__all__ = [
    "CORPORA",
    "SPLITS",
    "SummaryPair",
    "WordVocab",
    "detokenize",
    "lead",
    "load_split",
    "read_split",
    "split_by_hash",
    "templated_ids",
    "tokenize",
    "write_split",
]

# corpus name -> the registry dataset (attnkit.data.registry.DATASETS) that holds it
CORPORA: dict[str, str] = {
    "debian-descriptions": "debian-descriptions",
    "aclsum": "aclsum",
    "manpages": "manpages",
}
SPLITS = ("train", "dev", "test")


@dataclass
class SummaryPair:
    """One example: a document and the reference summary written for it."""

    id: str  # unique within the corpus: a Debian package name, "P06-1112/challenge"
    document: str  # plain text on one line
    summary: str  # plain text on one line


# --------------------------------------------------------------------------- files


def write_split(dest: str | Path, split: str, pairs: Iterable[SummaryPair]) -> int:
    """Write ``dest/<split>.jsonl``, one pair a line; returns how many were written."""
    if split not in SPLITS:
        raise AttnkitError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    lines = [
        json.dumps({"id": p.id, "document": p.document, "summary": p.summary}, ensure_ascii=False)
        for p in pairs
    ]
    path = Path(dest) / f"{split}.jsonl"
    path.write_text("".join(line + "\n" for line in lines), encoding="utf-8")
    return len(lines)


def read_split(folder: str | Path, split: str) -> list[SummaryPair]:
    """Read ``folder/<split>.jsonl`` written by :func:`write_split`.

    Raises:
        AttnkitError: the file is missing or a line is not a pair (naming file and line).
    """
    path = Path(folder) / f"{split}.jsonl"
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except FileNotFoundError:
        raise AttnkitError(f"summarization split missing: {path}") from None
    pairs = []
    for n, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            row = json.loads(line)
            pairs.append(SummaryPair(str(row["id"]), row["document"], row["summary"]))
        except (json.JSONDecodeError, KeyError, TypeError) as e:
            raise AttnkitError(f"{path}:{n} is not a summary pair ({e!r})") from None
    return pairs


def load_split(corpus: str, split: str) -> list[SummaryPair]:
    """The pairs of one split of a summarization corpus, fetched into the cache if needed.

    Args:
        corpus: a key of :data:`CORPORA` (``"debian-descriptions"`` or ``"aclsum"``).
        split: ``"train"``, ``"dev"`` or ``"test"``.

    Returns:
        The pairs in file order (for ``debian-descriptions``: sorted by package name).

    Raises:
        AttnkitError: an unknown corpus or split (listing the valid ones), or a fetch failure.

    Example (fetches the corpus, so not a doctest)::

        pairs = load_split("debian-descriptions", "test")
        pairs[0].summary  # 'Real-time strategy game of ancient warfare'
    """
    if corpus not in CORPORA:
        raise AttnkitError(
            f"unknown summarization corpus {corpus!r}; choose one of {', '.join(CORPORA)}"
        )
    if split not in SPLITS:
        raise AttnkitError(f"unknown split {split!r}; choose one of {', '.join(SPLITS)}")
    from attnkit.data.registry import ensure

    return read_split(ensure(CORPORA[corpus]), split)


def split_by_hash(key: str) -> str:
    """The split of a pair by a key of it (a document, a page name): ``int(sha1(key), 16) %
    20`` is 0 for test, 1 for dev, else train, so equal keys never straddle splits.

    Example:
        >>> split_by_hash("Foo frobnicates files. It is fast.")
        'train'
    """
    bucket = int(hashlib.sha1(key.encode("utf-8")).hexdigest(), 16) % 20
    return "test" if bucket == 0 else "dev" if bucket == 1 else "train"


def templated_ids(corpus: str) -> set[str]:
    """Ids of the pairs in near-templated families (``families.json`` of the corpus, written
    by its fetcher; empty when it has none), to report scores with and without them."""
    if corpus not in CORPORA:
        raise AttnkitError(
            f"unknown summarization corpus {corpus!r}; choose one of {', '.join(CORPORA)}"
        )
    from attnkit.data.registry import ensure

    path = ensure(CORPORA[corpus]) / "families.json"
    if not path.is_file():
        return set()
    return {i for ids in json.loads(path.read_text("utf-8")).values() for i in ids}


# --------------------------------------------------------------------------- words

# One token is, in this order of preference:
_TOKEN_RE = re.compile(
    r"""
      [A-Za-z][A-Za-z0-9+.-]*://[^\s<>"'()\[\]{}]*[^\s<>"'()\[\]{}.,;:!?]  # a URL
    | (?:(?<![\w.+/~\#@-])[-./~\#@]+(?=\w))?    # a prefix: /usr, ~/.x, .deb, --help, #1, @INC
      \w+(?:(?:[-.'’/@\#&]|\++[-./]?|::|(?<=\d):(?=\d))(?:\w+|\*))*
                                                # a word: libfoo-dev, 2.0.1, it's, TCP/IP,
                                                # Foo::Bar, libstdc++-v3, C++11, PKCS#11, R&D,
                                                # 12:30, myspell-*
      (?:\(\w{0,3}\))?                          # glued short brackets: Microsoft(R), file(s)
      (?:\++|\#|/|-(?![-\w]))?                   # C++, GTK+, C#, dir/, "32- and 64-bit"
    | ->|<-|=>|<=|>=|!=|==|\+=                   # an operator
    | ([^\w\s])\1*                              # any other character; a run of one (..., --)
    """,
    re.VERBOSE,
)
_CLOSERS = set(",.;!?)]}%>”’®™°")  # a token made of these sticks to the token before it (and ":")
_OPENERS = {"(", "[", "{", "<", "“", "‘"}  # the token after one of these sticks to it
_QUOTES = {'"'}  # straight double quotes alternate: opening, then closing


def tokenize(text: str) -> list[str]:
    """Split ``text`` into words and punctuation marks, case kept.

    Names stay one token: package names and versions (``libfoo-dev``, ``2.0.1``), words with
    an apostrophe (``it's``), ``C++``, ``C++11``, ``C#``, ``TCP/IP``, ``Foo::Bar``, paths
    (``/usr/bin``, ``~/.config``), file extensions (``.deb``), options (``--help``), URLs, a
    word with glued short brackets (``Microsoft(R)``, ``file(s)``, ``O(1)``) and a hanging
    hyphen (``32-`` in "32- and 64-bit"). ``-> => <= >= != == +=`` are one token each; any
    other character is a token of its own, and a run of the same one (``...``, ``--``) is one.
    Single quotes are left apart (``users'`` vs ``'quoted'`` cannot be told apart).

    Example:
        >>> tokenize('Run "apt-get install python3-foo" (see /usr/share/doc/).')[1:]
        ['"', 'apt-get', 'install', 'python3-foo', '"', '(', 'see', '/usr/share/doc/', ')', '.']
    """
    return [m.group(0) for m in _TOKEN_RE.finditer(text)]


def detokenize(tokens: Iterable[str]) -> str:
    """Join ``tokens`` with spaces, except before ``, . ; : ! ? ) ] } %`` and after ``( [ {``.

    Straight double quotes alternate between opening (no space after) and closing (no space
    before). On ordinary text ``detokenize(tokenize(text)) == text`` (whitespace collapsed).

    Example:
        >>> detokenize(['a', '(', 'small', ')', 'library', ',', 'in', '"', 'C', '"', '.'])
        'a (small) library, in "C".'
    """
    out: list[str] = []
    glue_next = True  # no space before the first token
    open_quote = False
    for tok in tokens:
        if tok in _QUOTES:
            closing = open_quote
            open_quote = not open_quote
            if out and not glue_next and not closing:
                out.append(" ")
            out.append(tok)
            glue_next = not closing
            continue
        closer = tok == ":" or all(c in _CLOSERS for c in tok)
        if out and not glue_next and not closer:
            out.append(" ")
        out.append(tok)
        glue_next = tok in _OPENERS
    return "".join(out)


# --------------------------------------------------------------------------- vocabulary


@dataclass
class WordVocab(JsonFields):
    """A word vocabulary with the pointer-generator's extended ids for out-of-vocabulary words.

    Ids 0-3 are :data:`attnkit.specials.SPECIAL_TOKENS` (``<pad> <unk> <s> </s>``); then words,
    most frequent first. Saved as JSON with :meth:`save` / :meth:`load`.

    Args:
        words: the vocabulary in id order, starting with the four special tokens.

    Raises:
        ValueError: ``words`` does not start with the specials or holds a word twice.

    Example:
        >>> vocab = WordVocab.build([["a", "b", "b"]], max_size=10)
        >>> vocab.words, len(vocab), vocab.id("b"), vocab.id("zzz")
        (['<pad>', '<unk>', '<s>', '</s>', 'b', 'a'], 6, 4, 1)
    """

    words: list[str]

    def __post_init__(self) -> None:
        if tuple(self.words[: len(SPECIAL_TOKENS)]) != SPECIAL_TOKENS:
            raise ValueError(f"a word vocabulary must start with {SPECIAL_TOKENS}")
        self._index = {w: i for i, w in enumerate(self.words)}
        if len(self._index) != len(self.words):
            raise ValueError("a word vocabulary holds a word twice")

    @classmethod
    def build(
        cls, token_lists: Iterable[list[str]], max_size: int, min_count: int = 1
    ) -> WordVocab:
        """Count the words of ``token_lists`` and keep the most frequent.

        Deterministic: by decreasing count, ties in alphabetical (code point) order.

        Args:
            token_lists: tokenized texts (documents and summaries of the train split).
            max_size: the most entries kept, the four specials included.
            min_count: words seen fewer times are left out (they become ``<unk>``).

        Raises:
            ValueError: ``max_size`` <= 4 or ``min_count`` < 1.
        """
        if max_size <= len(SPECIAL_TOKENS):
            raise ValueError(f"max_size must be > {len(SPECIAL_TOKENS)}, got {max_size}")
        if min_count < 1:
            raise ValueError(f"min_count must be >= 1, got {min_count}")
        counts: Counter[str] = Counter()
        for tokens in token_lists:
            counts.update(tokens)
        kept = sorted(
            (w for w, c in counts.items() if c >= min_count and w not in SPECIAL_TOKENS),
            key=lambda w: (-counts[w], w),
        )
        return cls([*SPECIAL_TOKENS, *kept[: max_size - len(SPECIAL_TOKENS)]])

    def __len__(self) -> int:
        return len(self.words)

    def id(self, word: str) -> int:
        """The id of ``word``; ``UNK_ID`` when it is not in the vocabulary."""
        return self._index.get(word, UNK_ID)

    def encode_plain(self, tokens: list[str], max_len: int) -> list[int]:
        """Ids of the first ``max_len`` tokens, ``UNK_ID`` for unknown words (no extended ids:
        what an embedding table of ``len(self)`` rows can look up)."""
        return [self.id(w) for w in tokens[:max_len]]

    def encode_source(self, tokens: list[str], max_len: int) -> tuple[list[int], list[str]]:
        """Extended ids of the first ``max_len`` source tokens, and the source's OOV words.

        The ``k``-th distinct out-of-vocabulary word (in order of first appearance) gets id
        ``len(self) + k`` wherever it occurs.

        Returns:
            ``(ids, oovs)``: ``len(ids) == min(len(tokens), max_len)``; ``oovs[k]`` is the word
            of extended id ``len(self) + k``.

        Example:
            >>> vocab = WordVocab.build([["a"]], max_size=10)  # len(vocab) == 5
            >>> vocab.encode_source(["x", "a", "y", "x"], max_len=3)
            ([5, 4, 6], ['x', 'y'])
        """
        ids: list[int] = []
        oovs: list[str] = []
        slot: dict[str, int] = {}
        for w in tokens[:max_len]:
            i = self._index.get(w)
            if i is None:
                if w not in slot:
                    slot[w] = len(self.words) + len(oovs)
                    oovs.append(w)
                i = slot[w]
            ids.append(i)
        return ids, oovs

    def encode_target(self, tokens: list[str], oovs: list[str], max_len: int) -> list[int]:
        """Ids of the first ``max_len`` target tokens: an OOV word of the source (in ``oovs``)
        gets its extended id, any other unknown word ``UNK_ID``.

        Example:
            >>> vocab = WordVocab.build([["a"]], max_size=10)
            >>> vocab.encode_target(["a", "y", "q"], ["x", "y"], max_len=5)
            [4, 6, 1]
        """
        slot = {w: len(self.words) + k for k, w in enumerate(oovs)}
        return [self._index.get(w, slot.get(w, UNK_ID)) for w in tokens[:max_len]]

    def decode(self, ids: Iterable[int], oovs: list[str]) -> list[str]:
        """Words of (extended) ``ids``; an id past ``oovs`` gives ``"<unk>"``. Specials are
        kept (``"<s>"``, ``"</s>"``): the caller strips them."""
        n = len(self.words)
        out = []
        for i in map(int, ids):
            if 0 <= i < n:
                out.append(self.words[i])
            elif n <= i < n + len(oovs):
                out.append(oovs[i - n])
            else:
                out.append(SPECIAL_TOKENS[UNK_ID])
        return out


# --------------------------------------------------------------------------- baselines

# the end of a sentence: . ! or ? followed by spaces and an upper-case letter, or by the end
_SENTENCE_END = re.compile(r"[.!?](?=\s+(\S)|\s*$)")


def lead(document: str, *, n_words: int | None = None) -> str:
    """The Lead baseline: the document's first sentence, or its first ``n_words`` tokens.

    The first sentence ends at the first ``.``, ``!`` or ``?`` followed by a space and an
    upper-case letter, or by the end of the text; without one it is the whole text.

    Args:
        document: plain text.
        n_words: when given, the first ``n_words`` tokens of :func:`tokenize`, detokenized.

    Example:
        >>> lead("A tool for X. It is fast, e.g. on big files. More.")
        'A tool for X.'
        >>> lead("A tool for X. It is fast.", n_words=3)
        'A tool for'
    """
    if n_words is not None:
        if n_words < 0:
            raise ValueError(f"n_words must be >= 0, got {n_words}")
        return detokenize(tokenize(document)[:n_words])
    text = " ".join(document.split())
    for m in _SENTENCE_END.finditer(text):
        after = m.group(1)
        if after is None or after[0].isupper():
            return text[: m.end()]
    return text
