"""Spelling-correction data: real English sentences with injected errors, held out for real.

Sources (each a registry corpus, read whole and split into sentences here):

- ``bible``: the English side of ``bible-es-en`` (WEB Bible, one verse a line);
- ``debian``: the long descriptions of ``debian-descriptions``;
- ``aclsum``: the highlighted sentences of ``aclsum`` papers.

Error sources:

- ``codespell``: codespell 2.4.3's ``dictionary.txt`` (``misspelling->correction``, CC BY-SA
  3.0). Kept: pairs with one lowercase alphabetic correction whose misspelling is lowercase
  alphabetic and not a ``wamerican`` word (a *non-word*).
- ``wamerican``: Debian's ``/usr/share/dict/american-english``, the word list of the
  candidate generator.
- ``word-frequencies``: how common each English word is, to rank candidates: the
  ``frequency_dictionary_en_82_765.txt`` shipped in symspellpy's wheel (Google Books Ngram
  counts of the SCOWL words; MIT / CC BY 3.0). It is only read for words of the lexicon, so a
  misspelling never gets a frequency from it.
- :data:`CONFUSION_SETS`: real words that only context tells apart (their/there/they're ...).

Splits. Sentences go to train / dev / test by a stable hash of their text (equal sentences
never straddle splits); each source is split on its own, and its sentences keep their source.
codespell's pairs are split *by correct word* (a stable hash of the word): a correct word and
all its misspellings belong to one of train / dev / test. The held-out rule:

1. a dev or test correct word and its misspellings appear in no training sentence's injected
   error: training sentences inject only training pairs;
2. training sentences that contain a dev or test correct word (or one of its misspellings) are
   dropped from training, so the model never sees those words in context either;
3. no dev or test misspelling is in any word list the model or the candidate generator uses:
   the lexicon is ``wamerican`` plus the training sentences' words, minus every kept codespell
   misspelling (none of which is a ``wamerican`` word).

To keep rule 2 cheap, a correct word that occurs in more than ``frequent`` (0.5%) of the
corpus sentences, or that belongs to a confusion set, is always a training word: holding out
"the" would drop most of the corpus. The same line draws the model's word vocabulary
(:attr:`Corpus.frequent`): only those words get an embedding of their own, every other word
is its character n-grams, so a held-out word looks like any rare training word.

Injection (:func:`inject`) is deterministic for a seed and a sentence: with a rate per sentence,
one plain word (:func:`checkable`) is replaced by a misspelling of it from the split's pairs
(``"nonword"``, capitalisation kept), and one by a partner of its confusion set
(``"realword"``). An :class:`Example` keeps the corrupted tokens, the clean targets and the
kind of each token, and the whitespace between them, so ``join_text(example.target,
example.gaps)`` is the original sentence.

Example:
    >>> tokens, gaps = split_text("Thier dog's  bone, (it's) here.")
    >>> tokens
    ['Thier', "dog's", 'bone', ',', '(', "it's", ')', 'here', '.']
    >>> join_text(tokens, gaps)
    "Thier dog's  bone, (it's) here."
    >>> [checkable(tokens, gaps, i) for i in range(len(tokens))][:3]
    [True, True, True]
"""

from __future__ import annotations

import hashlib
import random
import re
from collections import Counter
from collections.abc import Collection, Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path

from attnkit.data.text import hash_split
from attnkit.errors import AttnkitError

__all__ = [
    "CODESPELL_REQUIREMENT",
    "CONFUSION_SETS",
    "KINDS",
    "SOURCES",
    "Corpus",
    "Example",
    "Pair",
    "Sentence",
    "build_corpus",
    "checkable",
    "confusion_partners",
    "fetch_codespell",
    "fetch_frequencies",
    "fetch_wamerican",
    "inject",
    "join_text",
    "match_case",
    "normalize",
    "read_codespell",
    "read_frequencies",
    "read_sentences",
    "read_wamerican",
    "split_pairs",
    "split_sentences",
    "split_text",
]

