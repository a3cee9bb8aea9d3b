import math

import pytest

from attnkit import metrics
from attnkit.errors import AttnkitError


def test_bleu_hand_computed():
    # hyp "a b c d" vs ref "a b c e": p1=3/4, p2=2/3, p3=1/2, p4=0 -> exp smoothing in sacrebleu
    # gives p4 = 1/(2*1) (first zero count smoothed by 1/2^k with k=1 over 1 4-gram).
    expected = 100 * math.exp(
        (math.log(3 / 4) + math.log(2 / 3) + math.log(1 / 2) + math.log(1 / 2)) / 4
    )
    assert metrics.bleu(["a b c d"], ["a b c e"]) == pytest.approx(expected, rel=1e-6)
    assert metrics.bleu(["x y z w"], ["x y z w"]) == pytest.approx(100.0)


def test_chrf_identity_and_mismatch():
    assert metrics.chrf(["hello world"], ["hello world"]) == pytest.approx(100.0)
    assert metrics.chrf(["abc"], ["xyz"]) == pytest.approx(0.0)


def test_accuracy_f1():
    assert metrics.accuracy(["a", "b", "b"], ["a", "b", "c"]) == pytest.approx(2 / 3)
    per = metrics.f1_per_class(["a", "a", "b"], ["a", "b", "b"])
    assert per["a"] == pytest.approx((0.5, 1.0, 2 / 3))
    assert per["b"] == pytest.approx((1.0, 0.5, 2 / 3))
    assert metrics.macro_f1(["a", "a", "b"], ["a", "b", "b"]) == pytest.approx(2 / 3)


def test_mismatched_lengths_and_empty():
    with pytest.raises(AttnkitError, match="2 hypotheses but 1 references"):
        metrics.bleu(["a", "b"], ["a"])
    with pytest.raises(AttnkitError, match="no sentences"):
        metrics.accuracy([], [])


def test_bleu_signature_names_one_reference_and_13a():
    from attnkit.metrics import bleu_signature

    sig = bleu_signature()
    assert "nrefs:1" in sig and "tok:13a" in sig


def test_repeated_runs_and_copy_recall_by_hand():
    from attnkit.metrics import copy_recall, repeated_run_share

    assert repeated_run_share(["Si le l' l' l' l'", "a a a b", "ok"], run=4) == pytest.approx(1 / 3)
    out = copy_recall(
        ["Open %1 in {name} with Dask 2", "Save", "Run JupyterLab"],
        ["Ouvrir %1 dans {name} avec Dask 2", "Enregistrer", "Exécuter JupyterLab"],
        ["Ouvrir dans {name} avec Dask 2", "Enregistrer", "Lancer Jupyter"],
    )
    # placeholders shared by source and reference: %1, {name}; the output kept {name}
    # names: Dask, 2, JupyterLab; the output kept Dask and 2
    assert out == {"placeholders": 2, "placeholder_recall": 0.5, "names": 3, "name_recall": 2 / 3}
