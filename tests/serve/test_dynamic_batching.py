"""Dynamic batching in attnkit serve: batched answers equal predict() on each text alone, options
are never mixed, a bad text fails alone, a full queue answers 503 while accepted requests finish.

Concurrent requests go through the real app (httpx over ASGI, one event loop, asyncio.gather);
a batch is forced by ``max_batch`` = the number of good requests and a long ``wait_ms`` (the
worker stops waiting as soon as the batch is full), then checked in ``batch_sizes``.
"""

import asyncio
import threading

import httpx
import pytest
import torch

from attnkit.config import load_config
from attnkit.errors import AttnkitError
from attnkit.serve import create_app
from attnkit.serve.batching import DynamicBatcher, Overloaded
from attnkit.tasks import get_task, open_run, train

TASK = get_task("translate")
TEXTS = ["uno dos", "tres", "cinco seis uno dos", "seis", "dos tres cuatro", "uno uno cinco"]
LONG_WAIT_MS = 20_000  # never reached: each batch here fills up first


def _client(app) -> httpx.AsyncClient:
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://serve")


def post_all(app, path: str, bodies: list[dict]) -> list[httpx.Response]:
    """POST every body at once (concurrent requests in one event loop), replies in order."""

    async def go():
        async with _client(app) as client:
            return await asyncio.gather(*(client.post(path, json=b) for b in bodies))

    return asyncio.run(go())


@pytest.fixture
def make_app(tiny_translate_run):
    """``make_app(**create_app_options)`` for the tiny translator; batchers closed afterwards."""
    run, _, _ = tiny_translate_run
    apps = []

    def make(**options):
        apps.append(create_app(run, **options))
        return apps[-1]

    yield make
    for app in apps:
        app.state.batcher.close(timeout=60)


@pytest.fixture(scope="module")
def opened(tiny_translate_run):
    return open_run(tiny_translate_run[0])


def assert_same_as_alone(body: dict, alone: dict, text_key: str = "translation") -> None:
    """A served answer equals ``predict([text], attention=True)`` on its text alone."""
    assert body[text_key] == alone[text_key]
    assert body["score"] == pytest.approx(alone["score"], abs=1e-5)
    assert body["source_tokens"] == alone["source_tokens"]
    shape = len(body["attention"]), len(body["source_tokens"])  # (Lt, Ls), 4 decimals
    torch.testing.assert_close(
        torch.tensor(body["attention"]).view(shape),
        alone["attention"][: shape[0]].float(),
        atol=1e-4,
        rtol=0,
    )
    assert [h[text_key] for h in body["n_best"]] == [h[text_key] for h in alone["n_best"]]
    assert [h["score"] for h in body["n_best"]] == pytest.approx(
        [h["score"] for h in alone["n_best"]], abs=1e-5
    )


# ----- the HTTP API, batched ------------------------------------------------------------------
def test_concurrent_requests_are_decoded_in_one_batch_and_equal_each_alone(make_app, opened):
    app = make_app(max_batch=len(TEXTS), wait_ms=LONG_WAIT_MS)
    replies = post_all(app, "/api/translate", [{"text": t} for t in TEXTS])
    assert app.state.batcher.batch_sizes == {len(TEXTS): 1}  # one batch, one predict call
    for text, reply in zip(TEXTS, replies, strict=True):
        assert reply.status_code == 200, reply.text
        body = reply.json()
        alone = TASK.predict(opened, [text], attention=True)[0]
        assert_same_as_alone(body, alone)
        assert body["target_tokens"] == alone["target_tokens"]
    assert replies[0].json()["translation"] == "one two"


def test_without_batching_requests_are_decoded_one_at_a_time(make_app, opened):
    app = make_app(batching=False, max_batch=len(TEXTS), wait_ms=LONG_WAIT_MS)
    replies = post_all(app, "/api/translate", [{"text": t} for t in TEXTS[:3]])
    assert app.state.batcher.batch_sizes == {1: 3}  # never waits, never batches
    for text, reply in zip(TEXTS, replies, strict=False):
        assert_same_as_alone(reply.json(), TASK.predict(opened, [text], attention=True)[0])


def test_requests_with_different_options_are_not_mixed(make_app, opened, monkeypatch):
    calls = []

    def spy(run, texts, **options):
        calls.append((list(texts), options["beam"], options["n_best"]))
        return type(TASK).predict(TASK, run, texts, **options)

    monkeypatch.setattr(TASK, "predict", spy)
    bodies = [
        {"text": "uno dos", "beam": 1},
        {"text": "tres", "beam": 2},
        {"text": "cinco seis", "beam": 1},
        {"text": "dos", "beam": 2, "n_best": 2},
        {"text": "seis", "beam": 2},
    ]
    app = make_app(max_batch=len(bodies), wait_ms=LONG_WAIT_MS)
    replies = post_all(app, "/api/translate", bodies)
    assert app.state.batcher.batch_sizes == {5: 1}
    assert sorted(calls) == sorted(
        [(["uno dos", "cinco seis"], 1, 1), (["tres", "seis"], 2, 1), (["dos"], 2, 2)]
    )
    monkeypatch.undo()
    for body, reply in zip(bodies, replies, strict=True):
        options = {k: v for k, v in body.items() if k != "text"}
        alone = TASK.predict(opened, [body["text"]], attention=True, **options)[0]
        assert_same_as_alone(reply.json(), alone)


