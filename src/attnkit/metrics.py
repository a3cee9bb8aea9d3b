"""Standard metrics: BLEU and chrF (sacrebleu), ROUGE (rouge-score, optional), accuracy, F1.

Example:
    >>> round(bleu(["the cat sat on the mat"], ["the cat sat on the mat"]), 1)
    100.0
    >>> accuracy([1, 2, 3], [1, 2, 0])
    0.6666666666666666
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Hashable, Sequence

import sacrebleu

from attnkit.errors import AttnkitError


def _check_parallel(hyps: Sequence, refs: Sequence) -> None:
    if len(hyps) != len(refs):
        raise AttnkitError(f"{len(hyps)} hypotheses but {len(refs)} references")
    if not hyps:
        raise AttnkitError("no sentences to score")


def bleu(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus BLEU (sacrebleu defaults: 13a tokenisation, exp smoothing), 0-100."""
    _check_parallel(hyps, refs)
    return float(sacrebleu.corpus_bleu(list(hyps), [list(refs)]).score)


def chrf(hyps: Sequence[str], refs: Sequence[str]) -> float:
    """Corpus chrF (sacrebleu defaults), 0-100."""
    _check_parallel(hyps, refs)
    return float(sacrebleu.corpus_chrf(list(hyps), [list(refs)]).score)


def bleu_signature() -> str:
    """The sacrebleu signature of :func:`bleu` (one reference per sentence), for reports."""
    metric = sacrebleu.BLEU()
    metric.corpus_score(["x"], [["x"]])  # sacrebleu >= 2.5 fills nrefs in the signature here
    return str(metric.get_signature())


def rouge(hyps: Sequence[str], refs: Sequence[str]) -> dict[str, float]:
    """Mean ROUGE-1/2/L F1 (0-100) with stemming, via the rouge-score package."""
    _check_parallel(hyps, refs)
    try:
        from rouge_score import rouge_scorer
    except ImportError:
        raise AttnkitError("ROUGE needs the rouge-score package: pip install rouge-score") from None
    scorer = rouge_scorer.RougeScorer(["rouge1", "rouge2", "rougeL"], use_stemmer=True)
    totals: Counter[str] = Counter()
    for h, r in zip(hyps, refs, strict=True):
        for name, score in scorer.score(r, h).items():
            totals[name] += score.fmeasure
    return {name: 100 * v / len(hyps) for name, v in totals.items()}


