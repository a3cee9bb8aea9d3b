"""The HTTP API and the attention explorer page for a trained run (``attnkit serve``).

One process serves one run folder: a translation model (Bahdanau attention: which source
pieces each target piece looked at), a pointer-generator summarizer (the same, with p_gen and
the copied words), a tagger (self-attention between words, per layer and head), an image
classifier (squeeze-and-excitation: how each stage's channel gates re-weighted the image) or a
spelling corrector (a memory network: each hop's attention over a doubtful word's context and
candidates).
``GET /`` is the explorer page, ``GET /api/info`` describes the model, and ``POST
/api/translate``, ``/api/summarize``, ``/api/tag``, ``/api/correct`` (JSON) or
``/api/classify`` (a multipart PNG / JPEG upload) return the prediction with its attention
weights as JSON. Input a user can get wrong (empty or over-long text, unseen characters, a
missing layer, not an image) is a 422 with ``{"detail": "<what is wrong>"}``, a body over
the limit a 413, a missing or wrong API key a 401 (:mod:`attnkit.serve.security`); the OpenAPI
pages ``/docs`` and ``/redoc`` work offline.

Example:
    $ attnkit serve --model ~/.cache/attnkit/runs/demo --port 8000
    $ curl -s localhost:8000/api/translate -H 'content-type: application/json' \\
        -d '{"text": "Dios es amor."}'
    {"translation": "...", "score": ..., "source_tokens": [...], "target_tokens": [...],
     "attention": [[...], ...]}
"""

from __future__ import annotations

import asyncio
import re
import threading
from importlib import resources
from pathlib import Path
from typing import Annotated, Literal

from fastapi import FastAPI, File, Form, Request, UploadFile
from fastapi.encoders import jsonable_encoder
from fastapi.exceptions import RequestValidationError
from fastapi.responses import HTMLResponse, JSONResponse
from pydantic import BaseModel, ConfigDict, Field, field_validator

from attnkit.data.images import read_image
from attnkit.errors import AttnkitError
from attnkit.serve.batching import BatchSettings, DynamicBatcher, Overloaded
from attnkit.serve.docs import ASSETS, PAGES, add_offline_docs
from attnkit.serve.security import (
    MAX_BODY_BYTES,
    MAX_IMAGE_PIXELS,
    MAX_UPLOAD_BYTES,
    OpenPaths,
    protect,
)
from attnkit.tasks import Run, open_run, task_of_run
from attnkit.tasks.classify.explain import gate_summary

MAX_TAG_CHARS = 512  # (H, L, L) weights in the reply: 512 words x 4 heads is ~8 MB of JSON
SERVED_TASKS = ("translate", "summarize", "tag", "segtag", "classify", "correct")
UPLOAD_FORMATS = ("PNG", "JPEG")  # what /api/classify decodes (PIL format names)
_LONE_SURROGATE = re.compile("[\ud800-\udfff]")


class _Request(BaseModel):
    """A JSON request whose strings must be Unicode text: JSON can escape a lone surrogate
    (``"\\ud800"``), which no UTF-8 reply can hold (a 500 when echoed in tokens)."""

    @field_validator("*")
    @classmethod
    def _unicode(cls, value: object) -> object:
        if isinstance(value, str) and _LONE_SURROGATE.search(value):
            raise ValueError("not Unicode text: it holds a lone surrogate (\\ud800-\\udfff)")
        return value


class TranslateRequest(_Request):
    """A sentence in the model's source language."""

    text: str
    beam: int | None = Field(None, ge=1, le=32, description="beam size (default: the run's)")
    n_best: int = Field(1, ge=1, le=32, description="hypotheses to return (at most the beam)")
    allow_unknown: bool = Field(False, description="translate unseen characters as <unk>")


class Translation(BaseModel):
    """One hypothesis of the n-best list."""

    translation: str
    score: float


class TranslateResponse(BaseModel):
    """The best translation and its attention (``attention[i][j]`` = target i on source j),
    and the ``n_best`` hypotheses asked for, best first (the best one included)."""

    translation: str
    score: float
    source_tokens: list[str]
    target_tokens: list[str]
    attention: list[list[float]]  # (Lt, Ls)
    n_best: list[Translation]


