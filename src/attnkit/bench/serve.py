"""``attnkit serve`` under load: a real uvicorn server, concurrent clients, batching vs not.

Starts ``attnkit serve`` on a translation run (default: the demo translator,
``<cache>/runs/demo``) in its own process on a free port of 127.0.0.1, sends a fixed number
of ``POST /api/translate`` requests from N concurrent clients (threads, one keep-alive
connection each, a timeout per request), with the Spanish verses (source side) of the run's
corpus' test split as inputs, cycled. At each client count (1, 4, 16, 64) it reports
requests/s (answered 200), p50 / p99 latency, the failed requests by status and the server's
peak resident memory (``VmRSS`` of ``/proc/<pid>/status``, sampled every 20 ms), once with
dynamic batching and once one request at a time (``--no-batching``), then the ratio
batching / one-at-a-time at each count. A last run puts more clients than its queue holds
(``--queue-size 8`` at 64 clients): the refused requests are 503s and the memory stays
bounded. The server and the load generator share the machine's cores; absolute figures are
noisy, the ratios are what count. Writes ``<out>/serve-<timestamp>.json`` and
``<out>/serve-latest.json``.

Example:
    $ attnkit bench serve                                 # the demo translator
    $ attnkit bench serve --model RUN --clients 1,4 --requests 50
"""

from __future__ import annotations

import argparse
import http.client
import itertools
import json
import math
import os
import socket
import subprocess
import sys
import tempfile
import threading
import time
import urllib.error
import urllib.request
from collections import Counter
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path

from attnkit.bench import report
from attnkit.errors import AttnkitError

STARTUP_SECONDS = 120  # a server that does not answer /healthz by then is an error


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="attnkit bench serve", description=__doc__.split("\n")[0])
    parser.add_argument(
        "--model", type=Path, default=None, help="translation run (default: cache/runs/demo)"
    )
    parser.add_argument(
        "--clients",
        type=report.positive_ints,
        default="1,4,16,64",
        help="comma-separated client counts",
    )
    parser.add_argument("--requests", type=int, default=200, help="requests at each count")
    parser.add_argument("--beam", type=int, default=None, help="beam size (default: the run's)")
    parser.add_argument("--timeout", type=float, default=120.0, help="seconds per request")
    parser.add_argument("--max-batch", type=int, default=32, help="the server's --max-batch")
    parser.add_argument("--batch-wait-ms", type=float, default=5.0, help="its --batch-wait-ms")
    parser.add_argument("--queue-size", type=int, default=256, help="its --queue-size")
    parser.add_argument(
        "--overload-clients", type=int, default=64, help="clients of the small-queue run (0: none)"
    )
    parser.add_argument("--overload-queue", type=int, default=8, help="its --queue-size")
    parser.add_argument("--out", type=Path, default=report.DEFAULT_OUT, help="folder for the JSON")
    return parser


def percentile(values: Sequence[float], q: float) -> float | None:
    """The nearest-rank ``q``-quantile (0 < q <= 1) of ``values``; None when there are none.

    Example:
        >>> percentile([4.0, 1.0, 3.0, 2.0], 0.5), percentile(list(range(1, 101)), 0.99)
        (2.0, 99)
    """
    if not values:
        return None
    ordered = sorted(values)
    return ordered[max(0, math.ceil(q * len(ordered)) - 1)]


def rss_mib(pid: int) -> float | None:
    """Resident memory of process ``pid`` in MiB (``VmRSS``); None where /proc cannot say."""
    try:
        with open(f"/proc/{pid}/status") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) / 1024  # kB
    except (OSError, ValueError):
        return None
    return None


