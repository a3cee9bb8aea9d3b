"""Dynamic batching for ``attnkit serve``: concurrent requests decoded in one ``predict`` call.

A seq2seq task's ``predict`` takes a list of texts and decodes them in length-sorted padded
batches, so ten sentences cost far less than ten calls. :class:`DynamicBatcher` gathers the
texts of concurrent requests: requests wait in a bounded queue; one worker thread (the only
one that runs the model) takes the first waiting request, waits at most ``wait_ms`` for more,
up to ``max_batch`` texts, splits them by their options (beam, n-best ...) and calls
``predict`` once per group. Each caller gets a :class:`concurrent.futures.Future` (an HTTP
route awaits it with :func:`asyncio.wrap_future`, holding no thread). A full queue refuses the
request at once (:class:`Overloaded`, HTTP 503) instead of growing without bound; requests
already queued still complete.

Inputs should be checked before :meth:`DynamicBatcher.submit` so that a bad text is refused
alone; a group whose ``predict`` still refuses a text (:class:`~attnkit.errors.AttnkitError`)
is decoded again one text at a time, so only that text fails.

Example:
    >>> batcher = DynamicBatcher(lambda texts, upper: [t.upper() if upper else t for t in texts])
    >>> jobs = [batcher.submit(t, upper=u) for t, u in [("a", True), ("b", False), ("c", True)]]
    >>> [job.result(timeout=10) for job in jobs]
    ['A', 'b', 'C']
    >>> batcher.close()
"""

from __future__ import annotations

import math
import queue
import threading
import time
from collections import Counter
from collections.abc import Callable, Hashable
from concurrent.futures import Future
from dataclasses import dataclass, field
from typing import Any

from attnkit.errors import AttnkitError

Predict = Callable[..., list[Any]]
"""``predict(texts, **options)``: one result per text, in order."""


def check_limits(max_batch: int, wait_ms: float, queue_size: int) -> None:
    """Raise :class:`~attnkit.errors.AttnkitError` unless max_batch, queue_size >= 1 and
    0 <= wait_ms < inf."""
    if max_batch < 1 or queue_size < 1 or not 0 <= wait_ms < math.inf:  # NaN fails too
        raise AttnkitError(
            f"batching needs max_batch >= 1, queue_size >= 1 and a finite wait_ms >= 0; got "
            f"{max_batch}, {queue_size} and {wait_ms}"
        )


class Overloaded(Exception):
    """The request queue is full (HTTP 503); ``retry_after``: seconds to wait, estimated."""

    def __init__(self, queue_size: int, retry_after: int) -> None:
        super().__init__(
            f"the server is busy ({queue_size} requests waiting); retry in {retry_after} s"
        )
        self.retry_after = retry_after


@dataclass(frozen=True)
class BatchSettings:
    """How ``attnkit serve`` batches seq2seq requests; ``enabled=False``: one at a time.

    Example:
        >>> BatchSettings(enabled=False).limits()  # (max_batch, wait_ms): no batching
        (1, 0.0)
    """

    enabled: bool = True
    max_batch: int = 32  # texts decoded together at most
    wait_ms: float = 5.0  # how long the first request waits for company
    queue_size: int = 256  # requests waiting at most; more get 503

    def __post_init__(self) -> None:
        check_limits(self.max_batch, self.wait_ms, self.queue_size)

    def limits(self) -> tuple[int, float]:
        """``(max_batch, wait_ms)`` in force: ``(1, 0)`` when batching is off."""
        return (self.max_batch, self.wait_ms) if self.enabled else (1, 0.0)

    def batcher(self, predict: Predict) -> DynamicBatcher:
        """A :class:`DynamicBatcher` around ``predict`` with these settings."""
        max_batch, wait_ms = self.limits()
        return DynamicBatcher(
            predict, max_batch=max_batch, wait_ms=wait_ms, queue_size=self.queue_size
        )


@dataclass
class _Job:
    text: str
    options: tuple[tuple[str, Hashable], ...]  # sorted (name, value) pairs: the group key
    future: Future = field(default_factory=Future)


