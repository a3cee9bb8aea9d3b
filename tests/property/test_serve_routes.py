"""Every route of ``attnkit serve`` on random and mutated requests: a 2xx or a 4xx with
``{"detail": ...}``, never a 500 (the TestClient re-raises a server exception) or a hang.

Routes are read from each app (``app.routes`` and its OpenAPI schema), so a route added later
is covered without editing this file: bodies are built from its request schema (right and
wrong types, missing and extra fields, numbers at and past their bounds, huge, empty and
control-character strings), from a valid request of each route mutated field by field or byte
by byte, and from random JSON and bytes. The runs are trained for a step or two: only the
shape of their inputs matters here.
"""

from __future__ import annotations

import io
import json
import re
from contextlib import ExitStack
from typing import Any
from urllib.parse import quote

import pytest
from fastapi.testclient import TestClient
from hypothesis import currently_in_test_context, event, given
from hypothesis import strategies as st
from PIL import Image
from starlette.routing import Mount

from attnkit.config import load_config
from attnkit.serve import create_app
from attnkit.tasks import get_task, train
from conftest import (
    tiny_segtag_config,
    tiny_tag_config,
    tiny_translate_config,
    write_pku_heldout,
    write_tiny_corpus,
    write_tiny_summaries,
)

from .strategies import mutated, nasty_text

ONE_STEP = ("train.epochs=1", "train.max_steps=1", "train.progress=false")


def _png(size: tuple[int, int] = (28, 28)) -> bytes:
    out = io.BytesIO()
    Image.new("L", size, 200).save(out, format="PNG")
    return out.getvalue()


PNG = _png()
HUGE_PNG = _png((5000, 4000))  # 2 kB of PNG, 20 M pixels once decoded
# A valid request of each route (JSON body, or multipart fields and file): what is mutated.
VALID_JSON = {
    "/api/translate": {"text": "dos tres uno", "beam": 2, "n_best": 2, "allow_unknown": True},
    "/api/summarize": {"text": "klmno7 is a small plugin for music . It converts music files ."},
    "/api/tag": {"text": "中国政府好。", "segmented": False, "layer": -1},
}
VALID_FORM = {"/api/classify": {"top_k": "3", "invert": "auto"}}


def _configs() -> dict[str, Any]:
    """The tiny config of each served task but classify, trained for one step."""
    return {
        "translate": tiny_translate_config(**dict(item.split("=") for item in ONE_STEP)),
        "tag": tiny_tag_config(*ONE_STEP),
        "segtag": tiny_segtag_config(*ONE_STEP),
        "summarize": load_config(
            get_task("summarize").config_class,
            None,
            ["data.min_count=1", "model.emb_dim=16", "model.hidden_dim=16", *ONE_STEP],
        ),
    }


@pytest.fixture(scope="module")
def served(tmp_path_factory, tiny_classify_run):
    """``({task: TestClient}, ATTNKIT_HOME)``: an app for every served task."""
    home = tmp_path_factory.mktemp("serve_home")
    runs = {"classify": tiny_classify_run}
    with pytest.MonkeyPatch.context() as mp, ExitStack() as stack:
        mp.setenv("ATTNKIT_HOME", str(home))
        write_tiny_corpus()
        write_pku_heldout()
        write_tiny_summaries()
        for task, cfg in _configs().items():
            runs[task] = tmp_path_factory.mktemp(task) / "run"
            train(task, cfg, runs[task])
        # entered: the apps' startup and shutdown run (the batcher's thread)
        clients = {
            task: stack.enter_context(TestClient(create_app(run))) for task, run in runs.items()
        }
        mp.undo()
        yield clients, home


@pytest.fixture
def clients(served, use_home):
    """``{task: TestClient}``, with ``ATTNKIT_HOME`` at the corpora the runs were trained on."""
    clients, home = served
    use_home(home)
    return clients


# --------------------------------------------------------------------------- routes


def _resolve(schema: dict, components: dict) -> dict:
    ref = schema.get("$ref")
    return components[ref.rpartition("/")[2]] if ref else schema


def components(client: TestClient) -> dict:
    """The named schemas of the app's OpenAPI document (what ``$ref`` points at)."""
    return client.app.openapi().get("components", {}).get("schemas", {})


