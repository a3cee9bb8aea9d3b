"""The HTTP API and the attention explorer page for a trained run (``attnkit serve``).

One process serves one run folder: a translation model (Bahdanau attention: which source
pieces each target piece looked at) or a tagger (self-attention between words, per layer and
head). ``GET /`` is the explorer page, ``GET /api/info`` describes the model, and
``POST /api/translate`` or ``POST /api/tag`` return the prediction with its attention weights
as JSON. Input a user can get wrong (empty text, unseen characters, a missing layer) is a 422
with ``{"detail": "<what is wrong>"}``; the OpenAPI page is at ``/docs``.

Example:
    $ attnkit serve --model ~/.cache/attnkit/runs/demo --port 8000
    $ curl -s localhost:8000/api/translate -H 'content-type: application/json' \\
        -d '{"text": "Dios es amor."}'
    {"translation": "...", "score": ..., "source_tokens": [...], "target_tokens": [...],
     "attention": [[...], ...]}
"""

from __future__ import annotations

import threading
from importlib import resources
from pathlib import Path

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from attnkit.errors import AttnkitError
from attnkit.tasks import task_of_run

SERVED_TASKS = ("translate", "tag")


class TranslateRequest(BaseModel):
    """A sentence in the model's source language."""

    text: str
    beam: int | None = Field(None, ge=1, le=32, description="beam size (default: the run's)")
    allow_unknown: bool = Field(False, description="translate unseen characters as <unk>")


class TranslateResponse(BaseModel):
    """The best translation and its attention: ``attention[i][j]`` = target i on source j."""

    translation: str
    score: float
    source_tokens: list[str]
    target_tokens: list[str]
    attention: list[list[float]]  # (Lt, Ls)


class TagRequest(BaseModel):
    """Chinese text, raw (jieba segments it) or already segmented with spaces."""

    text: str
    segmented: bool = False
    layer: int = Field(-1, description="self-attention block (negative counts from the last)")


class TagResponse(BaseModel):
    """Words, their PKU tags, and one block's self-attention: ``attention[h][i][j]``."""

    words: list[str]
    tags: list[str]
    layer: int
    layers: int
    attention: list[list[list[float]]]  # (H, L, L)


def _rounded(weights) -> list:
    """A weight tensor as nested lists of floats rounded to 4 decimals (smaller JSON)."""
    return weights.float().mul(1e4).round().div(1e4).tolist()


def _add_translate_routes(app: FastAPI, run_dir: Path, lock: threading.Lock) -> dict:
    from attnkit.tasks.translate import Translator, attention_view

    tr = Translator.load(run_dir)

    @app.post("/api/translate", response_model=TranslateResponse)
    def translate(req: TranslateRequest) -> TranslateResponse:
        """Translate one sentence; the attention of the best hypothesis comes with it."""
        ids = tr.check_input(req.text, req.allow_unknown, 'send "allow_unknown": true')
        with lock:
            hyp = tr.translate_ids([ids], beam_size=req.beam)[0][0]
        src, tgt, weights = attention_view(tr, req.text, hyp)
        return TranslateResponse(
            translation=tr.tgt_tok.decode(hyp.tokens),
            score=hyp.score,
            source_tokens=src,
            target_tokens=tgt,
            attention=_rounded(weights),
        )

    return {"beam_size": tr.decode.beam_size, "params": _params(tr.model)}


def _add_tag_routes(app: FastAPI, run_dir: Path, lock: threading.Lock) -> dict:
    from attnkit.tasks.tag import load_run, segment, self_attention, tag_words

    model, vocab, _ = load_run(run_dir)

    @app.post("/api/tag", response_model=TagResponse)
    def tag(req: TagRequest) -> TagResponse:
        """Tag Chinese text; one block's self-attention (every head) comes with it."""
        words = segment(req.text, segmented=req.segmented)
        with lock:
            weights = self_attention(model, vocab, words, layer=req.layer)  # (H, L, L)
            tags = tag_words(model, vocab, words)
        layers = len(model.blocks)
        return TagResponse(
            words=words,
            tags=tags,
            layer=req.layer % layers,
            layers=layers,
            attention=_rounded(weights),
        )

    return {"layers": len(model.blocks), "params": _params(model)}


def _params(model) -> int:
    return sum(p.numel() for p in model.parameters())


def create_app(run_dir: str | Path) -> FastAPI:
    """A FastAPI app serving the translation or tagging run in ``run_dir``.

    Raises:
        AttnkitError: no run there, a corrupt one, or a task other than translate / tag.

    Example (needs a trained run, so not a doctest; tests/tasks/test_serve.py runs it)::

        from fastapi.testclient import TestClient
        client = TestClient(create_app("~/.cache/attnkit/runs/demo"))
        reply = client.post("/api/translate", json={"text": "Dios es amor."})
        reply.json()["translation"], reply.json()["attention"]  # str, (Lt, Ls) lists
    """
    run_dir = Path(run_dir)
    task = task_of_run(run_dir)
    if task not in SERVED_TASKS:
        raise AttnkitError(
            f"{run_dir} holds a {task!r} model; attnkit serve explores the attention of "
            f"{' and '.join(SERVED_TASKS)} models"
        )
    app = FastAPI(title="attnkit", description=f"{task} model in {run_dir}")
    lock = threading.Lock()  # one model, one forward pass at a time
    add_routes = _add_translate_routes if task == "translate" else _add_tag_routes
    info = {"task": task, "model": str(run_dir), **add_routes(app, run_dir, lock)}
    page = resources.files("attnkit.serve").joinpath("explorer.html").read_text("utf-8")

    @app.exception_handler(AttnkitError)
    def bad_input(_: Request, exc: AttnkitError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def explorer() -> str:
        return page

    @app.get("/api/info")
    def describe() -> dict:
        """The served task, run folder and model size."""
        return info

    return app


__all__ = ["SERVED_TASKS", "TagRequest", "TranslateRequest", "create_app"]
