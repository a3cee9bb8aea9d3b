"""Fashion-MNIST: fetch from Debian, read the IDX files with numpy, split deterministically.

Fashion-MNIST (Xiao, Rasul and Vollgraf, 2017; MIT licence) is 70,000 grayscale 28x28 images
of Zalando articles in 10 classes: the 60,000 training images and the official 10,000 test
images. Debian ships them as ``dataset-fashion-mnist``; :func:`fetch` unpacks that package
(``apt-get download`` + ``dpkg-deb -x``, no root needed) and keeps the four ``*-ubyte.gz``
files. No torchvision: :func:`read_idx` parses the IDX format directly.

Splits (see :func:`load_split`):

- ``train``: 55,000 of the 60,000 training images,
- ``validation``: the other 5,000, exactly 500 per class, chosen by a fixed integer hash of
  the image index (the same on every machine and numpy version),
- ``test``: the official 10,000 test images.

Example:
    >>> import numpy as np, tempfile, pathlib
    >>> path = pathlib.Path(tempfile.mkdtemp()) / "x-idx3-ubyte.gz"
    >>> write_idx(path, np.zeros((2, 28, 28), dtype=np.uint8))
    >>> read_idx(path).shape
    (2, 28, 28)
"""

from __future__ import annotations

import gzip
import shutil
import tempfile
import zlib
from pathlib import Path

import numpy as np

from attnkit.errors import AttnkitError

NAME = "fashion-mnist"
"""The registry name: ``attnkit data get fashion-mnist``."""

CLASSES: tuple[str, ...] = (
    "T-shirt/top",
    "Trouser",
    "Pullover",
    "Dress",
    "Coat",
    "Sandal",
    "Shirt",
    "Sneaker",
    "Bag",
    "Ankle boot",
)
"""Class names in label order (0..9), as in the dataset's README."""

FILES: dict[str, tuple[str, str]] = {
    "train": ("train-images-idx3-ubyte.gz", "train-labels-idx1-ubyte.gz"),
    "test": ("t10k-images-idx3-ubyte.gz", "t10k-labels-idx1-ubyte.gz"),
}
"""The (images, labels) files of each official split."""

SPLITS = ("train", "validation", "test")
VALIDATION_PER_CLASS = 500
"""Images per class held out of the official training set: 10 x 500 = 5,000."""

MEAN = 0.2860
STD = 0.3530
"""Pixel mean and standard deviation of the 60k training images, scaled to [0, 1]."""

_PACKAGE = "dataset-fashion-mnist"
_PACKAGE_DIR = Path("usr/share/datasets/fashion-mnist")

# IDX type codes (third byte of the magic number) -> big-endian numpy dtypes.
_IDX_DTYPES: dict[int, np.dtype] = {
    0x08: np.dtype(np.uint8),
    0x09: np.dtype(np.int8),
    0x0B: np.dtype(">i2"),
    0x0C: np.dtype(">i4"),
    0x0D: np.dtype(">f4"),
    0x0E: np.dtype(">f8"),
}


def fetch(dest: Path) -> None:
    """Fill ``dest`` with the four Fashion-MNIST ``*-ubyte.gz`` files from Debian.

    Called by ``attnkit.data.registry`` with a fresh temporary folder.

    Args:
        dest: an existing, empty folder.

    Raises:
        AttnkitError: the package cannot be downloaded, or a file is missing or unreadable.
    """
    from attnkit.data.fetch import apt_download_extract

    with tempfile.TemporaryDirectory() as tmp:
        root = apt_download_extract([_PACKAGE], Path(tmp)) / _PACKAGE_DIR
        for images, labels in FILES.values():
            for name in (images, labels):
                src = root / name
                if not src.is_file():
                    raise AttnkitError(
                        f"the Debian package {_PACKAGE!r} has no {_PACKAGE_DIR / name}"
                    )
                shutil.copy2(src, dest / name)
    for split in FILES:  # fail now, not at training time, if a file is damaged
        _read_pair(dest, split)


def _open(path: Path) -> bytes:
    try:
        raw = path.read_bytes()
    except FileNotFoundError:
        raise AttnkitError(f"no such IDX file: {path}") from None
    if raw[:2] == b"\x1f\x8b":  # gzip magic
        try:
            return gzip.decompress(raw)
        except (OSError, EOFError, zlib.error) as e:
            raise AttnkitError(f"{path}: corrupt gzip data ({e})") from None
    return raw


