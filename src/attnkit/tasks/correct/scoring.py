"""How well a corrector does on sentences with injected errors, per kind of error.

Every system (the memory network, the baselines, "leave as is") returns one token list per
sentence, aligned with the input tokens; tokens are compared in lookup form (lower case,
``'`` for ``’``), so restoring capitalisation never counts as a change. For each kind of
error, ``nonword`` and ``realword``:

- ``recall``: errors flagged (the system changed the token) / errors;
- ``precision``: errors flagged / (errors flagged + clean tokens of that kind changed), where
  a clean confusion-set word changed is a real-word false alarm and any other clean token
  changed a non-word false alarm;
- ``accuracy``: errors turned into the right word / errors (correction accuracy);
- ``clean_changed``: clean tokens of that kind changed / clean tokens of that kind.

``clean_changed`` at the top is the share of all clean tokens changed (names are the usual
victims), and ``tokens_per_second`` the throughput when the time is given.

Example:
    >>> from attnkit.data.correction import Example
    >>> ex = Example(["Thier", "dog", "is", "there"], ["Their", "dog", "is", "there"],
    ...              ["nonword", "clean", "clean", "clean"], [""] + [" "] * 3 + [""])
    >>> m = score([ex], [["Their", "dig", "is", "there"]], seconds=2.0)
    >>> m["nonword"]["accuracy"], m["nonword"]["precision"], m["clean_changed"]
    (1.0, 0.5, 0.3333333333333333)
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from attnkit.data.correction import Example, confusion_partners, normalize
from attnkit.errors import AttnkitError

__all__ = ["ERROR_KINDS", "score"]

ERROR_KINDS = ("nonword", "realword")


def _ratio(a: int, b: int) -> float:
    return a / b if b else 0.0


def score(
    examples: Sequence[Example],
    predictions: Sequence[Sequence[str]],
    *,
    seconds: float | None = None,
) -> dict[str, Any]:
    """Detection precision / recall, correction accuracy and clean tokens changed, per kind.

    Raises:
        AttnkitError: predictions not aligned with the examples' tokens.
    """
    if len(predictions) != len(examples):
        raise AttnkitError(f"{len(predictions)} predictions for {len(examples)} sentences")
    confusable = confusion_partners()
    n = {k: {"errors": 0, "flagged": 0, "corrected": 0, "clean": 0, "false_alarms": 0}
         for k in ERROR_KINDS}  # fmt: skip
    tokens = 0
    for ex, pred in zip(examples, predictions, strict=True):
        if len(pred) != len(ex.tokens):
            raise AttnkitError(f"a prediction of {len(pred)} tokens for {len(ex.tokens)}")
        tokens += len(ex.tokens)
        for tok, want, kind, got in zip(ex.tokens, ex.target, ex.kinds, pred, strict=True):
            changed = normalize(got) != normalize(tok)
            if kind == "clean":
                group = n["realword" if normalize(tok) in confusable else "nonword"]
                group["clean"] += 1
                group["false_alarms"] += changed
            else:
                group = n[kind]
                group["errors"] += 1
                group["flagged"] += changed
                group["corrected"] += normalize(got) == normalize(want)
    out: dict[str, Any] = {}
    for kind, c in n.items():
        out[kind] = {
            "precision": _ratio(c["flagged"], c["flagged"] + c["false_alarms"]),
            "recall": _ratio(c["flagged"], c["errors"]),
            "accuracy": _ratio(c["corrected"], c["errors"]),
            "clean_changed": _ratio(c["false_alarms"], c["clean"]),
            **c,
        }
    clean = sum(c["clean"] for c in n.values())
    out["clean_changed"] = _ratio(sum(c["false_alarms"] for c in n.values()), clean)
    out["tokens"] = tokens
    out["sentences"] = len(examples)
    if seconds is not None:
        out["seconds"] = seconds
        out["tokens_per_second"] = tokens / seconds if seconds > 0 else 0.0
    return out