CODESPELL_REQUIREMENT = "codespell==2.4.3"
CODESPELL_FILE = "dictionary.txt"
WAMERICAN_FILE = "american-english"
FREQUENCIES_REQUIREMENT = "symspellpy==6.9.0"
FREQUENCIES_FILE = "frequency_dictionary_en_82_765.txt"
SOURCES = ("bible", "debian", "aclsum")
SPLITS = ("train", "dev", "test")
KINDS = ("clean", "nonword", "realword")
SENTENCE_SALT = "correct-sentences"
PAIR_SALT = "correct-codespell"

CONFUSION_SETS: tuple[tuple[str, ...], ...] = (
    ("their", "there", "they're"),
    ("its", "it's"),
    ("then", "than"),
    ("to", "too", "two"),
    ("your", "you're"),
    ("lose", "loose"),
    ("affect", "effect"),
    ("accept", "except"),
    ("whose", "who's"),
    ("were", "where", "we're"),
    ("quiet", "quite"),
    ("advice", "advise"),
    ("breath", "breathe"),
    ("principal", "principle"),
    ("weather", "whether"),
    ("passed", "past"),
    ("led", "lead"),
    # found in the corpus (each member occurs in the Bible or the Debian descriptions)
    ("hear", "here"),
    ("know", "no"),
    ("knew", "new"),
    ("of", "off"),
    ("right", "write"),
    ("peace", "piece"),
    ("threw", "through"),
    ("course", "coarse"),
    ("sea", "see"),
    ("son", "sun"),
    ("whole", "hole"),
    ("which", "witch"),
    ("wait", "weight"),
    ("way", "weigh"),
    ("brake", "break"),
    ("choose", "chose"),
    ("loss", "lose"),
    ("site", "sight", "cite"),
    ("allowed", "aloud"),
    ("adapt", "adopt"),
    ("desert", "dessert"),
    ("complement", "compliment"),
    ("bare", "bear"),
    ("die", "dye"),
    ("flour", "flower"),
)
"""Real-word confusion sets: a member written for another is an error only context shows."""

# A token: a word of letters with inner apostrophes, a run of digits, or one other character.
_TOKEN = re.compile(r"[^\W\d_]+(?:['’][^\W\d_]+)*|\d+|\S")
_PLAIN_WORD = re.compile(r"[A-Za-z]+(?:['’][A-Za-z]+)*")
_OPENERS = set("([{\"'‘“")
_CLOSERS = set(")]}\"'’”,.;:!?")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"'”’)]?\s+(?=[\"“‘(]?[A-Z])")
_LOWER_ALPHA = re.compile(r"[a-z]+")


# --------------------------------------------------------------------------- fetching


def fetch_codespell(dest: Path) -> None:
    """``dest/dictionary.txt`` from the codespell wheel (pip download, not installed)."""
    from attnkit.data.fetch import fetch_one_file, pip_download_extract

    fetch_one_file(
        lambda tmp: pip_download_extract(CODESPELL_REQUIREMENT, tmp),
        f"codespell_lib/data/{CODESPELL_FILE}",
        dest,
        source=CODESPELL_REQUIREMENT,
        readme=f"codespell: misspelling->correction pairs, PyPI {CODESPELL_REQUIREMENT}, "
        f"codespell_lib/data/{CODESPELL_FILE} (CC BY-SA 3.0).\n",
    )


def fetch_wamerican(dest: Path) -> None:
    """``dest/american-english`` from Debian's ``wamerican`` (apt-get download, no root)."""
    from attnkit.data.fetch import apt_download_extract, fetch_one_file

    fetch_one_file(
        lambda tmp: apt_download_extract(["wamerican"], tmp),
        f"usr/share/dict/{WAMERICAN_FILE}",
        dest,
        source="the wamerican package",
        readme="wamerican: Debian's American English word list "
        "(/usr/share/dict/american-english).\n",
    )


def fetch_frequencies(dest: Path) -> None:
    """``dest/frequency_dictionary_en_82_765.txt`` from the symspellpy wheel (not installed)."""
    from attnkit.data.fetch import fetch_one_file, pip_download_extract

    fetch_one_file(
        lambda tmp: pip_download_extract(FREQUENCIES_REQUIREMENT, tmp),
        f"symspellpy/{FREQUENCIES_FILE}",
        dest,
        source=FREQUENCIES_REQUIREMENT,
        readme=f"word-frequencies: 'word count' lines, PyPI {FREQUENCIES_REQUIREMENT}, "
        f"symspellpy/{FREQUENCIES_FILE} (Google Books Ngram counts of SCOWL words).\n",
    )


