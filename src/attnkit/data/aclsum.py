"""Summarization: ACLSum, aspect-based one-sentence summaries of 250 ACL papers.

Source: the PyPI package ``aclsum==0.1.2`` (Takeshita et al., "ACLSum: A New Dataset for
Aspect-based Summarization of Scientific Publications", NAACL 2024), whose wheel ships
``aclsum/dataset/{train,val,test}.jsonl``: 100 / 50 / 100 papers. Each paper holds the
sentences of its abstract, introduction and conclusion (tokenized Penn-Treebank style:
``"paper , we"``, ``"( QA )"``, ``"ca n't"``), and for each of three aspects (*challenge*,
*approach*, *outcome*) the sentences an annotator highlighted and a one-sentence summary of
at most 25 words that the annotator then wrote from them.

One pair per (paper, aspect), so 300 / 150 / 300 pairs, the package's own split (``val`` is
``dev`` here):

- ``id``: the ACL Anthology id and the aspect, ``"P06-1112/challenge"``;
- ``document``: the sentences highlighted for that aspect, in the paper's order (abstract,
  introduction, conclusion), joined by spaces: the source text the summary was written from.
  (The whole abstract + introduction + conclusion, ~1,000 words, is the same for the three
  aspects of a paper, so a model that is not told the aspect could not tell them apart; the
  highlights, ~120-180 words, differ by aspect and fit a pointer-generator's source length.)
- ``summary``: the aspect's summary.

The Penn-Treebank spacing of the sentences is undone (:func:`untokenize_ptb`) so that documents
read like the summaries: ``"paper, we"``, ``"(QA)"``, ``"can't"``.

Example:
    >>> untokenize_ptb('In this paper , we ca n\\'t use " NER " ( named entities ) .')
    'In this paper, we can\\'t use "NER" (named entities).'
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

from attnkit import log
from attnkit.data.summaries import SPLITS, SummaryPair, detokenize, write_split
from attnkit.errors import AttnkitError

__all__ = ["ASPECTS", "REQUIREMENT", "build", "fetch", "paper_pairs", "untokenize_ptb"]

REQUIREMENT = "aclsum==0.1.2"
ASPECTS = ("challenge", "approach", "outcome")
SECTIONS = ("abstract", "introduction", "conclusion")
PACKAGE_SPLITS = {"train": "train", "dev": "val", "test": "test"}  # ours -> the package's
_CLITICS = {"n't", "'s", "'re", "'ve", "'ll", "'d", "'m", "'S", "N'T"}


def untokenize_ptb(sentence: str) -> str:
    """Undo Penn-Treebank tokenization: clitics rejoined, no space inside brackets and quotes
    or before punctuation (:func:`attnkit.data.summaries.detokenize`)."""
    tokens: list[str] = []
    for tok in sentence.split():
        if tok in _CLITICS and tokens:
            tokens[-1] += tok
        else:
            tokens.append(tok)
    return detokenize(tokens)


def paper_pairs(paper: dict[str, Any]) -> list[SummaryPair]:
    """The three ``(paper, aspect)`` pairs of one record of the package's jsonl files.

    Raises:
        AttnkitError: the record lacks a field or its highlights do not match its sentences.
    """
    try:
        pid = paper["id"]
        pairs = []
        for aspect in ASPECTS:
            picked = []
            for section in SECTIONS:
                sentences = paper["sentences"][section]
                labels = paper["highlights"][aspect][section]
                if len(sentences) != len(labels):
                    raise AttnkitError(
                        f"aclsum paper {pid}: {len(sentences)} {section} sentences but "
                        f"{len(labels)} {aspect} highlight labels"
                    )
                picked += [s for s, label in zip(sentences, labels, strict=True) if label]
            document = " ".join(untokenize_ptb(s) for s in picked)
            summary = " ".join(paper["summary"][aspect].split())
            if document and summary:
                pairs.append(SummaryPair(f"{pid}/{aspect}", document, summary))
        return pairs
    except (KeyError, TypeError) as e:
        raise AttnkitError(f"aclsum record {paper.get('id', '?')!r} lacks {e}") from None


def _mean_words(texts: list[str]) -> float:
    return sum(len(t.split()) for t in texts) / max(len(texts), 1)


def build(dataset_dir: str | Path, dest: str | Path) -> dict[str, int]:
    """Read the package's ``{train,val,test}.jsonl`` in ``dataset_dir``, write the corpus.

    Returns:
        The counts written to ``dest/README.txt``.

    Raises:
        AttnkitError: a split file is missing or a record is malformed.
    """
    dataset_dir, dest = Path(dataset_dir), Path(dest)
    counts: dict[str, int] = {}
    everything: list[SummaryPair] = []
    for split in SPLITS:
        path = dataset_dir / f"{PACKAGE_SPLITS[split]}.jsonl"
        if not path.is_file():
            raise AttnkitError(f"{REQUIREMENT} has no {path.name} (looked in {dataset_dir})")
        lines = [line for line in path.read_text(encoding="utf-8").splitlines() if line.strip()]
        pairs = [p for line in lines for p in paper_pairs(json.loads(line))]
        write_split(dest, split, pairs)
        counts[f"{split}_papers"] = len(lines)
        counts[f"{split}_pairs"] = len(pairs)
        everything += pairs
    readme = [
        "aclsum: ACLSum (Takeshita et al., NAACL 2024); the package is MIT-licensed.",
        f"Source: PyPI {REQUIREMENT}, aclsum/dataset/{{train,val,test}}.jsonl (val -> dev).",
        "Files: {train,dev,test}.jsonl, one {id, document, summary} a line.",
        "One pair per (paper, aspect); id: '<ACL Anthology id>/<aspect>'.",
        "Document: the sentences the annotator highlighted for the aspect (abstract,",
        "  introduction, conclusion, in order), Penn-Treebank spacing undone.",
        "Summary: the annotator's one-sentence summary of the aspect (<= 25 words).",
        "",
        *(f"{k}: {v}" for k, v in counts.items()),
        f"mean_words_document: {_mean_words([p.document for p in everything]):.1f}",
        f"mean_words_summary: {_mean_words([p.summary for p in everything]):.1f}",
        "",
    ]
    (dest / "README.txt").write_text("\n".join(readme), encoding="utf-8")
    return counts


def fetch(dest: Path) -> None:
    """Download the ``aclsum`` wheel with pip (not installed) and write the corpus into ``dest``.

    Raises:
        AttnkitError: pip cannot fetch the package, or it lacks its dataset files.
    """
    from attnkit.data.fetch import pip_download_extract

    with tempfile.TemporaryDirectory(prefix="attnkit-aclsum-") as tmp:
        root = pip_download_extract(REQUIREMENT, Path(tmp))
        counts = build(root / "aclsum" / "dataset", dest)
    log.info(f"  {sum(counts[f'{s}_pairs'] for s in SPLITS)} pairs: {counts}")