def accuracy(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> float:
    """Fraction of positions where ``pred`` equals ``gold``."""
    _check_parallel(pred, gold)
    return sum(p == g for p, g in zip(pred, gold, strict=True)) / len(gold)


def f1_per_class(
    pred: Sequence[Hashable], gold: Sequence[Hashable]
) -> dict[Hashable, tuple[float, float, float]]:
    """Per-class ``(precision, recall, f1)``."""
    _check_parallel(pred, gold)
    tp: Counter = Counter()
    n_pred: Counter = Counter(pred)
    n_gold: Counter = Counter(gold)
    for p, g in zip(pred, gold, strict=True):
        if p == g:
            tp[g] += 1
    out = {}
    for c in set(n_pred) | set(n_gold):
        prec = tp[c] / n_pred[c] if n_pred[c] else 0.0
        rec = tp[c] / n_gold[c] if n_gold[c] else 0.0
        out[c] = (prec, rec, 2 * prec * rec / (prec + rec) if prec + rec else 0.0)
    return out


def macro_f1(pred: Sequence[Hashable], gold: Sequence[Hashable]) -> float:
    """Unweighted mean of the per-class F1 over the classes seen in gold or predictions."""
    per_class = f1_per_class(pred, gold)
    return sum(f for _, _, f in per_class.values()) / len(per_class)


def repeated_run_share(texts: Sequence[str], run: int = 4) -> float:
    """Share of ``texts`` in which one word appears ``run`` or more times in a row.

    The symptom of a looping decoder ("l' l' l' l' ...").

    Example:
        >>> repeated_run_share(["a b b b b", "a b a b", "c c"], run=3)
        0.3333333333333333
    """

    def looping(text: str) -> bool:
        words = text.split()
        return any(len(set(words[i : i + run])) == 1 for i in range(len(words) - run + 1))

    return sum(looping(t) for t in texts) / max(len(texts), 1)


def _ngrams(tokens: Sequence[str], n: int) -> list[tuple[str, ...]]:
    return [tuple(tokens[i : i + n]) for i in range(len(tokens) - n + 1)]


def repeated_ngram_share(token_lists: Sequence[Sequence[str]], n: int = 3) -> float:
    """Percentage of outputs in which some ``n``-gram occurs twice or more.

    The repetition that coverage is meant to remove ("the library the library ...").

    Example:
        >>> repeated_ngram_share([["a", "b", "c", "a", "b", "c"], ["a", "b", "c", "d"]], n=3)
        50.0
    """
    repeated = sum(len(set(g := _ngrams(t, n))) < len(g) for t in token_lists)
    return 100 * repeated / max(len(token_lists), 1)


def novel_ngram_share(
    outputs: Sequence[Sequence[str]], sources: Sequence[Sequence[str]], n: int = 1
) -> float:
    """Percentage of the outputs' ``n``-grams that do not occur in their source (how
    abstractive a summary is; 0 = every n-gram copied). Case-insensitive.

    Example:
        >>> round(novel_ngram_share([["a", "new", "tool"]], [["A", "tool", "for", "x"]], n=1), 2)
        33.33
    """
    _check_parallel(outputs, sources)
    novel = total = 0
    for out, src in zip(outputs, sources, strict=True):
        seen = set(_ngrams([w.lower() for w in src], n))
        grams = _ngrams([w.lower() for w in out], n)
        novel += sum(g not in seen for g in grams)
        total += len(grams)
    return 100 * novel / max(total, 1)


_PLACEHOLDER = re.compile(r"%\d+|%[sd]|\{[^{}\s]*\}")
_WORD = re.compile(r"[^\s.,;:!?()«»\"“”]+")


def shared_names(source: str, reference: str) -> set[str]:
    """The "names" of :func:`copy_recall`: words found verbatim in both texts that are
    capitalised or contain a digit (placeholders such as ``%1`` are not names).

    Example:
        >>> sorted(shared_names("Abrió 3 puertas en Roma.", "He opened 3 doors in Roma."))
        ['3', 'Roma']
    """
    return {
        w
        for w in set(_WORD.findall(source)) & set(_WORD.findall(reference))
        if not _PLACEHOLDER.fullmatch(w) and (w[:1].isupper() or any(c.isdigit() for c in w))
    }


def copy_recall(
    sources: Sequence[str], refs: Sequence[str], hyps: Sequence[str]
) -> dict[str, float | int]:
    """How well a translation keeps what must pass through unchanged.

    Items that appear verbatim in both a source and its reference must be copied: placeholders
    (``%1``, ``{name}``, ``%s``) and capitalised words or words with digits (product names such
    as ``JupyterLab``, ``Dask``). Returns, for each kind, how many there are and the share of
    them found in the hypothesis.

    Example:
        >>> copy_recall(["Open %1 in JupyterLab"], ["Ouvrir %1 dans JupyterLab"],
        ...             ["Ouvrir %1 dans Jupyter"])
        {'placeholders': 1, 'placeholder_recall': 1.0, 'names': 1, 'name_recall': 0.0}
    """
    _check_parallel(hyps, refs)
    counts = {"placeholders": [0, 0], "names": [0, 0]}
    for src, ref, hyp in zip(sources, refs, hyps, strict=True):
        for kind, items in (
            ("placeholders", set(_PLACEHOLDER.findall(src)) & set(_PLACEHOLDER.findall(ref))),
            ("names", shared_names(src, ref)),
        ):
            counts[kind][0] += len(items)
            got = (
                set(_PLACEHOLDER.findall(hyp))
                if kind == "placeholders"
                else set(_WORD.findall(hyp))
            )
            counts[kind][1] += len(items & got)
    return {
        "placeholders": counts["placeholders"][0],
        "placeholder_recall": counts["placeholders"][1] / max(counts["placeholders"][0], 1),
        "names": counts["names"][0],
        "name_recall": counts["names"][1] / max(counts["names"][0], 1),
    }
