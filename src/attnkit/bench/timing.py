"""Timing two callables side by side, interleaved, so machine noise hits both alike.

Example:
    >>> ours, peer = time_pair(lambda: sum(range(9)), lambda: sum(range(99)), warmup=1, repeats=3)
    >>> len(ours), len(peer)
    (3, 3)
"""

from __future__ import annotations

import time
from collections.abc import Callable


def time_pair(
    ours: Callable[[], object], peer: Callable[[], object], *, warmup: int, repeats: int
) -> tuple[list[float], list[float]]:
    """Time two callables interleaved (AB BA AB ...) after ``warmup`` pairs.

    Returns:
        ``(ours_seconds, peer_seconds)``, ``repeats`` each.
    """
    for _ in range(warmup):
        ours()
        peer()
    t_ours: list[float] = []
    t_peer: list[float] = []
    for i in range(repeats):
        order = [(ours, t_ours), (peer, t_peer)]
        if i % 2:
            order.reverse()
        for fn, sink in order:
            t0 = time.perf_counter()
            fn()
            sink.append(time.perf_counter() - t0)
    return t_ours, t_peer


__all__ = ["time_pair"]