def operations(client: TestClient) -> list[tuple[str, str, dict]]:
    """``(method, path, {content type: request body schema})`` of every route of the app; a
    mounted folder (static files) appears as ``GET <prefix>/{path}``."""
    app = client.app
    spec = app.openapi()
    out = []
    for route in app.routes:
        if isinstance(route, Mount):
            out.append(("GET", f"{route.path}/{{path}}", {}))
        for method in sorted(getattr(route, "methods", None) or ()):
            operation = spec["paths"].get(route.path, {}).get(method.lower(), {})
            content = operation.get("requestBody", {}).get("content", {})
            body = {t: _resolve(c["schema"], components(client)) for t, c in content.items()}
            out.append((method, route.path, body))
    return out


LONG = {
    "dos x 600": "dos " * 600,
    "中国 x 300": "中国" * 300,
    "a x 70,000": "a" * 70_000,
    "NUL x 1000": "\x00" * 1000,
    "{ x 5000": "{" * 5000,
}
STRINGS = st.one_of(
    nasty_text(),
    # long: over translate's token limit, 300 words to tag, over the 64 kB body limit (drawn
    # by name: a short repr in hypothesis' statistics)
    st.sampled_from(sorted(LONG)).map(LONG.__getitem__),
)
JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.floats() | STRINGS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(nasty_text(max_size=8), inner),
    max_leaves=8,
)


def _values(prop: dict, components: dict) -> st.SearchStrategy[Any]:
    """Values for one field of a request schema: of its type (bounds and enum members
    included), just past its bounds, or of another type altogether."""
    prop = _resolve(prop, components)
    if "anyOf" in prop:
        return st.one_of([_values(p, components) for p in prop["anyOf"]])
    kind = prop.get("type")
    if "enum" in prop or "const" in prop:
        typed = st.sampled_from(prop.get("enum", [prop.get("const")]))
    elif kind == "integer":
        bounds = [prop.get(k) for k in ("minimum", "maximum", "exclusiveMinimum")]
        edges = [b + d for b in bounds if b is not None for d in (-1, 0, 1)]
        typed = st.one_of(
            st.integers(-3, 40), st.sampled_from(edges or [0, 2**63, -(2**63) - 1]), st.integers()
        )
    elif kind == "number":
        typed = st.floats()
    elif kind == "boolean":
        typed = st.booleans()
    elif kind == "string":
        typed = STRINGS
    elif kind == "array":
        typed = st.lists(_values(prop.get("items", {}), components), max_size=3)
    else:
        typed = JSON
    return st.one_of(typed, typed, JSON)  # twice as often of the field's own type


@st.composite
def _json_fields(draw, schema: dict, components: dict, valid: dict) -> dict:
    """An object over the schema's fields (some dropped, some replaced, extra ones added)."""
    fields = dict(valid)
    for name, prop in schema.get("properties", {}).items():
        choice = draw(st.sampled_from(["keep", "drop", "replace"]))
        if choice == "drop":
            fields.pop(name, None)
        elif choice == "replace" or name not in fields:
            fields[name] = draw(_values(prop, components))
    fields.update(draw(st.dictionaries(nasty_text(max_size=8), JSON, max_size=2)))
    return fields


def _encode(body: Any) -> bytes:
    # ensure_ascii: lone surrogates travel as "\ud800" escapes, valid JSON all the same
    return json.dumps(body).encode()


@st.composite
def _with_text(draw, valid: dict) -> dict:
    """``valid`` with awkward text inserted into each of its strings."""
    body = dict(valid)
    for name, value in valid.items():
        if isinstance(value, str):
            at = draw(st.integers(0, len(value)))
            body[name] = value[:at] + draw(nasty_text(max_size=20)) + value[at:]
    return body