def read_frequencies(path: Path) -> dict[str, int]:
    """``{word: count}`` of a ``word count`` file (:func:`fetch_frequencies`)."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except FileNotFoundError:
        raise AttnkitError(f"missing {path} (attnkit data get word-frequencies)") from None
    out = {}
    for line in lines:
        parts = line.split()
        if len(parts) == 2 and parts[1].isdigit():
            out[normalize(parts[0])] = int(parts[1])
    return out


# --------------------------------------------------------------------------- text


def split_text(text: str) -> tuple[list[str], list[str]]:
    """Tokens of ``text`` and the whitespace around them: ``gaps[0]`` before the first token,
    ``gaps[i + 1]`` after token ``i``, so :func:`join_text` gives ``text`` back exactly."""
    return _TOKEN.findall(text), _TOKEN.split(text)  # the tokens, what lies between them


def join_text(tokens: Sequence[str], gaps: Sequence[str]) -> str:
    """The text of :func:`split_text`'s tokens and gaps (``len(gaps) == len(tokens) + 1``)."""
    if len(gaps) != len(tokens) + 1:
        raise ValueError(f"need len(tokens) + 1 gaps, got {len(tokens)} tokens, {len(gaps)} gaps")
    return gaps[0] + "".join(t + g for t, g in zip(tokens, gaps[1:], strict=True))


def checkable(tokens: Sequence[str], gaps: Sequence[str], i: int) -> bool:
    """Whether token ``i`` is a plain English word that may be misspelled or corrected: ASCII
    letters (inner apostrophes allowed), not glued to anything but brackets, quotes and
    sentence punctuation (so ``libfoo`` in ``libfoo-dev`` and ``x`` in ``x86`` are not)."""
    if not _PLAIN_WORD.fullmatch(tokens[i]):
        return False
    j = i - 1  # glued tokens before: only openers
    while j >= 0 and not gaps[j + 1]:
        if tokens[j] not in _OPENERS:
            return False
        j -= 1
    j = i + 1  # glued tokens after: only closers
    while j < len(tokens) and not gaps[j]:
        if tokens[j] not in _CLOSERS:
            return False
        j += 1
    return True


def normalize(word: str) -> str:
    """The lookup form of a word: lower case, typographic apostrophe as ``'``.

    Example:
        >>> normalize("They’re")
        "they're"
    """
    return word.lower().replace("’", "'")


def match_case(word: str, like: str, apostrophe: str = "'") -> str:
    """``word`` (lower case) written in the case of ``like``: ``TEH -> THE``, ``Teh -> The``.

    Example:
        >>> match_case("their", "Thier"), match_case("it's", "ITS", "’")
        ('Their', 'IT’S')
    """
    word = word.replace("'", apostrophe)
    if len(like) > 1 and like.isupper():
        return word.upper()
    if like[:1].isupper():
        return word[:1].upper() + word[1:]
    return word


def sentences_of(text: str) -> list[str]:
    """A paragraph cut at sentence ends (``. ! ?`` then a capital)."""
    return [s.strip() for s in _SENTENCE_END.split(text) if s.strip()]


# --------------------------------------------------------------------------- corpora


def _source_texts(source: str) -> Iterable[str]:
    """The paragraphs of a source (every split of its registry corpus; fetched if missing)."""
    from attnkit.data.registry import ensure

    if source == "bible":
        root = ensure("bible-es-en")
        for split in SPLITS:
            path = root / f"{split}.en"
            if not path.is_file():
                raise AttnkitError(f"missing {path} (fetch the corpus again)")
            yield from path.read_text("utf-8").splitlines()
    elif source in ("debian", "aclsum"):
        from attnkit.data.summaries import read_split

        root = ensure("debian-descriptions" if source == "debian" else "aclsum")
        for split in SPLITS:
            yield from (p.document for p in read_split(root, split))
    else:
        raise AttnkitError(f"unknown source {source!r}; choose from: {', '.join(SOURCES)}")


