"""The peers of the corrector, run on the same sentences: word-at-a-time spelling checkers.

- ``pyspellchecker``: ``SpellChecker().correction(word)`` with its own English frequency
  dictionary (Norvig's method: the most frequent known word within edit distance 1, then 2);
- ``symspellpy``: ``SymSpell.lookup(word, Verbosity.TOP, max_edit_distance=2)`` with its
  shipped ``frequency_dictionary_en_82_765.txt``;
- ``identity``: leave the text as it is.

They see the same tokens as the memory network and may change the same ones (the plain words,
:func:`~attnkit.data.correction.checkable`); a suggestion is written in the token's case. Both
peers are optional dependencies (``pip install 'attnkit[bench]'``).

Example:
    >>> from attnkit.data.correction import Example
    >>> ex = Example(["Teh", "cat"], ["The", "cat"], ["nonword", "clean"], ["", " ", ""])
    >>> correct_words([ex], {"teh": "the"}.get)
    [['The', 'cat']]
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

from attnkit.data.correction import Example, checkable, match_case, normalize
from attnkit.errors import AttnkitError

__all__ = ["BASELINES", "baseline", "correct_words"]

BASELINES = ("identity", "pyspellchecker", "symspellpy")


def correct_words(examples: Sequence[Example], fix: Callable[[str], str | None]) -> list[list[str]]:
    """Each example's tokens with ``fix(word)`` (lower case in, a word or ``None`` out) applied
    to its plain words, each distinct word looked up once; ``None`` or the word itself keeps
    the token."""
    seen: dict[str, str | None] = {}
    out = []
    for ex in examples:
        apostrophe = "’" if "’" in ex.text else "'"
        tokens = list(ex.tokens)
        for i, tok in enumerate(tokens):
            if checkable(ex.tokens, ex.gaps, i):
                key = normalize(tok)
                if key not in seen:
                    seen[key] = fix(key)
                new = seen[key]
                if new and new != key:
                    tokens[i] = match_case(new, tok, apostrophe)
        out.append(tokens)
    return out


def _pyspellchecker() -> Callable[[str], str | None]:
    from spellchecker import SpellChecker

    return SpellChecker().correction


def _symspellpy() -> Callable[[str], str | None]:
    from importlib.resources import files

    from symspellpy import SymSpell, Verbosity

    sym = SymSpell(max_dictionary_edit_distance=2, prefix_length=7)
    path = files("symspellpy") / "frequency_dictionary_en_82_765.txt"
    if not sym.load_dictionary(str(path), term_index=0, count_index=1):
        raise AttnkitError(f"symspellpy could not read its dictionary {path}")

    def fix(word: str) -> str | None:
        found = sym.lookup(word, Verbosity.TOP, max_edit_distance=2)
        return found[0].term if found else None

    return fix


def baseline(name: str) -> Callable[[Sequence[Example]], list[list[str]]]:
    """A corrector of examples by name (one of :data:`BASELINES`).

    Raises:
        AttnkitError: an unknown name, or the peer package is not installed.
    """
    if name == "identity":
        return lambda examples: [list(ex.tokens) for ex in examples]
    makers = {"pyspellchecker": _pyspellchecker, "symspellpy": _symspellpy}
    if name not in makers:
        raise AttnkitError(f"unknown baseline {name!r}; choose from: {', '.join(BASELINES)}")
    try:
        fix = makers[name]()
    except ImportError:
        raise AttnkitError(
            f"{name} is not installed: pip install 'attnkit[bench]' (or pip install {name})"
        ) from None
    return lambda examples: correct_words(examples, fix)
