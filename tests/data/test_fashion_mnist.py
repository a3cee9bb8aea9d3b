"""Fashion-MNIST: the IDX reader on fixtures written here, the split, and fetch (offline)."""

import gzip
from pathlib import Path

import numpy as np
import pytest

from attnkit.data import fashion_mnist as fm
from attnkit.errors import AttnkitError


def _write_fixture(root: Path, n_train: int = 60, n_test: int = 20) -> None:
    rng = np.random.default_rng(0)
    for split, n in (("train", n_train), ("test", n_test)):
        images, labels = fm.FILES[split]
        fm.write_idx(root / images, rng.integers(0, 256, (n, 28, 28), dtype=np.uint8))
        fm.write_idx(root / labels, (np.arange(n) % 10).astype(np.uint8))


@pytest.mark.parametrize("suffix", [".gz", ""])
@pytest.mark.parametrize(
    "array",
    [
        np.arange(2 * 3 * 4, dtype=np.uint8).reshape(2, 3, 4),
        np.array([3, 1, 4, 1, 5], dtype=np.uint8),
        np.array([[-7, 1 << 20]], dtype=np.int32),
        np.linspace(-1, 1, 6, dtype=np.float32).reshape(3, 2),
    ],
)
def test_idx_round_trip(tmp_path, array, suffix):
    path = tmp_path / f"x-idx{suffix}"
    fm.write_idx(path, array)
    out = fm.read_idx(path)
    assert out.dtype == array.dtype.newbyteorder("=")
    np.testing.assert_array_equal(out, array)


def test_idx_reader_matches_the_format_by_hand(tmp_path):
    # magic 0x00000801 (uint8, 1 dim), size 3, data: the MNIST label-file layout.
    raw = bytes([0, 0, 8, 1, 0, 0, 0, 3, 7, 8, 9])
    (tmp_path / "labels-idx1-ubyte.gz").write_bytes(gzip.compress(raw))
    np.testing.assert_array_equal(fm.read_idx(tmp_path / "labels-idx1-ubyte.gz"), [7, 8, 9])


@pytest.mark.parametrize(
    ("payload", "message"),
    [
        (b"", "bad magic number"),
        (b"\x01\x02\x08\x01", "bad magic number"),
        (bytes([0, 0, 0x42, 1, 0, 0, 0, 1, 0]), "unknown IDX data type 0x42"),
        (bytes([0, 0, 8, 3, 0, 0]), "truncated IDX header"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 5, 1, 2]), "truncated or corrupt"),
        (bytes([0, 0, 8, 1, 0, 0, 0, 1, 1, 2]), "truncated or corrupt"),  # trailing byte
    ],
)
def test_corrupt_idx_is_a_clear_error(tmp_path, payload, message):
    path = tmp_path / "bad-idx"
    path.write_bytes(payload)
    with pytest.raises(AttnkitError, match=message):
        fm.read_idx(path)


def test_corrupt_gzip_and_missing_file_are_clear_errors(tmp_path):
    good = gzip.compress(bytes([0, 0, 8, 1, 0, 0, 0, 1, 5]))
    (tmp_path / "cut.gz").write_bytes(good[:-6])
    with pytest.raises(AttnkitError, match="corrupt gzip"):
        fm.read_idx(tmp_path / "cut.gz")
    with pytest.raises(AttnkitError, match="no such IDX file"):
        fm.read_idx(tmp_path / "missing.gz")


def test_splits_are_disjoint_balanced_and_deterministic(tmp_path):
    _write_fixture(tmp_path, n_train=60)
    train_x, _ = fm.load_split("train", tmp_path, validation_per_class=2)
    dev_x, dev_y = fm.load_split("validation", tmp_path, validation_per_class=2)
    test_x, test_y = fm.load_split("test", tmp_path, validation_per_class=2)
    assert train_x.shape == (40, 28, 28) and dev_x.shape == (20, 28, 28)
    assert test_x.shape == (20, 28, 28) and test_y.dtype == np.int64
    assert np.bincount(dev_y).tolist() == [2] * 10
    all_x = fm.read_idx(tmp_path / fm.FILES["train"][0])
    held = fm.validation_indices(np.arange(60) % 10, 2)
    np.testing.assert_array_equal(dev_x, all_x[held])
    rest = np.setdiff1d(np.arange(60), held)
    np.testing.assert_array_equal(train_x, all_x[rest])
    np.testing.assert_array_equal(fm.validation_indices(np.arange(60) % 10, 2), held)


def test_unknown_split_and_mismatched_files(tmp_path):
    _write_fixture(tmp_path)
    with pytest.raises(AttnkitError, match="unknown split 'dev'; valid: train, validation, test"):
        fm.load_split("dev", tmp_path)
    fm.write_idx(tmp_path / fm.FILES["test"][1], np.zeros(3, dtype=np.uint8))
    with pytest.raises(AttnkitError, match="do not match"):
        fm.load_split("test", tmp_path)


def test_fetch_copies_the_debian_files(tmp_path, monkeypatch):
    def fake_apt(packages, dest):
        assert packages == ["dataset-fashion-mnist"]
        root = dest / "usr/share/datasets/fashion-mnist"
        root.mkdir(parents=True)
        _write_fixture(root)
        return dest

    monkeypatch.setattr("attnkit.data.fetch.apt_download_extract", fake_apt)
    dest = tmp_path / "out"
    dest.mkdir()
    fm.fetch(dest)
    assert sorted(p.name for p in dest.iterdir()) == sorted(
        name for pair in fm.FILES.values() for name in pair
    )
    assert fm.load_split("test", dest)[0].shape == (20, 28, 28)