class SummarizeRequest(_Request):
    """A document (plain English text)."""

    text: str
    beam: int | None = Field(None, ge=1, le=32, description="beam size (default: the run's)")
    n_best: int = Field(1, ge=1, le=32, description="hypotheses to return (at most the beam)")


class Summary(BaseModel):
    """One hypothesis of the n-best list."""

    summary: str
    score: float


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
    n_best: list[Summary]  # best first, the best one included


class TagRequest(_Request):
    """Chinese text, raw or already segmented with spaces (the reply's attention grows with
    the square of its length: at most ``MAX_TAG_CHARS`` characters)."""

    text: str = Field(max_length=MAX_TAG_CHARS)
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


class CorrectRequest(_Request):
    """English text to correct (at most the run's ``max_chars`` characters)."""

    text: str


class Change(BaseModel):
    """A corrected token: its ``index`` in ``tokens``, the word ``from`` and ``to``, the
    ``kind`` (``nonword``: a word the lexicon lacks; ``realword``: a confusion-set word) and
    the chosen candidate's probability."""

    model_config = ConfigDict(populate_by_name=True)
    index: int
    from_: str = Field(alias="from")
    to: str
    kind: Literal["nonword", "realword"]
    score: float


class CandidateProbability(BaseModel):
    """A candidate of a checked token (``keep``: the token itself) and its probability."""

    word: str
    probability: float
    keep: bool


class MemorySlot(BaseModel):
    """A memory slot of a checked token: a ``context`` token (``offset`` from it) or a
    ``candidate`` (its ``rank``)."""

    kind: Literal["context", "candidate"]
    label: str
    offset: int | None = None
    rank: int | None = None


class CheckedToken(BaseModel):
    """A token the corrector scrutinised: its candidates, its memory slots and each hop's
    attention over them (``attention[k][m]``, hop k on slot m; each row sums to 1)."""

    index: int
    token: str
    candidates: list[CandidateProbability]
    memory: list[MemorySlot]
    attention: list[list[float]]  # (K, slots)


class CorrectResponse(BaseModel):
    """The corrected text, the input's tokens, the changes, and every checked token's hops."""

    text: str
    tokens: list[str]
    changes: list[Change]
    hops: list[CheckedToken]


# the multipart fields of /api/classify
ImageUpload = Annotated[UploadFile, File(description="a PNG or JPEG image (any size or mode)")]
DEFAULT_TOP_K = 3
TopK = Annotated[int, Form(ge=1, description="how many classes to return (at most all)")]
Invert = Annotated[
    Literal["auto", "yes", "no"],
    Form(description="negate to light-on-black: yes, no, auto (if the border is light)"),
]


class ClassProbability(BaseModel):
    """A class and the probability the model gives it."""

    name: str
    probability: float


class StageGates(BaseModel):
    """How one stage's squeeze-and-excitation gates re-weighted the image's channels: the
    mean, min and max gate over its blocks and channels (1 keeps a channel, 0 mutes it)."""

    stage: str
    blocks: int
    channels: int
    mean: float
    min: float
    max: float


class ClassifyResponse(BaseModel):
    """The ``top_k`` most probable classes, most probable first, and the SE gates per stage
    (``gates`` is empty for a ResNet without squeeze-and-excitation)."""

    classes: list[ClassProbability]
    gates: list[StageGates]


def _rounded(weights) -> list:
    """A weight tensor as nested lists of floats rounded to 4 decimals (smaller JSON)."""
    return weights.float().mul(1e4).round().div(1e4).tolist()


def _batcher(app: FastAPI, run: Run) -> DynamicBatcher:
    """The batcher of a seq2seq run's route (``app.state.batching`` settings), which calls
    ``predict(run, texts, attention=True, **options)`` and is closed when the app stops."""
    task = run.task
    batcher = app.state.batching.batcher(
        lambda texts, **options: task.predict(run, texts, attention=True, **options)
    )
    app.state.batcher = batcher
    app.router.on_shutdown.append(batcher.close)
    return batcher


def _batching_info(app: FastAPI) -> dict:
    """What ``/api/info`` says about the batching in force."""
    settings = app.state.batching
    max_batch, wait_ms = settings.limits()
    return {"max_batch": max_batch, "wait_ms": wait_ms, "queue_size": settings.queue_size}