def test_a_bad_text_gets_its_422_and_the_others_their_answer(make_app, opened):
    bad = [
        ({"text": "dos zzz"}, "never seen 'zzz'"),
        ({"text": "   "}, "empty input"),
        ({"text": "dos " * 300}, "over the limit"),
        ({"text": "uno", "beam": 2, "n_best": 3}, "cannot exceed the beam size"),
    ]
    good = [{"text": t} for t in TEXTS[:3]]
    bodies = [good[0], bad[0][0], good[1], bad[1][0], bad[2][0], good[2], bad[3][0]]
    app = make_app(max_batch=len(good), wait_ms=LONG_WAIT_MS)
    replies = dict(zip(map(str, bodies), post_all(app, "/api/translate", bodies), strict=True))
    assert app.state.batcher.batch_sizes == {len(good): 1}  # the bad ones never queued
    for body, message in bad:
        reply = replies[str(body)]
        assert reply.status_code == 422 and message in reply.json()["detail"]
    for body in good:
        reply = replies[str(body)]
        assert reply.status_code == 200, reply.text
        assert_same_as_alone(reply.json(), TASK.predict(opened, [body["text"]], attention=True)[0])


def test_a_full_queue_answers_503_and_accepted_requests_finish(make_app, opened, monkeypatch):
    entered, gate = threading.Event(), threading.Event()

    def slow(run, texts, **options):  # holds the worker until the test opens the gate
        entered.set()
        assert gate.wait(60)
        return type(TASK).predict(TASK, run, texts, **options)

    monkeypatch.setattr(TASK, "predict", slow)
    app = make_app(max_batch=1, wait_ms=0, queue_size=2)
    later = ["dos", "tres", "cuatro", "cinco"]

    async def go():
        async with _client(app) as client:
            first = asyncio.create_task(client.post("/api/translate", json={"text": "uno dos"}))
            assert await asyncio.to_thread(entered.wait, 60)  # the worker holds "uno dos"
            rest = [
                asyncio.create_task(client.post("/api/translate", json={"text": t})) for t in later
            ]
            finished = asyncio.as_completed(rest, timeout=60)
            refused = [await next(finished) for _ in range(2)]  # 2 queue, 2 are turned away
            pending = {text: t for text, t in zip(later, rest, strict=True) if not t.done()}
            health = await client.get("/healthz")  # answers while the model is busy
            gate.set()
            accepted = await asyncio.gather(*pending.values())
            return refused, list(pending), health, await first, accepted

    refused, waiting, health, first, accepted = asyncio.run(go())
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    for reply in refused:
        assert reply.status_code == 503
        assert "busy (2 requests waiting)" in reply.json()["detail"]
        assert int(reply.headers["retry-after"]) >= 1
    assert len(waiting) == 2  # still queued when the others were refused
    monkeypatch.undo()
    assert first.status_code == 200 and first.json()["translation"] == "one two"
    for text, reply in zip(waiting, accepted, strict=True):
        assert reply.status_code == 200, reply.text
        assert_same_as_alone(reply.json(), TASK.predict(opened, [text], attention=True)[0])
    assert app.state.batcher.batch_sizes == {1: 3}


def test_n_best_returns_k_sorted_distinct_hypotheses_equal_to_predict(make_app, opened):
    app = make_app(max_batch=2, wait_ms=LONG_WAIT_MS)
    bodies = [{"text": "uno dos tres", "beam": 4, "n_best": 3}, {"text": "seis", "n_best": 3}]
    replies = post_all(app, "/api/translate", bodies)
    for body, reply in zip(bodies, replies, strict=True):
        assert reply.status_code == 200, reply.text
        got = reply.json()
        options = {k: v for k, v in body.items() if k != "text"}
        alone = TASK.predict(opened, [body["text"]], attention=True, **options)[0]
        assert_same_as_alone(got, alone)
        texts = [h["translation"] for h in got["n_best"]]
        scores = [h["score"] for h in got["n_best"]]
        assert len(texts) == len(set(texts)) == 3
        assert scores == sorted(scores, reverse=True)
        assert (texts[0], scores[0]) == (got["translation"], got["score"])
    assert app.state.batcher.batch_sizes == {2: 1}  # beam 4 and beam 3 (widened): two calls


def test_healthz_and_info_show_the_batching(make_app):
    app = make_app(max_batch=8, wait_ms=2.5, queue_size=16)

    async def go():
        async with _client(app) as client:
            return await client.get("/healthz"), await client.get("/api/info")

    health, info = asyncio.run(go())
    assert health.status_code == 200 and health.json() == {"status": "ok"}
    assert info.json()["batching"] == {"max_batch": 8, "wait_ms": 2.5, "queue_size": 16}
    off = make_app(batching=False, queue_size=16)
    assert off.state.batching.limits() == (1, 0.0)