@dataclass
class Server:
    """A running ``attnkit serve`` process: its pid, host, port and batching (``/api/info``)."""

    pid: int
    host: str
    port: int
    batching: dict | None


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@contextmanager
def serving(run_dir: Path, flags: Sequence[str]) -> Iterator[Server]:
    """``attnkit serve --model run_dir FLAGS`` on a free port, once ``/healthz`` answers;
    stopped on exit.

    Raises:
        AttnkitError: the server exits or does not answer within ``STARTUP_SECONDS``.
    """
    port = _free_port()
    cmd = [sys.executable, "-m", "attnkit.cli", "serve", "--model", str(run_dir)]
    cmd += ["--port", str(port), *flags]
    with tempfile.TemporaryFile("w+") as log:  # a file, not a pipe: nobody reads it meanwhile
        env = {k: v for k, v in os.environ.items() if k != "ATTNKIT_API_KEY"}  # open, local
        proc = subprocess.Popen(cmd, stdout=log, stderr=log, env=env)
        try:
            deadline = time.monotonic() + STARTUP_SECONDS
            while True:
                try:
                    with urllib.request.urlopen(f"http://127.0.0.1:{port}/healthz", timeout=5):
                        break
                except (urllib.error.URLError, ConnectionError):
                    if proc.poll() is not None or time.monotonic() > deadline:
                        log.seek(0)
                        raise AttnkitError(
                            f"attnkit serve {' '.join(flags)} did not come up: {log.read()[-2000:]}"
                        ) from None
                    time.sleep(0.2)
            with urllib.request.urlopen(f"http://127.0.0.1:{port}/api/info", timeout=30) as r:
                batching = json.load(r).get("batching")
            yield Server(proc.pid, "127.0.0.1", port, batching)
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _client(
    server: Server,
    bodies: Sequence[bytes],
    counter: Iterator[int],
    timeout: float,
    out: list[tuple[int | str, float]],
) -> None:
    """Send ``bodies[next(counter)]`` until the counter passes the end; (status, seconds) to
    ``out``. A timeout or a broken connection is a failure named after it; the next request
    opens a new connection."""
    conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
    headers = {"content-type": "application/json"}
    for i in counter:
        if i >= len(bodies):
            break
        start = time.perf_counter()
        try:
            conn.request("POST", "/api/translate", body=bodies[i], headers=headers)
            reply = conn.getresponse()
            reply.read()
            status: int | str = reply.status
        except (OSError, http.client.HTTPException) as e:
            status = "timeout" if isinstance(e, TimeoutError) else type(e).__name__
            conn.close()
            conn = http.client.HTTPConnection(server.host, server.port, timeout=timeout)
        out.append((status, time.perf_counter() - start))
    conn.close()


def load(server: Server, bodies: Sequence[bytes], clients: int, timeout: float) -> dict:
    """Every body once, from ``clients`` concurrent clients: throughput, latency, failures by
    status, the server's resident memory before and at its peak."""
    counter = itertools.count()  # shared: next() under the GIL hands each index out once
    done: list[tuple[int | str, float]] = []  # list.append is atomic
    idle = rss_mib(server.pid)
    peak, stop = idle, threading.Event()

    def sample() -> None:
        nonlocal peak
        while not stop.wait(0.02):
            now = rss_mib(server.pid)
            if now is not None and (peak is None or now > peak):
                peak = now

    sampler = threading.Thread(target=sample, daemon=True)
    sampler.start()
    threads = [
        threading.Thread(target=_client, args=(server, bodies, counter, timeout, done))
        for _ in range(clients)
    ]
    start = time.perf_counter()
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    seconds = time.perf_counter() - start
    stop.set()
    sampler.join()
    ok = [s for status, s in done if status == 200]
    failed = Counter(str(status) for status, _ in done if status != 200)
    return {
        "clients": clients,
        "requests": len(done),
        "ok": len(ok),
        "failed": dict(sorted(failed.items())),
        "seconds": round(seconds, 4),  # a level of a tiny test run can take 40 ms
        "requests_per_s": round(len(ok) / seconds, 2),
        "latency_ms": {
            q: None if (v := percentile(ok, p)) is None else round(1e3 * v, 1)
            for q, p in (("p50", 0.5), ("p99", 0.99))
        },
        "server_rss_mib": {
            "before": None if idle is None else round(idle, 1),
            "peak": None if peak is None else round(peak, 1),
        },
    }


def _inputs(run_dir: Path, requests: int, beam: int | None) -> tuple[str, list[bytes]]:
    """The run's corpus and ``requests`` request bodies: its test-split sources, cycled."""
    from attnkit.data.parallel import load_split
    from attnkit.tasks import get_task, task_of_run
    from attnkit.tasks.runs import CONFIG_FILE, load_run_config, run_folder

    task = task_of_run(run_dir)
    if task != "translate":
        raise AttnkitError(f"{run_dir} holds a {task!r} model; attnkit bench serve needs translate")
    corpus = load_run_config(get_task(task), run_folder(run_dir) / CONFIG_FILE).data.corpus
    texts = [src for src, _ in load_split(corpus, "test") if src.strip()]
    if not texts:
        raise AttnkitError(f"the test split of {corpus} has no sentences")
    options = {"allow_unknown": True} if beam is None else {"allow_unknown": True, "beam": beam}
    bodies = [
        json.dumps({"text": texts[i % len(texts)], **options}).encode() for i in range(requests)
    ]
    return corpus, bodies


