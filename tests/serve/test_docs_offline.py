"""/docs and /redoc work offline: every file they load comes from this server, none from a CDN."""

import importlib.util
import re
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from attnkit.serve import create_app

CHROMIUM = Path("/usr/bin/chromium")
# what a docs page loads: src= / href= attributes, Swagger's `url: '...'`, ReDoc's spec-url=
REFERENCES = re.compile(r"""(?:src|href|spec-url)="([^"]*)"|\burl: '([^']*)'""")
TYPES = {".js": "javascript", ".css": "text/css", ".png": "image/png", ".json": "json"}


@pytest.fixture(scope="module")
def client(tiny_classify_run):
    # with a key: the docs and what they load must stay open all the same
    return TestClient(create_app(tiny_classify_run, api_key="k"))


@pytest.mark.parametrize("page", ["/docs", "/redoc"])
def test_docs_page_loads_only_files_of_this_server(client, page):
    reply = client.get(page)
    assert reply.status_code == 200 and "text/html" in reply.headers["content-type"]
    html = reply.text
    assert "http://" not in html and "https://" not in html  # no CDN, no fonts, no validator
    urls = [a or b for a, b in REFERENCES.findall(html)]
    assert "/openapi.json" in urls and any(u.endswith(".js") for u in urls), urls
    for url in urls:
        assert url.startswith("/"), url
        asset = client.get(url)
        assert asset.status_code == 200, url
        assert len(asset.content) > 1000, url  # the real file, not an empty stub
        kind = TYPES[Path(url).suffix]
        assert kind in asset.headers["content-type"], (url, asset.headers["content-type"])


def test_the_schema_the_docs_show_describes_the_upload(client):
    schema = client.get("/openapi.json").json()
    assert schema["openapi"].startswith("3.1")  # what Swagger UI 5 renders (4.x refuses it)
    body = schema["paths"]["/api/classify"]["post"]["requestBody"]["content"]
    assert "multipart/form-data" in body


def browser_available() -> bool:
    return CHROMIUM.exists() and importlib.util.find_spec("playwright") is not None


@pytest.mark.skipif(not browser_available(), reason="needs /usr/bin/chromium and playwright")
def test_swagger_ui_renders_the_api_in_a_browser_without_internet(tiny_classify_run, live_server):
    """Chromium opens /docs of a real server: the operations show, and every request the page
    makes goes to that server."""
    from playwright.sync_api import sync_playwright

    url = live_server(tiny_classify_run)
    with sync_playwright() as p:
        browser = p.chromium.launch(executable_path=str(CHROMIUM), args=["--no-sandbox"])
        try:
            page = browser.new_page()
            requested = []
            page.on("request", lambda r: requested.append(r.url))
            page.goto(f"{url}/docs")
            page.wait_for_selector('[data-path="/api/classify"]', timeout=30_000)
            text = page.inner_text("body")
        finally:
            browser.close()
    assert "Unable to render this definition" not in text
    assert "/api/info" in text and "ClassifyResponse" in text
    assert requested and all(r.startswith(url) for r in requested), requested
