"""The HTTP API and the attention explorer page for a trained run (``attnkit serve``).

One process serves one run folder: a translation model (Bahdanau attention: which source
pieces each target piece looked at), a pointer-generator summarizer (the same, with p_gen and
the copied words) or a tagger (self-attention between words, per layer and head). ``GET /`` is
the explorer page, ``GET /api/info`` describes the model, and ``POST /api/translate``,
``/api/summarize`` or ``/api/tag`` return the prediction with its attention weights as JSON.
Input a user can get wrong (empty text, unseen characters, a missing layer) is a 422 with
``{"detail": "<what is wrong>"}``; the OpenAPI page is at ``/docs``.

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
from typing import Literal

from fastapi import FastAPI, Request
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, Field

from attnkit.errors import AttnkitError
from attnkit.tasks import Run, open_run, task_of_run

SERVED_TASKS = ("translate", "summarize", "tag", "segtag")


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


class SummarizeRequest(BaseModel):
    """A document (plain English text)."""

    text: str
    beam: int | None = Field(None, ge=1, le=32, description="beam size (default: the run's)")


class SummarizeResponse(BaseModel):
    """The best summary, its attention (``attention[i][j]`` = summary word i on document word
    j), ``p_gen`` per summary word (1 = generated from the vocabulary, 0 = copied) and which
    words were copied (outside the vocabulary, or mostly copied from the document)."""

    summary: str
    score: float
    source_tokens: list[str]
    summary_tokens: list[str]
    attention: list[list[float]]  # (Lt, Ls)
    p_gen: list[float]
    copied: list[bool]


class TagRequest(BaseModel):
    """Chinese text, raw or already segmented with spaces."""

    text: str
    segmented: bool = False
    segmenter: Literal["model", "jieba"] | None = Field(
        None, description="who segments raw text: the joint model (segtag runs) or jieba"
    )
    layer: int = Field(-1, description="self-attention block (negative counts from the last)")


class TagResponse(BaseModel):
    """Words, their PKU tags, and one block's self-attention: ``attention[h][i][j]``.

    A tagger without self-attention (``layers == 0``, a BiLSTM + CRF) has tags but no weights:
    ``layer`` and ``attention`` are null.
    """

    words: list[str]
    tags: list[str]
    layer: int | None
    layers: int
    attention: list[list[list[float]]] | None  # (H, L, L)
    characters: list[str] | None = None  # the attention's axis for a character-level model


def _rounded(weights) -> list:
    """A weight tensor as nested lists of floats rounded to 4 decimals (smaller JSON)."""
    return weights.float().mul(1e4).round().div(1e4).tolist()


def _add_translate_routes(app: FastAPI, run: Run, lock: threading.Lock) -> dict:
    task = run.task

    @app.post("/api/translate", response_model=TranslateResponse)
    def translate(req: TranslateRequest) -> TranslateResponse:
        """Translate one sentence; the attention of the best hypothesis comes with it."""
        with lock:
            result = task.predict(
                run,
                [req.text],
                beam=req.beam,
                allow_unknown=req.allow_unknown,
                attention=True,
                how_to_allow='send "allow_unknown": true',
            )[0]
        return TranslateResponse(
            translation=result["translation"],
            score=result["score"],
            source_tokens=result["source_tokens"],
            target_tokens=result["target_tokens"],
            attention=_rounded(result["attention"]),
        )

    return {"beam_size": run.config.decode.beam_size}


def _add_summarize_routes(app: FastAPI, run: Run, lock: threading.Lock) -> dict:
    task = run.task

    @app.post("/api/summarize", response_model=SummarizeResponse)
    def summarize(req: SummarizeRequest) -> SummarizeResponse:
        """Summarise one document; attention, p_gen and copied words come with it."""
        with lock:
            result = task.predict(run, [req.text], beam=req.beam, attention=True)[0]
        return SummarizeResponse(
            summary=result["summary"],
            score=result["score"],
            source_tokens=result["source_tokens"],
            summary_tokens=result["summary_tokens"],
            attention=_rounded(result["attention"][: len(result["summary_tokens"])]),
            p_gen=[round(p, 4) for p in result["p_gen"]],
            copied=result["copied"],
        )

    return {"beam_size": run.config.decode.beam_size}


def _add_tag_routes(app: FastAPI, run: Run, lock: threading.Lock) -> dict:
    task = run.task

    joint = task.name == "segtag"

    @app.post("/api/tag", response_model=TagResponse)
    def tag(req: TagRequest) -> TagResponse:
        """Tag Chinese text; one block's self-attention (every head) comes with it."""
        options = {"segmented": req.segmented, "attention": True, "layer": req.layer}
        if joint:
            options["segmenter"] = req.segmenter or "model"
        elif req.segmenter == "model":
            raise AttnkitError("this word tagger cannot segment: send segmenter jieba or none")
        with lock:
            result = task.predict(run, [req.text], **options)[0]
        weights = result["attention"]
        return TagResponse(
            words=result["words"],
            tags=result["tags"],
            layer=result["layer"],
            layers=result["layers"],
            attention=None if weights is None else _rounded(weights),
            characters=result.get("characters"),
        )

    return {"layers": len(run.model.blocks), "joint_segmentation": joint}


ROUTES = {
    "translate": _add_translate_routes,
    "summarize": _add_summarize_routes,
    "tag": _add_tag_routes,
    "segtag": _add_tag_routes,
}
API = {"translate": "/api/translate", "summarize": "/api/summarize"}  # tag, segtag: /api/tag


def create_app(run_dir: str | Path) -> FastAPI:
    """A FastAPI app serving the translation, summarization or tagging run in ``run_dir``.

    Raises:
        AttnkitError: no run there, a corrupt one, or a task that is not served.

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
    run = open_run(run_dir)
    app = FastAPI(title="attnkit", description=f"{task} model in {run_dir}")
    lock = threading.Lock()  # one model, one forward pass at a time
    info = {
        "task": task,
        "model": str(run_dir),
        "checkpoint": run.checkpoint.name,
        "params": run.parameters,
        "api": API.get(task, "/api/tag"),
        **ROUTES[task](app, run, lock),
    }
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


__all__ = ["SERVED_TASKS", "SummarizeRequest", "TagRequest", "TranslateRequest", "create_app"]