def run(args: argparse.Namespace, clients: list[int]) -> dict:
    """Both modes at each client count, then the small-queue run; returns the JSON record."""
    from attnkit.paths import runs_dir

    run_dir = args.model or runs_dir() / "demo"
    corpus, bodies = _inputs(run_dir, args.requests, args.beam)
    common = ["--max-batch", str(args.max_batch), "--batch-wait-ms", str(args.batch_wait_ms)]
    modes = {
        "batching": [*common, "--queue-size", str(args.queue_size)],
        "one_at_a_time": ["--no-batching", "--queue-size", str(args.queue_size)],
    }
    levels = []
    for mode, flags in modes.items():
        with serving(run_dir, flags) as server:
            load(server, bodies[:3], 1, args.timeout)  # warm-up, not reported
            for n in clients:
                print(f"{mode}: {n} clients, {len(bodies)} requests", file=sys.stderr)
                level = load(server, bodies, n, args.timeout)
                levels.append({"mode": mode, "batching": server.batching, **level})
    by = {(lv["mode"], lv["clients"]): lv for lv in levels}
    ratios = [
        {
            "clients": n,
            "requests_per_s": _ratio(
                by["batching", n]["requests_per_s"], by["one_at_a_time", n]["requests_per_s"]
            ),
            "p50_latency": _ratio(
                by["batching", n]["latency_ms"]["p50"], by["one_at_a_time", n]["latency_ms"]["p50"]
            ),
        }
        for n in clients
    ]
    overload = None
    if args.overload_clients:
        flags = [*common, "--queue-size", str(args.overload_queue)]
        with serving(run_dir, flags) as server:
            load(server, bodies[:3], 1, args.timeout)
            print(f"overload: {args.overload_clients} clients", file=sys.stderr)
            overload = {
                "mode": "batching",
                "queue_size": args.overload_queue,
                "batching": server.batching,
                **load(server, bodies, args.overload_clients, args.timeout),
            }
    return {
        "model": str(run_dir),
        "corpus": corpus,
        "requests_per_level": len(bodies),
        "beam": args.beam,
        "timeout_s": args.timeout,
        "server": {
            "max_batch": args.max_batch,
            "batch_wait_ms": args.batch_wait_ms,
            "queue_size": args.queue_size,
        },
        "shared_cores": (
            f"the server and the load generator ran on the same {os.cpu_count()} cores: "
            "the clients' threads take CPU from the model"
        ),
        "levels": levels,
        "ratios": ratios,
        "overload": overload,
    }


def _ratio(a: float | None, b: float | None) -> float | None:
    return None if a is None or not b else round(a / b, 3)


def table(record: dict) -> list[str]:
    lines = [
        f"{record['model']} ({record['corpus']} test sources), {record['requests_per_level']} "
        f"requests per row; ratio = batching / one at a time; {record['shared_cores']}",
        f"{'mode':>14} {'clients':>7} {'req/s':>8} {'p50 ms':>8} {'p99 ms':>8} "
        f"{'peak MiB':>9} failed",
    ]
    rows = [*record["levels"], *([record["overload"]] if record["overload"] else [])]
    for lv in rows:
        mode = lv["mode"] + (f" q{lv['queue_size']}" if "queue_size" in lv else "")
        lat = lv["latency_ms"]
        lines.append(
            f"{mode:>14} {lv['clients']:>7} {lv['requests_per_s']:>8.2f} "
            f"{_num(lat['p50']):>8} {_num(lat['p99']):>8} "
            f"{_num(lv['server_rss_mib']['peak']):>9} {lv['failed'] or '-'}"
        )
    for r in record["ratios"]:
        lines.append(
            f"ratio at {r['clients']:>3} clients: requests/s {_num(r['requests_per_s'])}, "
            f"p50 latency {_num(r['p50_latency'])}"
        )
    return lines


def _num(value: float | None) -> str:
    return "-" if value is None else f"{value:g}"


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; returns the exit status (0, 1 on a user error, 2 on bad options)."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except SystemExit as exc:
        return int(exc.code or 0)
    clients = args.clients
    if args.requests < 1 or args.timeout <= 0 or args.overload_clients < 0:
        print(
            "error: --requests must be >= 1, --timeout > 0, --overload-clients >= 0",
            file=sys.stderr,
        )
        return 2
    started = datetime.now()
    try:
        record = run(args, clients)
    except AttnkitError as e:
        print(f"error: {e}", file=sys.stderr)
        return 1
    report.publish("serve", args.out, started, table(record), **record)
    return 0


__all__ = ["load", "main", "percentile", "rss_mib", "run", "serving", "table"]