def read_idx(path: str | Path) -> np.ndarray:
    """Read an IDX file (optionally gzip-compressed) into a numpy array.

    The format (LeCun's MNIST page): a 4-byte magic number ``0x00 0x00 <type> <ndim>``, then
    ``ndim`` big-endian uint32 sizes, then the data in row-major order, big-endian.

    Args:
        path: an ``.idx*`` file or its ``.gz``.

    Returns:
        An array of shape ``(d0, d1, ...)`` in native byte order (uint8 for images and labels).

    Raises:
        AttnkitError: the file is missing, not IDX, truncated, or has trailing bytes.
    """
    path = Path(path)
    data = _open(path)
    if len(data) < 4 or data[0] != 0 or data[1] != 0:
        raise AttnkitError(
            f"{path}: not an IDX file (bad magic number {data[:4].hex() or 'empty'})"
        )
    code, ndim = data[2], data[3]
    if code not in _IDX_DTYPES:
        raise AttnkitError(
            f"{path}: unknown IDX data type 0x{code:02x}; valid: "
            + ", ".join(f"0x{c:02x}" for c in _IDX_DTYPES)
        )
    if ndim == 0:
        raise AttnkitError(f"{path}: IDX file with 0 dimensions")
    header = 4 + 4 * ndim
    if len(data) < header:
        raise AttnkitError(f"{path}: truncated IDX header ({len(data)} bytes)")
    dims = tuple(int(d) for d in np.frombuffer(data, dtype=">u4", count=ndim, offset=4))
    dtype = _IDX_DTYPES[code]
    expected = int(np.prod(dims, dtype=np.int64)) * dtype.itemsize
    if len(data) - header != expected:
        raise AttnkitError(
            f"{path}: IDX header says {dims} of {dtype.name} ({expected} bytes) but the file has "
            f"{len(data) - header} data bytes (truncated or corrupt)"
        )
    array = np.frombuffer(data, dtype=dtype, offset=header).reshape(dims)
    return array.astype(dtype.newbyteorder("="), copy=True)


def write_idx(path: str | Path, array: np.ndarray) -> None:
    """Write ``array`` as an IDX file (gzip-compressed when ``path`` ends in ``.gz``).

    The inverse of :func:`read_idx`; used to make test fixtures.
    """
    path = Path(path)
    codes = {dt.newbyteorder("="): code for code, dt in _IDX_DTYPES.items()}
    native = np.dtype(array.dtype).newbyteorder("=")
    if native not in codes or array.ndim == 0:
        raise ValueError(f"cannot write dtype {array.dtype} / ndim {array.ndim} as IDX")
    code = codes[native]
    payload = bytes([0, 0, code, array.ndim])
    payload += np.asarray(array.shape, dtype=">u4").tobytes()
    payload += np.ascontiguousarray(array, dtype=_IDX_DTYPES[code]).tobytes()
    path.write_bytes(gzip.compress(payload, mtime=0) if path.suffix == ".gz" else payload)


def _read_pair(root: Path, official: str) -> tuple[np.ndarray, np.ndarray]:
    image_file, label_file = FILES[official]
    images, labels = read_idx(root / image_file), read_idx(root / label_file)
    if images.ndim != 3 or labels.ndim != 1 or len(images) != len(labels):
        raise AttnkitError(
            f"{root}: {official} images {images.shape} and labels {labels.shape} do not match "
            "(expected (N, H, W) and (N,))"
        )
    if images.dtype != np.uint8 or labels.dtype != np.uint8:
        raise AttnkitError(f"{root}: {official} files must hold uint8 data")
    if labels.size and labels.max() >= len(CLASSES):
        raise AttnkitError(f"{root}: label {labels.max()} out of range 0..{len(CLASSES) - 1}")
    return images, labels.astype(np.int64)


def validation_indices(labels: np.ndarray, per_class: int = VALIDATION_PER_CLASS) -> np.ndarray:
    """Indices of the held-out validation images: ``per_class`` of each class, sorted.

    Within each class the images are ranked by a fixed multiplicative hash of their index
    (Knuth's 2654435761 mod 2^32), so the split depends on nothing but the data.
    """
    index = np.arange(len(labels), dtype=np.uint64)
    key = (index * np.uint64(2654435761)) % np.uint64(2**32)
    chosen = []
    for c in np.unique(labels):
        members = np.flatnonzero(labels == c)
        chosen.append(members[np.argsort(key[members], kind="stable")[:per_class]])
    return np.sort(np.concatenate(chosen)) if chosen else np.zeros(0, dtype=np.int64)


def load_split(
    split: str, root: str | Path | None = None, *, validation_per_class: int = VALIDATION_PER_CLASS
) -> tuple[np.ndarray, np.ndarray]:
    """Load one split as numpy arrays.

    Args:
        split: ``"train"`` (55k), ``"validation"`` (5k) or ``"test"`` (10k).
        root: folder holding the four ``*-ubyte.gz`` files; default: the cached dataset,
            fetched on first use (``attnkit data get fashion-mnist``).
        validation_per_class: images per class moved from the official training set to
            ``validation``.

    Returns:
        ``(images, labels)``: uint8 ``(N, 28, 28)`` and int64 ``(N,)``.

    Raises:
        AttnkitError: unknown split, or missing / corrupt files.
    """
    if split not in SPLITS:
        raise AttnkitError(f"unknown split {split!r}; valid: {', '.join(SPLITS)}")
    if root is None:
        from attnkit.data.registry import ensure

        root = ensure(NAME)
    root = Path(root)
    if split == "test":
        return _read_pair(root, "test")
    images, labels = _read_pair(root, "train")
    held_out = validation_indices(labels, validation_per_class)
    if split == "validation":
        return images[held_out], labels[held_out]
    keep = np.ones(len(labels), dtype=bool)
    keep[held_out] = False
    return images[keep], labels[keep]