@dataclass(frozen=True)
class Sentence:
    """A corpus sentence, its tokens and its plain words (:func:`checkable`), normalized."""

    text: str
    words: frozenset[str]
    plain: tuple[str, ...]

    @classmethod
    def read(cls, text: str) -> tuple[Sentence, int]:
        """The sentence of ``text`` and its number of tokens."""
        tokens, gaps = split_text(text)
        plain = tuple(normalize(t) for i, t in enumerate(tokens) if checkable(tokens, gaps, i))
        return cls(text, frozenset(map(normalize, tokens)), plain), len(tokens)


def read_sentences(
    sources: Sequence[str], *, min_words: int = 4, max_tokens: int = 60
) -> dict[str, list[Sentence]]:
    """The distinct sentences of each source, in corpus order: at least ``min_words``
    checkable words and at most ``max_tokens`` tokens (headings, code and lists fall out)."""
    out: dict[str, list[Sentence]] = {}
    for source in sources:
        seen: set[str] = set()
        kept = []
        for text in _source_texts(source):
            for sentence in sentences_of(text):
                if sentence in seen:
                    continue
                seen.add(sentence)
                read, tokens = Sentence.read(sentence)
                if len(read.plain) >= min_words and tokens <= max_tokens:
                    kept.append(read)
        out[source] = kept
    return out


def split_sentences(
    sentences: Mapping[str, Sequence[Sentence]], *, dev: float, test: float
) -> dict[str, list[tuple[str, Sentence]]]:
    """``{split: [(source, sentence), ...]}`` by a stable hash of each source's sentences."""
    out: dict[str, list[tuple[str, Sentence]]] = {s: [] for s in SPLITS}
    for source, read in sentences.items():
        for s in read:
            out[hash_split(s.text, dev=dev, test=test, salt=f"{SENTENCE_SALT}/{source}")].append(
                (source, s)
            )
    return out


@dataclass(frozen=True)
class Pair:
    """One codespell entry: a misspelling and its one correction."""

    misspelling: str
    correction: str


def read_wamerican(path: Path) -> set[str]:
    """The words of a ``wamerican`` list, in :func:`normalize` form."""
    try:
        text = Path(path).read_text("utf-8", errors="replace")
    except FileNotFoundError:
        raise AttnkitError(f"missing word list {path} (attnkit data get wamerican)") from None
    return {normalize(w) for w in text.split()}


def read_codespell(path: Path, words: set[str]) -> list[Pair]:
    """The usable pairs of codespell's dictionary: one lowercase alphabetic correction, and a
    lowercase alphabetic misspelling that is not in ``words`` (the ``wamerican`` list)."""
    try:
        lines = Path(path).read_text("utf-8").splitlines()
    except FileNotFoundError:
        raise AttnkitError(f"missing {path} (attnkit data get codespell)") from None
    pairs = []
    for line in lines:
        wrong, arrow, right = line.partition("->")
        targets = [t.strip() for t in right.split(",") if t.strip()]
        if not arrow or len(targets) != 1:
            continue
        wrong, right = wrong.strip(), targets[0]
        if (_LOWER_ALPHA.fullmatch(wrong) and _LOWER_ALPHA.fullmatch(right) and wrong != right
                and wrong not in words):  # fmt: skip
            pairs.append(Pair(wrong, right))
    return pairs


def split_pairs(
    pairs: Sequence[Pair],
    document_frequency: Mapping[str, int],
    sentences: int,
    *,
    dev: float,
    test: float,
    frequent: float,
) -> dict[str, dict[str, tuple[str, ...]]]:
    """``{split: {correct word: its misspellings}}``, split by correct word: words in more than
    ``frequent`` of the ``sentences`` and confusion-set words always train, the rest by a
    stable hash of the word."""
    confusable = {w for group in CONFUSION_SETS for w in group}
    grouped: dict[str, list[str]] = {}
    for p in pairs:
        grouped.setdefault(p.correction, []).append(p.misspelling)
    out: dict[str, dict[str, tuple[str, ...]]] = {s: {} for s in SPLITS}
    for word, wrongs in grouped.items():
        always = word in confusable or document_frequency.get(word, 0) > frequent * sentences
        split = "train" if always else hash_split(word, dev=dev, test=test, salt=PAIR_SALT)
        out[split][word] = tuple(sorted(set(wrongs)))
    return out