@st.composite
def json_requests(draw, schema: dict, components: dict, valid: dict) -> tuple[bytes, str, Any]:
    """``(body bytes, content type, the JSON value or None if the bytes are not JSON)``."""
    kind = draw(st.sampled_from(["text", "fields", "fields", "random", "bytes"]))
    if kind == "text":
        body = draw(_with_text(valid))
        raw = _encode(body)
    elif kind == "fields":
        body = draw(_json_fields(schema, components, valid))
        raw = _encode(body)
    elif kind == "random":
        body = draw(JSON)
        raw = _encode(body)
    else:
        raw = draw(st.one_of(mutated(_encode(valid or {"text": "x"})), st.binary(max_size=64)))
        try:
            body = json.loads(raw)
        except ValueError:
            body = None
    event(f"json body: {kind}")
    content_type = draw(
        st.sampled_from(["application/json"] * 4 + ["text/plain", "application/x-www-form", ""])
    )
    return raw, content_type, body


def _sendable(text: str) -> str:
    """``text`` as a form field can carry it (UTF-8: no lone surrogate)."""
    return text.encode("utf-8", "replace").decode("utf-8")


def _is_file(prop: dict) -> bool:
    return prop.get("format") == "binary" or "contentMediaType" in prop  # OpenAPI 3.0 / 3.1


@st.composite
def form_requests(draw, schema: dict, components: dict, valid: dict) -> tuple[dict, dict]:
    """``(form fields, files)`` of a multipart upload: fields valid, random or missing; a
    file a valid PNG, a mutated one, random bytes, an image too large to decode, or missing."""
    fields: dict[str, str] = {}
    files = {}
    for name, prop in schema.get("properties", {}).items():
        prop = _resolve(prop, components)
        choice = draw(st.sampled_from(["valid", "valid", "random", "drop"]))
        if _is_file(prop) and choice != "drop":
            data = draw(
                st.one_of(st.just(PNG), mutated(PNG), st.binary(max_size=64), st.just(HUGE_PNG))
            )
            filename = _sendable(draw(nasty_text(max_size=12))) or "x.png"
            kind = draw(st.sampled_from(["image/png", "image/jpeg", "text/plain", ""]))
            files[name] = (filename, data, kind) if kind else (filename, data)
        elif choice == "valid" and name in valid:
            fields[name] = valid[name]
        elif choice != "drop":
            fields[name] = _sendable(str(draw(_values(prop, components))))
    return fields, files


def _check(reply, expect_422: bool = False) -> None:
    """The rule every reply follows; with ``expect_422`` the request was surely invalid."""
    assert reply.status_code < 500, reply.text
    if reply.status_code >= 400:
        assert reply.json()["detail"], reply.text
    if expect_422:
        assert reply.status_code in (400, 413, 415, 422), (reply.status_code, reply.text)
    if currently_in_test_context():  # counted in --hypothesis-show-statistics
        event(f"{reply.status_code // 100}xx" if reply.status_code < 400 else reply.status_code)


def _path(draw, path: str) -> str:
    """``path`` with each ``{parameter}`` replaced by random (URL-quoted) text."""

    def value(_: re.Match) -> str:
        return quote(draw(nasty_text(max_size=12, surrogates=False)), safe="") or "x"

    return re.sub(r"\{[^/{}]*\}", value, path)


# --------------------------------------------------------------------------- tests

SERVED = ("translate", "summarize", "tag", "segtag", "classify")


def test_every_valid_request_is_answered(clients):
    """The starting points are valid: each task's route answers them (200), and so do the
    routes without a body (GET /, /api/info, /healthz, /docs, /openapi.json ...)."""
    seen = set()
    for client in clients.values():
        for method, path, body in operations(client):
            if "{" in path or method not in ("GET", "POST"):
                continue
            if path in VALID_JSON:
                reply = client.post(path, json=VALID_JSON[path])
            elif path in VALID_FORM:
                reply = client.post(path, data=VALID_FORM[path], files={"file": ("a.png", PNG)})
            elif not body and method == "GET":
                reply = client.get(path)
            else:
                continue
            assert reply.status_code == 200, (path, reply.text)
            seen.add(path)
    assert {*VALID_JSON, *VALID_FORM, "/api/info", "/"} <= seen


def _routes(clients: dict[str, TestClient], content_type: str | None) -> list[tuple]:
    """``(task, method, path, body)`` of the routes taking ``content_type`` bodies (None: the
    routes without a body), over every served task: each is drawn as often as the others."""
    return [
        (task, method, path, body)
        for task, client in clients.items()
        for method, path, body in operations(client)
        if (content_type in body if content_type else not body)
    ]