def _add_translate_routes(app: FastAPI, run: Run, lock: threading.Lock) -> dict:
    translator = run.task.translator(run)
    batcher = _batcher(app, run)
    how_to_allow = 'send "allow_unknown": true'

    @app.post("/api/translate", response_model=TranslateResponse)
    async def translate(req: TranslateRequest) -> TranslateResponse:
        """Translate one sentence; the attention of the best hypothesis comes with it."""
        # checked alone before it joins a batch: a bad sentence fails by itself
        translator.with_search(beam=req.beam, n_best=req.n_best).check_input(
            req.text, req.allow_unknown, how_to_allow
        )
        options = {"beam": req.beam, "n_best": req.n_best, "allow_unknown": req.allow_unknown}
        job = batcher.submit(req.text, **options, how_to_allow=how_to_allow)
        result = await asyncio.wrap_future(job)
        return TranslateResponse(
            translation=result["translation"],
            score=result["score"],
            source_tokens=result["source_tokens"],
            target_tokens=result["target_tokens"],
            attention=_rounded(result["attention"]),
            n_best=result["n_best"],
        )

    return {"beam_size": run.config.decode.beam_size, "batching": _batching_info(app)}


def _add_summarize_routes(app: FastAPI, run: Run, lock: threading.Lock) -> dict:
    task = run.task
    batcher = _batcher(app, run)

    @app.post("/api/summarize", response_model=SummarizeResponse)
    async def summarize(req: SummarizeRequest) -> SummarizeResponse:
        """Summarise one document; attention, p_gen and copied words come with it."""
        # checked alone before it joins a batch: a bad document fails by itself
        task.check_input(run, req.text)
        run.config.decode.with_search(beam=req.beam, n_best=req.n_best)
        job = batcher.submit(req.text, beam=req.beam, n_best=req.n_best)
        result = await asyncio.wrap_future(job)
        return SummarizeResponse(
            summary=result["summary"],
            score=result["score"],
            source_tokens=result["source_tokens"],
            summary_tokens=result["summary_tokens"],
            attention=_rounded(result["attention"][: len(result["summary_tokens"])]),
            p_gen=[round(p, 4) for p in result["p_gen"]],
            copied=result["copied"],
            n_best=result["n_best"],
        )

    return {"beam_size": run.config.decode.beam_size, "batching": _batching_info(app)}


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


def _add_classify_routes(app: FastAPI, run: Run, lock: threading.Lock) -> dict:
    task, classes = run.task, run.assets

    @app.post("/api/classify", response_model=ClassifyResponse)
    def classify(
        file: ImageUpload, top_k: TopK = DEFAULT_TOP_K, invert: Invert = "auto"
    ) -> ClassifyResponse:
        """Classify one uploaded image; the SE gates of each stage come with it."""
        # decoded from the upload's bytes: no request field is ever used as a file name
        image = read_image(
            file.file,
            invert=invert,
            name="the upload",
            formats=UPLOAD_FORMATS,
            max_pixels=MAX_IMAGE_PIXELS,
        )  # (28, 28) uint8
        with lock:
            top = task.predict(run, [image], top_k=top_k)[0]["top"]
            gates = gate_summary(run.model, image)
        return ClassifyResponse(
            classes=[ClassProbability(name=c["class"], probability=c["probability"]) for c in top],
            gates=[StageGates(**g) for g in gates],
        )

    return {
        "classes": classes,
        "top_k": DEFAULT_TOP_K,
        "accept": [f"image/{f.lower()}" for f in UPLOAD_FORMATS],
        "max_pixels": MAX_IMAGE_PIXELS,
        "squeeze_excitation": run.model.config.se,
    }


def _add_correct_routes(app: FastAPI, run: Run, lock: threading.Lock) -> dict:
    task = run.task

    @app.post("/api/correct", response_model=CorrectResponse)
    def correct(req: CorrectRequest) -> CorrectResponse:
        """Correct the spelling of one text; each checked word's hop attention comes with it."""
        with lock:
            result = task.predict(run, [req.text], attention=True)[0]
        for hop in result["hops"]:
            hop["attention"] = [[round(w, 4) for w in row] for row in hop["attention"]]
        return CorrectResponse(**result)

    return {
        "hops": run.model.config.hops,
        "window": run.assets.window,
        "candidates": run.assets.candidates,
        "max_chars": run.config.max_chars,
    }


