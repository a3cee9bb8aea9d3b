"""Shared test setup: one thread per worker (pytest-xdist runs two), fixed seeds."""

import os
from pathlib import Path

import numpy as np
import pytest
import torch

torch.set_num_threads(1)

FIXTURES = Path(__file__).parent / "data" / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test's cache under a temporary ATTNKIT_HOME, never the user's."""
    monkeypatch.setenv("ATTNKIT_HOME", str(tmp_path_factory.mktemp("attnkit_home")))
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory):
    """A tiny Fashion-MNIST in IDX files: 60 train + 20 test images, a class-coded bright bar."""
    from attnkit.data import fashion_mnist as fm

    root = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("test", 20)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):  # a bright bar whose row depends on the class
            images[i, 2 + 2 * c : 4 + 2 * c, 4:24] = 220
        fm.write_idx(root / fm.FILES[split][0], images)
        fm.write_idx(root / fm.FILES[split][1], labels)
    return root


TINY_TAGGER = [
    "model.word_dim=8",
    "model.char_dim=4",
    "model.char_channels=8",
    "model.lstm_hidden=8",
    "model.num_heads=2",
    "model.ffn_dim=16",
    "data.min_word_count=1",
    "data.batch_tokens=40",
    "train.progress=false",
]


@pytest.fixture
def tiny_pku(monkeypatch):
    """The PKU fixture as train = dev = test split; returns overrides for a tiny tagger."""
    from pathlib import Path

    from attnkit.data import pku
    from attnkit.tasks import tag

    sents = pku.read_corpus(Path(__file__).parent / "data" / "fixtures" / "pku_sample.txt")
    monkeypatch.setattr(tag, "_splits", lambda cfg: {"train": sents, "dev": sents, "test": sents})
    return list(TINY_TAGGER)


os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def digits_root(tmp_path_factory):
    """Real handwritten digits as a tiny Fashion-MNIST: 1,397 train + 400 test IDX images.

    The 8x8 UCI digits shipped by scikit-learn (``tests/data/fixtures/digits.csv.gz``), each
    pixel repeated 3x3 (24x24), zero-padded to 28x28 and scaled from 0..16 to 0..255.
    """
    from attnkit.data import fashion_mnist as fm

    raw = np.loadtxt(FIXTURES / "digits.csv.gz", delimiter=",", dtype=np.int64)  # (1797, 65)
    images = np.kron(raw[:, :64].reshape(-1, 8, 8), np.ones((3, 3), dtype=np.int64))
    images = np.pad(images * 255 // 16, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)  # (N, 28, 28)
    labels = raw[:, 64].astype(np.uint8)
    root = tmp_path_factory.mktemp("digits")
    for split, rows in (("train", slice(0, 1397)), ("test", slice(1397, None))):
        fm.write_idx(root / fm.FILES[split][0], images[rows])
        fm.write_idx(root / fm.FILES[split][1], labels[rows])
    return root