@pytest.mark.parametrize(
    "options",
    [
        {"max_batch": 0},
        {"queue_size": 0},
        {"wait_ms": -1.0},
        {"wait_ms": float("nan")},
        {"wait_ms": float("inf")},
    ],
)
def test_bad_batching_settings_are_a_clear_error(tiny_translate_run, options):
    with pytest.raises(AttnkitError, match="batching needs max_batch >= 1"):
        create_app(tiny_translate_run[0], **options)


# ----- summarization: the same batcher ---------------------------------------------------------
@pytest.fixture
def tiny_summarizer(tiny_summaries, tmp_path):
    """A small summarizer trained one epoch (its quality does not matter here)."""
    overrides = ["data.min_count=1", "model.emb_dim=16", "model.hidden_dim=32", "train.epochs=1"]
    overrides += ["train.eval_every=0", "train.bf16=false", "train.progress=false"]
    cfg = load_config(get_task("summarize").config_class, None, overrides)
    train("summarize", cfg, tmp_path / "summarizer")
    return tmp_path / "summarizer"


def test_summaries_batched_with_n_best_equal_each_alone(tiny_summarizer):
    docs = [
        "klmno7 is a small plugin for music . It converts music files quickly .",
        "a tool",
        "zzqx1 is a small daemon for mail . It reads mail files quickly . It shows maps .",
    ]
    app = create_app(tiny_summarizer, max_batch=len(docs), wait_ms=LONG_WAIT_MS)
    try:
        bodies = [{"text": d, "n_best": 2} for d in docs] + [{"text": " "}]
        replies = post_all(app, "/api/summarize", bodies)
        assert app.state.batcher.batch_sizes == {len(docs): 1}
    finally:
        app.state.batcher.close(timeout=60)
    assert replies[-1].status_code == 422 and "empty input" in replies[-1].json()["detail"]
    summarize, run = get_task("summarize"), open_run(tiny_summarizer)
    for doc, reply in zip(docs, replies, strict=False):
        assert reply.status_code == 200, reply.text
        body = reply.json()
        alone = summarize.predict(run, [doc], attention=True, n_best=2)[0]
        assert_same_as_alone(body, alone, text_key="summary")
        assert body["p_gen"] == pytest.approx(alone["p_gen"], abs=1e-4)
        assert body["copied"] == alone["copied"] and len(body["n_best"]) == 2


# ----- the batcher alone ------------------------------------------------------------------------
def test_the_batcher_groups_by_options_in_arrival_order():
    calls = []

    def predict(texts, *, shout):
        calls.append((list(texts), shout))
        return [t.upper() if shout else t for t in texts]

    batcher = DynamicBatcher(predict, max_batch=4, wait_ms=LONG_WAIT_MS)
    jobs = [batcher.submit(t, shout=s) for t, s in [("a", 1), ("b", 0), ("c", 1), ("d", 0)]]
    assert [j.result(timeout=60) for j in jobs] == ["A", "b", "C", "d"]
    batcher.close(timeout=60)
    assert calls == [(["a", "c"], 1), (["b", "d"], 0)] and batcher.batch_sizes == {4: 1}


def test_a_text_predict_refuses_fails_alone_and_a_crash_reaches_every_caller():
    def predict(texts):
        if "crash" in texts:
            raise ZeroDivisionError("a bug")
        if "bad" in texts:
            raise AttnkitError("bad text")
        return [t * 2 for t in texts]

    batcher = DynamicBatcher(predict, max_batch=3, wait_ms=LONG_WAIT_MS)
    jobs = [batcher.submit(t) for t in ("ok", "bad", "fine")]
    assert jobs[0].result(timeout=60) == "okok" and jobs[2].result(timeout=60) == "finefine"
    with pytest.raises(AttnkitError, match="bad text"):
        jobs[1].result(timeout=60)
    crashed = [batcher.submit(t) for t in ("x", "crash", "y")]
    for job in crashed:
        with pytest.raises(ZeroDivisionError):
            job.result(timeout=60)
    again = [batcher.submit(t) for t in ("p", "q", "r")]
    assert [j.result(timeout=60) for j in again] == ["pp", "qq", "rr"]  # the worker lives on
    batcher.close(timeout=60)


def test_a_full_batcher_refuses_and_close_finishes_what_was_queued():
    entered, gate = threading.Event(), threading.Event()

    def predict(texts):
        entered.set()
        return [gate.wait(60) and t for t in texts]

    batcher = DynamicBatcher(predict, max_batch=1, wait_ms=0, queue_size=2)
    held = batcher.submit("held")
    assert entered.wait(60)  # the worker holds "held" at the gate; the queue is empty
    queued = [batcher.submit("q1"), batcher.submit("q2")]
    with pytest.raises(Overloaded, match="busy") as refused:
        batcher.submit("q3")
    assert refused.value.retry_after >= 1
    gate.set()
    batcher.close(timeout=60)
    assert [j.result(timeout=0) for j in (held, *queued)] == ["held", "q1", "q2"]
    with pytest.raises(RuntimeError, match="closed"):
        batcher.submit("late")
