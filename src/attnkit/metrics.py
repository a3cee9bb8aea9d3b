"""Standard metrics: BLEU and chrF (sacrebleu), ROUGE (rouge-score, optional), accuracy, F1.

Example:
    >>> round(bleu(["the cat sat on the mat"], ["the cat sat on the mat"]), 1)
    100.0
    >>> accuracy([1, 2, 3], [1, 2, 0])
    0.6666666666666666
"""

from __future__ import annotations

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