class DynamicBatcher:
    """Queue texts from many threads or coroutines; one worker thread decodes them in groups.

    Args:
        predict: ``predict(texts, **options) -> results`` (one per text, in order), called
            only from the worker thread.
        max_batch: texts per ``predict`` call at most (1: one request at a time).
        wait_ms: how long the worker waits for more requests after the first one.
        queue_size: requests that may wait; :meth:`submit` raises :class:`Overloaded` beyond.

    ``batch_sizes`` counts the batches taken from the queue by size (before the split by
    options): ``{3: 2}`` = two batches of three requests.

    Raises:
        AttnkitError: ``max_batch`` or ``queue_size`` below 1, ``wait_ms`` below 0 or
            not finite.
    """

    def __init__(
        self, predict: Predict, *, max_batch: int = 32, wait_ms: float = 5.0, queue_size: int = 256
    ) -> None:
        check_limits(max_batch, wait_ms, queue_size)
        self.predict = predict
        self.max_batch, self.wait_s, self.queue_size = max_batch, wait_ms / 1000, queue_size
        self.batch_sizes: Counter[int] = Counter()
        self._queue: queue.Queue[_Job | None] = queue.Queue(maxsize=queue_size)
        self._seconds_per_batch = 0.0  # of the last batch, for Retry-After
        self._closed = False
        self._lock = threading.Lock()
        self._worker = threading.Thread(target=self._work, name="attnkit-batcher", daemon=True)
        self._worker.start()

    def submit(self, text: str, **options: Hashable) -> Future:
        """Queue one text; its future holds ``predict([text, ...], **options)``'s result.

        Raises:
            Overloaded: ``queue_size`` requests are already waiting.
            RuntimeError: the batcher is closed.
        """
        job = _Job(text, tuple(sorted(options.items())))
        with self._lock:  # never after close's end-of-queue mark
            if self._closed:
                raise RuntimeError("the batcher is closed")
            try:
                self._queue.put_nowait(job)
            except queue.Full:
                batches_ahead = self.queue_size / self.max_batch
                wait = max(1, math.ceil(batches_ahead * self._seconds_per_batch))
                raise Overloaded(self.queue_size, wait) from None
        return job.future

    def close(self, timeout: float | None = None) -> None:
        """Finish the queued requests, then stop the worker (idempotent)."""
        with self._lock:
            if not self._closed:
                self._closed = True
                self._queue.put(None)  # waits while the queue is full: the worker drains it
        self._worker.join(timeout)

    # ----- the worker thread ------------------------------------------------------------------
    def _work(self) -> None:
        last = False
        while not last:
            batch, last = self._collect()
            start = time.perf_counter()
            if batch:
                self.batch_sizes[len(batch)] += 1
            groups: dict[tuple, list[_Job]] = {}
            for job in batch:
                if job.future.set_running_or_notify_cancel():  # False: the caller gave up
                    groups.setdefault(job.options, []).append(job)
            for options, jobs in groups.items():
                self._run(options, jobs)
            self._seconds_per_batch = time.perf_counter() - start

    def _collect(self) -> tuple[list[_Job], bool]:
        """The next batch (the first waiting job, then more for up to ``wait_s``) and whether
        the end-of-queue mark of :meth:`close` came after it."""
        first = self._queue.get()
        if first is None:
            return [], True
        batch = [first]
        deadline = time.monotonic() + self.wait_s
        while len(batch) < self.max_batch:
            try:
                job = self._queue.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if job is None:
                return batch, True
            batch.append(job)
        return batch, False

    def _run(self, options: tuple[tuple[str, Hashable], ...], jobs: list[_Job]) -> None:
        """``predict`` on one group of jobs with the same options; results into their futures."""
        try:
            results = self.predict([job.text for job in jobs], **dict(options))
            if len(results) != len(jobs):
                raise RuntimeError(f"predict gave {len(results)} results for {len(jobs)} texts")
        except AttnkitError as e:
            if len(jobs) > 1:  # a text the caller did not check: fail it alone
                for job in jobs:
                    self._run(options, [job])
            else:
                jobs[0].future.set_exception(e)
            return
        except Exception as e:  # a bug: every caller hears of it, the worker lives on
            for job in jobs:
                job.future.set_exception(e)
            return
        for job, result in zip(jobs, results, strict=True):
            job.future.set_result(result)


__all__ = ["BatchSettings", "DynamicBatcher", "Overloaded", "check_limits"]