def confusion_partners() -> dict[str, tuple[str, ...]]:
    """``{word: the other members of its confusion set(s)}``.

    Example:
        >>> confusion_partners()["their"]
        ('there', "they're")
    """
    out: dict[str, list[str]] = {}
    for group in CONFUSION_SETS:
        for w in group:
            out.setdefault(w, [])
            out[w] += [p for p in group if p != w and p not in out[w]]
    return {w: tuple(ps) for w, ps in out.items()}


# --------------------------------------------------------------------------- injection


@dataclass
class Example:
    """A sentence with injected errors: ``tokens`` (what a corrector reads), ``target`` (the
    clean tokens), ``kinds`` (``clean`` / ``nonword`` / ``realword`` per token), ``gaps``
    (whitespace, see :func:`split_text`) and its ``source``."""

    tokens: list[str]
    target: list[str]
    kinds: list[str]
    gaps: list[str]
    source: str = ""

    @property
    def text(self) -> str:
        """The corrupted sentence."""
        return join_text(self.tokens, self.gaps)

    @property
    def clean_text(self) -> str:
        """The original sentence."""
        return join_text(self.target, self.gaps)


def _rng(seed: int, text: str) -> random.Random:
    """A generator fixed by the seed and the sentence alone (not by corpus order)."""
    digest = hashlib.sha256(f"{seed}\x00{text}".encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def inject(
    text: str,
    *,
    seed: int,
    misspellings: Mapping[str, Sequence[str]],
    partners: Mapping[str, Sequence[str]],
    nonword_rate: float,
    realword_rate: float,
    common: Collection[str] = (),
    source: str = "",
) -> Example:
    """Corrupt one sentence, deterministically for ``seed`` and ``text``.

    With probability ``nonword_rate`` one checkable word that has misspellings (picked
    uniformly, among those not in ``common`` if there are any) is replaced by one of them;
    then, with probability ``realword_rate``, one other confusion-set word by a partner.
    Capitalisation and the sentence's apostrophe are kept. So every split injects at the same
    rates, from its own pairs; passing the frequent words as ``common`` makes training errors
    fall on rare words where a sentence has one, as all dev and test errors do.

    Example:
        >>> ex = inject("Their house is here.", seed=0, misspellings={"house": ["hosue"]},
        ...             partners={"their": ["there"]}, nonword_rate=1.0, realword_rate=1.0)
        >>> ex.text, ex.kinds[:2]
        ('There hosue is here.', ['realword', 'nonword'])
    """
    rng = _rng(seed, text)
    tokens, gaps = split_text(text)
    apostrophe = "’" if "’" in text else "'"
    out, kinds = list(tokens), ["clean"] * len(tokens)
    words = [i for i in range(len(tokens)) if checkable(tokens, gaps, i)]
    typos = [i for i in words if normalize(tokens[i]) in misspellings]
    typos = [i for i in typos if normalize(tokens[i]) not in common] or typos
    if typos and rng.random() < nonword_rate:
        i = rng.choice(typos)
        out[i], kinds[i] = (
            match_case(rng.choice(misspellings[normalize(tokens[i])]), tokens[i]),
            "nonword",
        )
    confusable = [i for i in words if kinds[i] == "clean" and normalize(tokens[i]) in partners]
    if confusable and rng.random() < realword_rate:
        i = rng.choice(confusable)
        choice = rng.choice(partners[normalize(tokens[i])])
        out[i], kinds[i] = match_case(choice, tokens[i], apostrophe), "realword"
    return Example(out, list(tokens), kinds, gaps, source)


# --------------------------------------------------------------------------- the corpus


@dataclass
class Corpus:
    """Everything a corrector is trained and tested with.

    Attributes:
        sentences: ``{split: [(source, sentence)]}`` after the held-out rule (training
            sentences holding a dev / test word are gone).
        pairs: ``{split: {correct word: misspellings}}`` (:func:`split_pairs`).
        lexicon: ``{word: frequency}`` (``word-frequencies``, 0 for a word it lacks):
            ``wamerican`` plus the training words, minus every codespell misspelling.
        counts: ``{word: occurrences in the training sentences}`` (leave-one-out reading).
        listed: the lexicon's ``wamerican`` words (known whatever the training sentences say).
        frequent: the tokens in more than ``frequent`` of the corpus sentences, and the
            confusion-set words: the words the model embeds (never a held-out word).
        stats: counts for the log and the run's ``meta.json``.
    """

    sentences: dict[str, list[tuple[str, str]]]
    pairs: dict[str, dict[str, tuple[str, ...]]]
    lexicon: dict[str, int]
    counts: dict[str, int]
    listed: set[str]
    frequent: set[str]
    stats: dict[str, int] = field(default_factory=dict)

    def examples(
        self, split: str, *, seed: int, nonword_rate: float, realword_rate: float
    ) -> list[Example]:
        """The split's sentences with errors injected from the split's own pairs."""
        if split not in SPLITS:
            raise AttnkitError(f"unknown split {split!r}; choose one of: {', '.join(SPLITS)}")
        partners = confusion_partners()
        return [
            inject(text, seed=seed, misspellings=self.pairs[split], partners=partners,
                   nonword_rate=nonword_rate, realword_rate=realword_rate,
                   common=self.frequent, source=source)
            for source, text in self.sentences[split]
        ]  # fmt: skip


def build_corpus(
    sources: Sequence[str],
    *,
    dev: float,
    test: float,
    pair_dev: float,
    pair_test: float,
    frequent: float,
    min_words: int = 4,
    max_tokens: int = 60,
) -> Corpus:
    """Read the sources, codespell and ``wamerican`` (fetched when missing) and apply the
    held-out rule of the module docstring.

    Raises:
        AttnkitError: an unknown source, a corpus that cannot be fetched or read, or no
            training sentence left.
    """
    from attnkit.data.registry import ensure

    if not sources or any(s not in SOURCES for s in sources):
        raise AttnkitError(f"sources must be some of {', '.join(SOURCES)}, got {list(sources)}")
    words = read_wamerican(ensure("wamerican") / WAMERICAN_FILE)
    frequency = read_frequencies(ensure("word-frequencies") / FREQUENCIES_FILE)
    pairs = read_codespell(ensure("codespell") / CODESPELL_FILE, words)
    by_source = read_sentences(sources, min_words=min_words, max_tokens=max_tokens)
    df: Counter[str] = Counter(w for read in by_source.values() for s in read for w in s.words)
    n = sum(map(len, by_source.values()))  # sentences
    groups = split_pairs(pairs, df, n, dev=pair_dev, test=pair_test, frequent=frequent)
    read_splits = split_sentences(by_source, dev=dev, test=test)
    held_out = {w for s in ("dev", "test") for c, ms in groups[s].items() for w in (c, *ms)}
    train = [(src, s) for src, s in read_splits["train"] if held_out.isdisjoint(s.words)]
    if not train:
        raise AttnkitError("no training sentence left after holding out the dev / test words")
    counts: Counter[str] = Counter(w for _, s in train for w in s.plain)
    dropped = len(read_splits["train"]) - len(train)
    read_splits["train"] = train
    splits = {k: [(src, s.text) for src, s in v] for k, v in read_splits.items()}
    misspelled = {p.misspelling for p in pairs}
    listed = words - misspelled
    lexicon = {w: frequency.get(w, 0) for w in listed | set(counts) if w not in misspelled}
    confusable = {w for group in CONFUSION_SETS for w in group}
    embedded = {w for w, k in df.items() if k > frequent * n} | confusable
    stats = {
        **{f"{s}_sentences": len(v) for s, v in splits.items()},
        "train_dropped_held_out": dropped,
        **{f"{s}_correct_words": len(v) for s, v in groups.items()},
        **{f"{s}_misspellings": sum(map(len, v.values())) for s, v in groups.items()},
        "lexicon": len(lexicon),
        "frequent_words": len(embedded),
    }
    return Corpus(splits, groups, lexicon, dict(counts), listed, embedded, stats)
