"""Numbers and names through translation: how many reach the output, on modern sentences.

The Bible has no digits, so a translator trained on it meets "Tengo 3 gatos" as text it cannot
represent: an older run refuses it (or, with ``--allow-unknown``, drops the digits); a run
trained with placeholders (``data.placeholder_rate``) copies them. This benchmark translates
the 64 modern Spanish sentences of ``attnkit/data/resources/modern_es_en.tsv`` (dates, times,
amounts, counts, versions, phone numbers, addresses and names; English references written with
them, CC0) with each run's beam search and reports, per run:

- ``number_share``: the share of the sources' digit sequences (``9:30`` counts ``9`` and
  ``30``) found as digit sequences in the translation (:func:`number_share`);
- ``name_share``: the share of the names (capitalised words without digits) that source and
  reference share verbatim found in the translation (``María``, ``Madrid``, ``Python``);
- BLEU and chrF against the references;
- ``refused``: sentences the run refused (their translation counts as empty).

``--pairs FILE`` measures another set in the same format (``source<TAB>reference`` lines,
``#`` comments).

Example:
    $ attnkit bench passthrough --model RUN [--model RUN ...] [--allow-unknown]
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Sequence
from datetime import datetime
from importlib import resources
from pathlib import Path

from attnkit.bench.report import DEFAULT_OUT, publish
from attnkit.errors import AttnkitError
from attnkit.metrics import bleu, chrf, shared_names

MODERN_SET = "modern_es_en.tsv"
_DIGITS = re.compile(r"\d+")


def read_pairs(text: str, where: str) -> list[tuple[str, str]]:
    """``(source, reference)`` pairs from ``source<TAB>reference`` lines; empty lines and
    ``#`` comments are skipped.

    Raises:
        AttnkitError: a line without exactly one tab, or no pair at all (``where`` names the
            file in the message).

    Example:
        >>> read_pairs("# a comment\\nuno 2\\tone 2\\n", "x.tsv")
        [('uno 2', 'one 2')]
    """
    pairs = []
    for number, line in enumerate(text.splitlines(), 1):
        if not line.strip() or line.startswith("#"):
            continue
        fields = line.split("\t")
        if len(fields) != 2 or not all(f.strip() for f in fields):
            raise AttnkitError(f"{where} line {number}: expected source<TAB>reference")
        pairs.append((fields[0], fields[1]))
    if not pairs:
        raise AttnkitError(f"{where} holds no source<TAB>reference line")
    return pairs


def modern_pairs() -> list[tuple[str, str]]:
    """The ``(Spanish, English)`` pairs of the committed modern set.

    Example:
        >>> modern_pairs()[0]
        ('Tengo 3 gatos y 2 perros.', 'I have 3 cats and 2 dogs.')
    """
    text = resources.files("attnkit.data").joinpath("resources", MODERN_SET).read_text("utf-8")
    return read_pairs(text, MODERN_SET)


def number_share(sources: Sequence[str], hyps: Sequence[str]) -> tuple[int, float]:
    """How many digit sequences the sources hold, and the share found in their hypotheses.

    Each sequence counts once per occurrence; a hypothesis holds as many copies as it has
    (``3 y 3`` needs two ``3``); ``3`` is not found inside ``30``.

    Example:
        >>> number_share(["a las 9:30, 3 y 3", "sin números"], ["at 9:30, 3 and three", ""])
        (4, 0.75)
    """
    total = found = 0
    for src, hyp in zip(sources, hyps, strict=True):
        wanted, got = Counter(_DIGITS.findall(src)), Counter(_DIGITS.findall(hyp))
        total += sum(wanted.values())
        found += sum(min(n, got[seq]) for seq, n in wanted.items())
    return total, found / max(total, 1)


def name_share(
    sources: Sequence[str], refs: Sequence[str], hyps: Sequence[str]
) -> tuple[int, float]:
    """How many names (capitalised words without digits found verbatim in a source and its
    reference, :func:`attnkit.metrics.shared_names`) there are, and the share the hypotheses
    kept.

    Example:
        >>> name_share(["Ana vive en Madrid"], ["Ana lives in Madrid"], ["Anne lives in Madrid"])
        (2, 0.5)
    """
    total = found = 0
    for src, ref, hyp in zip(sources, refs, hyps, strict=True):
        names = {n for n in shared_names(src, ref) if not any(c.isdigit() for c in n)}
        total += len(names)
        found += len(names & shared_names(src, hyp))
    return total, found / max(total, 1)


def measure(run_dir: Path, pairs: Sequence[tuple[str, str]], *, allow_unknown: bool) -> dict:
    """Translate ``pairs`` with a run (its beam); the scores of the module docstring."""
    from attnkit.tasks import open_run

    run = open_run(run_dir, task="translate")
    translator = run.task.translator(run)
    sources, refs = [s for s, _ in pairs], [r for _, r in pairs]
    accepted = []
    for i, src in enumerate(sources):
        try:
            translator.check_input(src, allow_unknown)
        except AttnkitError:
            continue
        accepted.append(i)
    hyps = [""] * len(sources)
    if accepted:
        results = run.task.predict(run, [sources[i] for i in accepted], allow_unknown=allow_unknown)
        for i, result in zip(accepted, results, strict=True):
            hyps[i] = result["translation"]
    numbers, numbers_kept = number_share(sources, hyps)
    names, names_kept = name_share(sources, refs, hyps)
    return {
        "arch": run.config.arch,
        "placeholders": translator.uses_placeholders,
        "sentences": len(sources),
        "refused": len(sources) - len(accepted),
        "numbers": numbers,
        "number_share": round(numbers_kept, 4),
        "names": names,
        "name_share": round(names_kept, 4),
        "bleu": round(bleu(hyps, refs), 2),
        "chrf": round(chrf(hyps, refs), 2),
        "beam_size": translator.decode.beam_size,
        "translations": hyps,
    }


def table(results: dict[str, dict]) -> list[str]:
    """One row per run."""
    lines = [
        f"{'run':<40}{'arch':>12}{'placeholders':>13}{'refused':>8}{'numbers %':>10}"
        f"{'names %':>8}{'BLEU':>7}{'chrF':>7}",
        "-" * 105,
    ]
    for name, r in results.items():
        lines.append(
            f"{name[-40:]:<40}{r['arch']:>12}{'yes' if r['placeholders'] else 'no':>13}"
            f"{r['refused']:>8}{100 * r['number_share']:>10.1f}{100 * r['name_share']:>8.1f}"
            f"{r['bleu']:>7.2f}{r['chrf']:>7.2f}"
        )
    return lines


def main(argv: list[str] | None = None) -> int:
    """Measure each run; returns the exit status."""
    parser = argparse.ArgumentParser(
        prog="attnkit bench passthrough", description=__doc__.split("\n")[0]
    )
    parser.add_argument("--model", type=Path, action="append", required=True, help="a run")
    parser.add_argument(
        "--allow-unknown", action="store_true", help="translate unseen characters as <unk>"
    )
    parser.add_argument(
        "--pairs", type=Path, default=None, help="source<TAB>reference lines (default: modern set)"
    )
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="folder for the JSON")
    args = parser.parse_args(argv)
    started = datetime.now()
    if args.pairs is None:
        pairs = modern_pairs()
    else:
        try:
            pairs = read_pairs(args.pairs.read_text(encoding="utf-8"), str(args.pairs))
        except (OSError, UnicodeDecodeError) as exc:
            raise AttnkitError(f"cannot read {args.pairs}: {exc}") from exc
    names = [d.name for d in args.model]
    keys = names if len(set(names)) == len(names) else [str(d) for d in args.model]
    results = {  # keyed by run folder name (the full path when two names repeat)
        key: {"model": str(run_dir), **measure(run_dir, pairs, allow_unknown=args.allow_unknown)}
        for key, run_dir in zip(keys, args.model, strict=True)
    }
    publish(
        "passthrough",
        args.out,
        started,
        table(results),
        pairs=str(args.pairs or MODERN_SET),
        sentences=len(pairs),
        allow_unknown=args.allow_unknown,
        runs=results,
    )
    return 0


__all__ = [
    "MODERN_SET",
    "main",
    "measure",
    "modern_pairs",
    "name_share",
    "number_share",
    "read_pairs",
    "table",
]
