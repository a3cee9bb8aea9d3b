"""Fetchers of the registry's entries that are not corpora: a font and a peer's code.

Example:
    >>> CJK_FONT_PACKAGE, JOEYNMT_PACKAGES[0]
    ('fonts-wqy-microhei', 'joeynmt==2.3.0')
"""

from __future__ import annotations

from pathlib import Path

from attnkit.data.fetch import apt_download_extract, pip_download_extract

CJK_FONT_PACKAGE = "fonts-wqy-microhei"
JOEYNMT_PACKAGES = (
    "joeynmt==2.3.0",
    "importlib_metadata==6.8.0",
    "zipp==3.17.0",
    "subword-nmt==0.3.8",
)
"""JoeyNMT 2.3.0's wheel and the three small packages its model code imports."""


def fetch_cjk_font(dest: Path) -> None:
    """``cjk-font``: Debian's WenQuanYi Micro Hei, so plots can label axes in Chinese."""
    apt_download_extract([CJK_FONT_PACKAGE], dest)


def fetch_joeynmt(dest: Path) -> None:
    """``joeynmt``: the peer of ``attnkit bench translate``, its wheels unpacked (not installed)."""
    for requirement in JOEYNMT_PACKAGES:
        pip_download_extract(requirement, dest)


__all__ = ["CJK_FONT_PACKAGE", "JOEYNMT_PACKAGES", "fetch_cjk_font", "fetch_joeynmt"]
