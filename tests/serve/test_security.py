"""attnkit serve's guards: the API key, the request body limits, the warning for an open host."""

import asyncio
import io
import json

import pytest
from fastapi.testclient import TestClient
from PIL import Image

from attnkit.cli import main
from attnkit.errors import AttnkitError
from attnkit.serve import create_app
from attnkit.serve.security import exposure_warning, is_loopback

KEY = "s3cret-Key_42"
PNG = io.BytesIO()
Image.new("L", (28, 28), 0).save(PNG, "PNG")
# a request each /api route answers with 200
GOOD = {
    "/api/info": {},
    "/api/translate": {"json": {"text": "uno dos", "beam": 1}},
    "/api/classify": {"files": {"file": ("x.png", PNG.getvalue(), "image/png")}},
}
OPEN = ["/", "/healthz", "/docs", "/redoc", "/openapi.json", "/docs-assets/swagger-ui.css"]


@pytest.fixture(scope="module", params=["translate", "classify"])
def run_dir(request):
    """A translator (JSON routes) and a classifier (an upload route)."""
    if request.param == "translate":
        return request.getfixturevalue("tiny_translate_run")[0]
    return request.getfixturevalue("tiny_classify_run")


@pytest.fixture(scope="module")
def client(run_dir):
    with TestClient(create_app(run_dir, api_key=KEY)) as c:
        yield c


def api_routes(app) -> list[tuple[str, str]]:
    """(method, path) of every /api route the app has."""
    return [
        (method, route.path)
        for route in app.routes
        if route.path.startswith("/api")
        for method in sorted(getattr(route, "methods", ()))
    ]


def test_every_api_route_needs_the_key(client):
    routes = api_routes(client.app)
    assert ("GET", "/api/info") in routes and len(routes) >= 2  # info and the task's route
    for method, path in routes:
        for headers, why in [
            ({}, "no API key"),
            ({"Authorization": "Bearer wrong"}, "a wrong API key"),
            ({"Authorization": f"Bearer {KEY}x"}, "a wrong API key"),
            ({"Authorization": f"Basic {KEY}"}, "a wrong API key"),
            ({"Authorization": KEY}, "a wrong API key"),
        ]:
            reply = client.request(method, path, headers=headers, **GOOD.get(path, {}))
            assert reply.status_code == 401, (method, path, headers)
            assert reply.headers["www-authenticate"] == "Bearer"
            assert reply.json()["detail"].startswith(why)
            assert "Authorization: Bearer <key>" in reply.json()["detail"]
        # with the key the request reaches the route: the known ones answer
        for scheme in ("Bearer", "bearer"):
            reply = client.request(
                method, path, headers={"Authorization": f"{scheme} {KEY}"}, **GOOD.get(path, {})
            )
            assert reply.status_code != 401, (method, path, reply.text)
            if path in GOOD:
                assert reply.status_code == 200, (method, path, reply.text)


def test_page_health_and_docs_stay_open(client):
    for path in OPEN:
        assert client.get(path).status_code == 200, path
    # closed unless named open: a path nobody listed needs the key too
    assert client.get("/metrics").status_code == 401
    headers = {"Authorization": f"Bearer {KEY}"}
    assert client.get("/metrics", headers=headers).status_code == 404


def test_the_schema_declares_the_key_on_closed_paths_only(client):
    schema = client.get("/openapi.json").json()
    assert schema["components"]["securitySchemes"]["apiKey"] == {"type": "http", "scheme": "bearer"}
    for path, operations in schema["paths"].items():
        for operation in operations.values():
            want = None if path == "/healthz" else [{"apiKey": []}]
            assert operation.get("security") == want, path


def test_without_a_key_the_api_is_open(tiny_classify_run):
    client = TestClient(create_app(tiny_classify_run))
    assert client.get("/api/info").status_code == 200
    assert "securitySchemes" not in client.get("/openapi.json").json().get("components", {})


@pytest.mark.parametrize("key", ["", "   "])
def test_a_blank_key_is_refused(tiny_classify_run, key):
    with pytest.raises(AttnkitError, match="API key is empty"):
        create_app(tiny_classify_run, api_key=key)


# --- body limits --------------------------------------------------------------------------------


def chunks(total: int, size: int = 4096):
    """A body of ``total`` bytes in ``size`` chunks: sent without Content-Length (chunked)."""
    for start in range(0, total, size):
        yield b" " * min(size, total - start)


@pytest.mark.parametrize("chunked", [False, True], ids=["content-length", "chunked"])
def test_a_big_json_body_is_a_413(tiny_translate_run, chunked):
    client = TestClient(create_app(tiny_translate_run[0], api_key=KEY))
    headers = {"Authorization": f"Bearer {KEY}", "content-type": "application/json"}
    body = b" " * (64 * 1024 + 1)  # whitespace: valid JSON padding, so only the size is wrong
    reply = client.post(
        "/api/translate", content=chunks(len(body)) if chunked else body, headers=headers
    )
    assert ("content-length" in reply.request.headers) is not chunked
    assert reply.status_code == 413
    assert reply.json() == {
        "detail": "the request body is larger than the 64 KiB this server accepts"
    }


def test_a_json_body_under_the_limit_reaches_the_route(tiny_translate_run):
    client = TestClient(create_app(tiny_translate_run[0], max_body_bytes=1000))
    headers = {"content-type": "application/json"}
    small = json.dumps({"text": "uno dos", "beam": 1}).encode()
    reply = client.post("/api/translate", content=small.ljust(1000), headers=headers)
    assert reply.status_code == 200 and reply.json()["translation"] == "one two"
    for body in (small.ljust(1001), chunks(1001)):
        reply = client.post("/api/translate", content=body, headers=headers)
        assert reply.status_code == 413
        assert reply.json()["detail"].endswith("larger than the 1000 bytes this server accepts")