ROUTES = {
    "translate": _add_translate_routes,
    "summarize": _add_summarize_routes,
    "tag": _add_tag_routes,
    "segtag": _add_tag_routes,
    "classify": _add_classify_routes,
    "correct": _add_correct_routes,
}
API = {"translate": "/api/translate", "summarize": "/api/summarize", "classify": "/api/classify",
       "correct": "/api/correct"}  # fmt: skip
# tag, segtag: /api/tag


def create_app(
    run_dir: str | Path,
    *,
    batching: bool = True,
    max_batch: int = 32,
    wait_ms: float = 5.0,
    queue_size: int = 256,
    api_key: str | None = None,
    max_body_bytes: int = MAX_BODY_BYTES,
    max_upload_bytes: int = MAX_UPLOAD_BYTES,
) -> FastAPI:
    """A FastAPI app serving the translation, summarization, tagging or classify run in
    ``run_dir``.

    Translation and summarization requests are batched (:mod:`attnkit.serve.batching`): up
    to ``max_batch`` concurrent requests, gathered for at most ``wait_ms``, are decoded
    together; at most ``queue_size`` wait, more get a 503 with ``Retry-After``.
    ``batching=False`` decodes them one at a time (still queued, still bounded).

    With ``api_key`` every route but the page, ``/healthz`` and the docs needs
    ``Authorization: Bearer <api_key>`` (401 otherwise). Bodies over ``max_body_bytes`` (JSON)
    or ``max_upload_bytes`` (image uploads) are a 413 (:mod:`attnkit.serve.security`).
    ``/docs`` and ``/redoc`` load nothing from the internet (:mod:`attnkit.serve.docs`).

    Raises:
        AttnkitError: no run there, a corrupt one, a task that is not served, or a
            ``max_batch`` / ``queue_size`` below 1 or a negative ``wait_ms``, a blank
            ``api_key``, a body limit below 1.

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
    app = FastAPI(
        title="attnkit", description=f"{task} model in {run_dir}", docs_url=None, redoc_url=None
    )
    app.state.batching = BatchSettings(batching, max_batch, wait_ms, queue_size)  # seq2seq routes
    lock = threading.Lock()  # one model, one forward pass at a time
    info = {
        "task": task,
        "model": str(run_dir),
        "checkpoint": run.checkpoint.name,
        "params": run.parameters,
        "api": API.get(task, "/api/tag"),
        **ROUTES[task](app, run, lock),
        "limits": {"max_body_bytes": max_body_bytes, "max_upload_bytes": max_upload_bytes},
    }
    page = resources.files("attnkit.serve").joinpath("explorer.html").read_text("utf-8")

    @app.exception_handler(AttnkitError)
    def bad_input(_: Request, exc: AttnkitError) -> JSONResponse:
        return JSONResponse(status_code=422, content={"detail": str(exc)})

    @app.exception_handler(RequestValidationError)
    def invalid_request(_: Request, exc: RequestValidationError) -> JSONResponse:
        # FastAPI's own handler echoes each error's input, and fails (a 500) when that is a body
        # that is not UTF-8 or holds a lone surrogate (fastapi/fastapi#13111): leave it out
        errors = [{k: v for k, v in e.items() if k != "input"} for e in exc.errors()]
        return JSONResponse(status_code=422, content={"detail": jsonable_encoder(errors)})

    @app.exception_handler(Overloaded)
    def busy(_: Request, exc: Overloaded) -> JSONResponse:
        headers = {"Retry-After": str(exc.retry_after)}
        return JSONResponse(status_code=503, content={"detail": str(exc)}, headers=headers)

    @app.get("/", response_class=HTMLResponse, include_in_schema=False)
    def explorer() -> str:
        return page

    @app.get("/api/info")
    def describe() -> dict:
        """The served task, run folder and model size."""
        return info

    @app.get("/healthz")
    async def healthz() -> dict:
        """Liveness: the server answers (without waiting for the model)."""
        return {"status": "ok"}

    add_offline_docs(app)
    public = OpenPaths(frozenset({"/", "/healthz", app.openapi_url, *PAGES}), (f"{ASSETS}/",))
    protect(
        app,
        api_key=api_key,
        max_body_bytes=max_body_bytes,
        max_upload_bytes=max_upload_bytes,
        public=public,
    )
    return app


__all__ = ["SERVED_TASKS", "SummarizeRequest", "TagRequest", "TranslateRequest", "create_app"]