@pytest.mark.parametrize("text", ["\ud800", "dos \udfff", "中国\ud83d", "\x00", "\ufeff中"])
def test_text_that_is_not_unicode_is_a_4xx(clients, text):
    """JSON can carry lone surrogates ("\\ud800"), which no UTF-8 reply can hold."""
    for task, method, path, _ in _routes(clients, "application/json"):
        if "text" in VALID_JSON.get(path, {}):
            body = {**VALID_JSON[path], "text": VALID_JSON[path]["text"] + text}
            headers = {"content-type": "application/json"}
            _check(clients[task].request(method, path, content=_encode(body), headers=headers))


@given(data=st.data())
def test_random_json_bodies_get_a_2xx_or_a_4xx_with_a_detail(clients, data):
    task, method, path, body = data.draw(st.sampled_from(_routes(clients, "application/json")))
    event(f"{method} {path} ({task})")
    client, schema = clients[task], body["application/json"]
    raw, content_type, value = data.draw(
        json_requests(schema, components(client), VALID_JSON.get(path, {})), label="request"
    )
    headers = {"content-type": content_type} if content_type else {}
    reply = client.request(method, _path(data.draw, path), content=raw, headers=headers)
    required = set(schema.get("required", ()))
    surely_bad = not isinstance(value, dict) or not required <= value.keys()
    _check(reply, expect_422=surely_bad and content_type == "application/json")


def test_a_png_with_a_broken_chunk_is_a_422(clients):
    """Found by the test below: a byte inserted into the image data makes PIL read a chunk
    named b"\\x00IEN" and raise SyntaxError (a 500 until read_image caught it)."""
    broken = PNG[:47] + b"\x00" + PNG[47:]
    reply = clients["classify"].post("/api/classify", files={"file": ("a.png", broken)})
    assert reply.status_code == 422 and "not a readable image" in reply.json()["detail"]


@given(data=st.data())
def test_random_uploads_get_a_2xx_or_a_4xx_with_a_detail(clients, data):
    task, method, path, body = data.draw(st.sampled_from(_routes(clients, "multipart/form-data")))
    event(f"{method} {path} ({task})")
    client, schema = clients[task], body["multipart/form-data"]
    url = _path(data.draw, path)
    if data.draw(st.integers(0, 4)) == 0:  # not a well-formed multipart body
        raw = data.draw(st.one_of(st.binary(max_size=64), mutated(b"--x\r\n\r\n--x--\r\n")))
        kind = data.draw(
            st.sampled_from(["multipart/form-data; boundary=x", "multipart/form-data"])
        )
        _check(client.request(method, url, content=raw, headers={"content-type": kind}), True)
        return
    fields, files = data.draw(
        form_requests(schema, components(client), VALID_FORM.get(path, {})), label="upload"
    )
    reply = client.request(method, url, data=fields, files=files or None)
    _check(reply, expect_422=not set(schema.get("required", ())) <= {*fields, *files})


@given(data=st.data())
def test_routes_without_a_body_take_any_query(clients, data):
    task, method, path, _ = data.draw(st.sampled_from(_routes(clients, None)))
    event(f"{method} {path} ({task})")
    query = nasty_text(max_size=8, surrogates=False)  # what a URL can carry
    params = data.draw(st.dictionaries(query, query, max_size=3))
    _check(clients[task].request(method, _path(data.draw, path), params=params))


@given(
    data=st.data(),
    task=st.sampled_from(SERVED),
    method=st.sampled_from(["GET", "POST", "PUT", "DELETE", "PATCH", "OPTIONS"]),
)
def test_wrong_methods_and_paths_are_4xx(clients, data, task, method):
    client = clients[task]
    paths = sorted({p for _, p, _ in operations(client)})
    path = data.draw(st.one_of(st.sampled_from(paths), nasty_text(max_size=20, surrogates=False)))
    url = "/" + quote(_path(data.draw, path).lstrip("/"), safe="/")
    _check(client.request(method, url, content=data.draw(st.binary(max_size=32))))