def test_uploads_have_their_own_limit(tiny_classify_run):
    client = TestClient(create_app(tiny_classify_run, max_upload_bytes=4000))
    small = client.post("/api/classify", files={"file": ("x.png", PNG.getvalue(), "image/png")})
    assert small.status_code == 200
    big = client.post("/api/classify", files={"file": ("x.png", b"\0" * 4000, "image/png")})
    assert big.status_code == 413
    assert big.json() == {"detail": "the upload is larger than the 4000 bytes this server accepts"}


def drive(app, path: str, content_type: bytes, chunk: int, head: bytes = b"") -> tuple:
    """Send ``head`` and then endless ``chunk``-byte pieces to the ASGI ``app`` (no
    Content-Length); (status, JSON reply, bytes it read)."""
    pulled = 0
    sent = []

    async def receive():
        nonlocal pulled
        body = head if pulled == 0 and head else b"x" * chunk
        pulled += len(body)
        return {"type": "http.request", "body": body, "more_body": True}

    async def send(message):
        sent.append(message)

    scope = {
        "type": "http",
        "asgi": {"version": "3.0"},
        "http_version": "1.1",
        "method": "POST",
        "scheme": "http",
        "path": path,
        "raw_path": path.encode(),
        "root_path": "",
        "query_string": b"",
        "headers": [(b"host", b"test"), (b"content-type", content_type)],
        "client": ("127.0.0.1", 5000),
        "server": ("test", 80),
    }
    asyncio.run(asyncio.wait_for(app(scope, receive, send), timeout=60))
    body = b"".join(m.get("body", b"") for m in sent if m["type"] == "http.response.body")
    return sent[0]["status"], json.loads(body), pulled


def test_an_endless_chunked_body_is_cut_at_the_limit(tiny_translate_run, tiny_classify_run):
    """The server stops reading one chunk past the limit (it never buffers the whole body)."""
    app = create_app(tiny_translate_run[0])
    status, reply, pulled = drive(app, "/api/translate", b"application/json", 1024)
    assert status == 413 and "64 KiB" in reply["detail"]
    assert 64 * 1024 < pulled <= 65 * 1024

    app = create_app(tiny_classify_run)
    multipart = b"multipart/form-data; boundary=xyz"
    head = (
        b'--xyz\r\nContent-Disposition: form-data; name="file"; filename="x.png"\r\n'
        b"Content-Type: image/png\r\n\r\n"
    )  # then the file's bytes, without end
    status, reply, pulled = drive(app, "/api/classify", multipart, 64 * 1024, head)
    assert status == 413 and reply["detail"].startswith("the upload is larger than the 2 MiB")
    assert 2 * 1024 * 1024 < pulled <= (2 * 1024 + 64) * 1024


# --- binding and the warning --------------------------------------------------------------------


@pytest.mark.parametrize(
    ("host", "loopback"),
    [("127.0.0.1", True), ("127.0.0.2", True), ("::1", True), ("[::1]", True),
     ("localhost", True), ("0.0.0.0", False), ("::", False), ("192.168.1.7", False),
     ("myhost.example", False)],
)  # fmt: skip
def test_which_hosts_are_loopback(host, loopback):
    assert is_loopback(host) is loopback
    assert (exposure_warning(host, api_key=None) is None) is loopback
    assert exposure_warning(host, api_key=KEY) is None


@pytest.fixture
def fake_uvicorn(monkeypatch):
    """Record what ``attnkit serve`` would run instead of listening."""
    import uvicorn

    calls = []
    monkeypatch.setattr(uvicorn, "run", lambda app, **kw: calls.append((app, kw)))
    monkeypatch.delenv("ATTNKIT_API_KEY", raising=False)
    return calls


def test_serve_binds_loopback_by_default_without_a_warning(tiny_classify_run, fake_uvicorn, capsys):
    assert main(["serve", "--model", str(tiny_classify_run)]) == 0
    (app, options), = fake_uvicorn  # fmt: skip
    assert options["host"] == "127.0.0.1"
    assert "warning" not in capsys.readouterr().err
    assert TestClient(app).get("/api/info").status_code == 200  # no key: open API


def test_serve_on_every_interface_without_a_key_warns(tiny_classify_run, fake_uvicorn, capsys):
    assert main(["serve", "--model", str(tiny_classify_run), "--host", "0.0.0.0"]) == 0
    err = capsys.readouterr().err
    assert err.startswith("warning: listening on 0.0.0.0 without an API key")
    assert "anyone on the network can use the model" in err
    assert "--api-key KEY" in err and "ATTNKIT_API_KEY" in err
    assert fake_uvicorn[0][1]["host"] == "0.0.0.0"


@pytest.mark.parametrize("from_env", [False, True], ids=["option", "env"])
def test_serve_with_a_key_protects_the_api(
    tiny_classify_run, fake_uvicorn, capsys, monkeypatch, from_env
):
    argv = ["serve", "--model", str(tiny_classify_run), "--host", "0.0.0.0"]
    if from_env:
        monkeypatch.setenv("ATTNKIT_API_KEY", KEY)
    else:
        argv += ["--api-key", KEY]
    assert main(argv) == 0
    assert "warning" not in capsys.readouterr().err
    client = TestClient(fake_uvicorn[0][0])
    assert client.get("/api/info").status_code == 401
    assert client.get("/api/info", headers={"Authorization": f"Bearer {KEY}"}).status_code == 200


def test_serve_refuses_an_empty_key(tiny_classify_run, fake_uvicorn, capsys):
    assert main(["serve", "--model", str(tiny_classify_run), "--api-key", " "]) == 1
    assert "API key is empty" in capsys.readouterr().err
    assert not fake_uvicorn
