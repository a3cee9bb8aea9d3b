"""Raw Chinese text into words: input checks, jieba segmentation, and jieba's tags as a baseline.

The tagger is trained on gold (PKU) segmentation; raw text is segmented by jieba, whose
conventions differ from PKU's on about a fifth of the tokens. :func:`jieba_baseline` scores
jieba's own ``posseg`` tagger on the same sentences, its tags mapped to PKU's.

Example:
    >>> segment("我 爱  北京", segmented=True)
    ['我', '爱', '北京']
    >>> JIEBA_TO_PKU["x"], JIEBA_TO_PKU["eng"]
    ('w', 'nx')
"""

from __future__ import annotations

import re
from collections.abc import Iterable

from attnkit.data import pku
from attnkit.errors import AttnkitError

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


def jieba_text(text: str) -> str:
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
        for pair in pseg.lcut(jieba_text("".join(s.words))):
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


_HAN = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uf900-\ufaff\U00020000-\U0003134f]")


def check_input(text: str) -> str:
    """Validate text for the tagger: non-empty and containing Chinese characters.

    Latin letters, digits and punctuation mixed into Chinese text are fine (they get tags).

    Raises:
        AttnkitError: empty input, or no Chinese character in it.
    """
    if not isinstance(text, str) or not text.strip():
        raise AttnkitError('empty input: give Chinese text to tag, e.g. attnkit tag "今天天气很好"')
    if not _HAN.search(text):
        raise AttnkitError(
            f"no Chinese characters in {text[:40]!r}: this tagger tags Chinese text "
            "(PKU tag set); Latin letters and digits are tagged only inside Chinese text"
        )
    return text.strip()


def segment(text: str, *, segmented: bool = False) -> list[str]:
    """Words of ``text``: split on whitespace if ``segmented``, else segmented by jieba.

    Raises:
        AttnkitError: see :func:`check_input`.
    """
    text = check_input(text)
    return text.split() if segmented else jieba_words(text)


def jieba_words(text: str) -> list[str]:
    """jieba's words of ``text`` (unchecked: any text), in the user's own characters."""
    import logging

    import jieba

    jieba.setLogLevel(logging.WARNING)
    norm = jieba_text(text)
    words, pos = [], 0
    for piece in jieba.lcut(norm):
        original = text[pos : pos + len(piece)]  # same length: report the user's characters
        pos += len(piece)
        if original.strip():
            words.append(original)
    return words


__all__ = ["JIEBA_TO_PKU", "check_input", "jieba_baseline", "jieba_words", "segment"]
