"""The attention explorer page in a real browser: Debian's chromium driven by Playwright.

Each model is served by a real ``attnkit serve`` process; the page's request, the translation
or tags it shows and every heatmap cell (order, weight, colour) are checked against the API's
JSON for the same request, fetched here with urllib, and bad input must show the API's message.
Skipped only without ``/usr/bin/chromium`` (``make setup-browser``) or without playwright.
"""

import json
import math
import urllib.error
import urllib.request
from pathlib import Path

import httpx
import pytest
from PIL import Image

from attnkit.data import fashion_mnist

sync_api = pytest.importorskip("playwright.sync_api", reason="playwright is not installed")
CHROMIUM = Path("/usr/bin/chromium")
if not CHROMIUM.exists():
    pytest.skip(f"no {CHROMIUM}: `make setup-browser` installs it", allow_module_level=True)

PNG = b"\x89PNG\r\n\x1a\n"

# the rendered heatmap as plain data: column and row labels, and per cell its title
# ("row → column: weight"), its text and its computed background colour
HEATMAP = """() => {
  const table = document.querySelector("#heatmap table.heat");
  const rows = [...table.tBodies[0].rows];
  return {
    cols: [...table.tHead.rows[0].cells].slice(1).map((th) => th.textContent),
    rows: rows.map((tr) => tr.cells[0].textContent),
    cells: rows.map((tr) => [...tr.querySelectorAll("td")].map((td) => ({
      title: td.title, text: td.textContent, background: getComputedStyle(td).backgroundColor,
    }))),
  };
}"""


@pytest.fixture(scope="module")
def browser():
    """One headless chromium for the module."""
    with sync_api.sync_playwright() as p:
        chromium = p.chromium.launch(
            executable_path=str(CHROMIUM), args=["--no-sandbox"], headless=True
        )
        yield chromium
        chromium.close()


@pytest.fixture
def page(browser):
    """A fresh tab; a JavaScript error on it fails the test."""
    tab = browser.new_page()
    tab.set_default_timeout(30_000)
    errors = []
    tab.on("pageerror", lambda error: errors.append(error))
    yield tab
    tab.close()
    assert not errors, f"JavaScript errors on the page: {errors}"


@pytest.fixture(scope="module")
def translate_url(tiny_translate_run, live_server):
    run, _, home = tiny_translate_run
    return live_server(run, home)


@pytest.fixture(scope="module")
def tag_url(tiny_tag_run, live_server):
    run, _, home = tiny_tag_run
    return live_server(run, home)


def post(url: str, body: dict) -> tuple[int, dict]:
    """POST JSON with urllib; (status, JSON reply), for errors too."""
    request = urllib.request.Request(
        url, data=json.dumps(body).encode(), headers={"content-type": "application/json"}
    )
    try:
        with urllib.request.urlopen(request, timeout=60) as reply:
            return reply.status, json.load(reply)
    except urllib.error.HTTPError as e:
        return e.code, json.load(e)


CONTROLS = ("#text", "#image", "#beam", "#allow-unknown", "#top-k", "#segmented", "#layer", "#head",
            "#check")  # fmt: skip
SHOWS = {
    "translate": ["#text", "#beam", "#allow-unknown"],
    "tag": ["#text", "#segmented", "#layer", "#head"],
    "classify": ["#image", "#top-k"],
    "correct": ["#text", "#check"],
}


def open_explorer(page, url: str, task: str) -> None:
    """Load the page, wait until it has read /api/info (the Run button works from then) and
    check that it shows the task's inputs and no other."""
    page.goto(url)
    page.wait_for_function("() => document.getElementById('about').textContent.includes('·')")
    assert [c for c in CONTROLS if page.is_visible(c)] == SHOWS[task]


def run_on_page(page, api: str) -> dict:
    """Click Run; the JSON body the page POSTed to ``api``."""
    with page.expect_response(lambda r: r.url.endswith(api)) as reply:
        page.click("#go")
    return reply.value.request.post_data_json


def error_text(detail) -> str:
    """The API's 422 detail as the page writes it: ours is a sentence, pydantic's a list."""
    if isinstance(detail, str):
        return detail
    return "\n".join(f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in detail)


def shown_error(page) -> str:
    page.wait_for_function("() => document.getElementById('error').textContent !== ''")
    return page.text_content("#error")


def colour(w: float) -> str:
    """The page's cellColour (white -> dark blue), with JavaScript's Math.round."""
    t = math.sqrt(max(0.0, min(1.0, w)))
    r, g, b = (math.floor(a + (z - a) * t + 0.5) for a, z in ((255, 8), (255, 48), (255, 107)))
    return f"rgb({r}, {g}, {b})"


def assert_heatmap(page, rows: list[str], cols: list[str], weights: list[list[float]]) -> None:
    """The heatmap on the page has these labels, in order, and a cell per weight showing it."""
    page.wait_for_selector("#heatmap table.heat")
    heat = page.evaluate(HEATMAP)
    assert heat["rows"] == rows and heat["cols"] == cols
    assert [len(r) for r in heat["cells"]] == [len(cols)] * len(rows)
    for i, row in enumerate(heat["cells"]):
        for j, cell in enumerate(row):
            w = weights[i][j]
            label, value = cell["title"].rsplit(": ", 1)
            assert label == f"{rows[i]} \u2192 {cols[j]}"
            assert float(value) == pytest.approx(w, abs=5e-5 + 1e-9)  # toFixed(4)
            assert cell["background"] == colour(w)
            if w >= 0.1:  # one decimal, no leading zero: ".4"
                assert abs(float(cell["text"]) - w) <= 0.05 + 1e-9, (cell, w)
            else:
                assert cell["text"] == ""


def assert_png(path: Path) -> None:
    assert path.is_file() and path.read_bytes()[:8] == PNG


# --- translation -----------------------------------------------------------------------------


def test_translation_page_shows_the_apis_translation_and_attention(page, translate_url, tmp_path):
    open_explorer(page, translate_url, "translate")
    page.fill("#text", "   ")
    run_on_page(page, "/api/translate")
    assert shown_error(page).startswith("empty input")

    page.fill("#text", "dos tres uno")
    sent = run_on_page(page, "/api/translate")
    # the run's beam size, from /api/info
    assert sent == {"text": "dos tres uno", "beam": 2, "allow_unknown": False}
    status, want = post(f"{translate_url}/api/translate", sent)
    assert status == 200 and want["translation"] == "two three one"
    assert_heatmap(page, want["target_tokens"], want["source_tokens"], want["attention"])
    assert page.text_content("#output") == want["translation"]
    assert f"score {want['score']:.3f}" in page.text_content("#legend")
    assert page.text_content("#error") == ""  # the earlier error is gone
    page.screenshot(path=tmp_path / "translate.png", full_page=True)
    assert_png(tmp_path / "translate.png")


@pytest.mark.parametrize(
    ("text", "beam"),
    [("", None), ("dos zzz", None), ("dos", "40"), ("dos", "0")],
    ids=["empty", "unknown-word", "beam-over-32", "beam-zero"],
)
def test_translation_page_shows_the_apis_error(page, translate_url, text, beam):
    open_explorer(page, translate_url, "translate")
    page.fill("#text", text)
    if beam is not None:
        page.fill("#beam", beam)
    sent = run_on_page(page, "/api/translate")
    status, reply = post(f"{translate_url}/api/translate", sent)
    assert status == 422
    assert shown_error(page) == error_text(reply["detail"])
    assert page.text_content("#output") == "" and page.query_selector("#heatmap table") is None


def test_translation_page_can_allow_unknown_characters(page, translate_url):
    """The message for an unseen word says how to allow it; the page's box does it."""
    open_explorer(page, translate_url, "translate")
    page.fill("#text", "dos zzz")
    page.set_checked("#allow-unknown", True)
    sent = run_on_page(page, "/api/translate")
    assert sent["allow_unknown"] is True
    status, want = post(f"{translate_url}/api/translate", sent)
    assert status == 200 and want["translation"]
    assert page.text_content("#output") == want["translation"]
    assert page.text_content("#error") == ""


# --- tagging ---------------------------------------------------------------------------------


def chips(page) -> list[tuple[str, str]]:
    """The (word, tag) chips the page shows."""
    return page.eval_on_selector_all(
        "#output .chip",
        "(cs) => cs.map((c) => [c.firstChild.textContent, c.lastChild.textContent])",
    )


@pytest.mark.parametrize(
    ("text", "segmented"), [("中国 政府 发表 讲话", True), ("北京举行新年音乐会", False)]
)
def test_tag_page_shows_the_apis_tags_and_self_attention(page, tag_url, tmp_path, text, segmented):
    open_explorer(page, tag_url, "tag")
    page.fill("#text", text)
    page.set_checked("#segmented", segmented)
    sent = run_on_page(page, "/api/tag")
    assert sent == {"text": text, "segmented": segmented, "layer": 0}  # the last of 1 layer
    status, want = post(f"{tag_url}/api/tag", sent)
    assert status == 200 and "".join(want["words"]) == text.replace(" ", "")
    attention = want["attention"]  # (H, L, L)
    heads = len(attention)
    labels = [f"{w}/{t}" for w, t in zip(want["words"], want["tags"], strict=True)]
    mean = [
        [sum(h[i][j] for h in attention) / heads for j in range(len(labels))]
        for i in range(len(labels))
    ]
    page.wait_for_selector("#heatmap table.heat")
    assert chips(page) == [[w, t] for w, t in zip(want["words"], want["tags"], strict=True)]
    assert_heatmap(page, labels, labels, mean)  # the mean over heads first
    assert page.eval_on_selector_all("#head option", "(os) => os.map((o) => o.value)") == [
        "mean",
        *map(str, range(heads)),
    ]
    page.screenshot(path=tmp_path / "tag.png", full_page=True)
    assert_png(tmp_path / "tag.png")

    # the second head: its label is "2" (Playwright's value="1" would also match the label "1")
    page.select_option("#head", label="2")  # redrawn in the page, no new request
    assert_heatmap(page, labels, labels, attention[1])
    assert "head 2" in page.text_content("#legend")


@pytest.mark.parametrize("text", ["hello", "  "], ids=["no-chinese", "empty"])
def test_tag_page_shows_the_apis_error(page, tag_url, text):
    open_explorer(page, tag_url, "tag")
    page.fill("#text", text)
    sent = run_on_page(page, "/api/tag")
    status, reply = post(f"{tag_url}/api/tag", sent)
    assert status == 422
    assert shown_error(page) == error_text(reply["detail"])
    assert page.text_content("#output") == "" and page.query_selector("#heatmap table") is None


# --- image classification --------------------------------------------------------------------


@pytest.fixture(scope="module")
def classify_url(tiny_classify_run, live_server):
    """The tiny SE-ResNet20 of tests/conftest.py, served."""
    return live_server(tiny_classify_run)


@pytest.fixture
def shirt(fmnist_root, tmp_path) -> Path:
    """The first tiny Fashion-MNIST test image as a PNG file."""
    images, _ = fashion_mnist.load_split("test", fmnist_root)  # (N, 28, 28) uint8
    path = tmp_path / "shirt.png"
    Image.fromarray(images[0]).save(path)
    return path


def classify_with_api(url: str, image: Path, top_k: str) -> tuple[int, dict]:
    """The upload the page makes (multipart: file, top_k), sent with httpx."""
    files = {"file": (image.name, image.read_bytes(), "image/png")}
    reply = httpx.post(f"{url}/api/classify", files=files, data={"top_k": top_k}, timeout=60)
    return reply.status_code, reply.json()


def test_classify_page_shows_the_apis_classes_and_gates(page, classify_url, shirt, tmp_path):
    open_explorer(page, classify_url, "classify")
    asked = []
    page.on("request", lambda r: asked.append(r.url) if r.url.endswith("/api/classify") else None)
    page.click("#go")  # no image chosen yet: the page says so and sends nothing
    assert shown_error(page) == "choose a PNG or JPEG image first" and asked == []

    assert page.input_value("#top-k") == "3"  # /api/info's top_k
    page.fill("#top-k", "4")
    page.set_input_files("#image", shirt)
    page.click("#go")
    status, want = classify_with_api(classify_url, shirt, "4")
    assert status == 200 and len(want["classes"]) == 4 and len(want["gates"]) == 3

    page.wait_for_selector("#classes li")
    shown = page.eval_on_selector_all(
        "#classes li", "(ls) => ls.map((l) => [l.dataset.class, Number(l.dataset.prob)])"
    )
    assert [name for name, _ in shown] == [c["name"] for c in want["classes"]]
    for (_, prob), c in zip(shown, want["classes"], strict=True):
        assert prob == pytest.approx(c["probability"], abs=5e-5 + 1e-9)  # toFixed(4)
    rows = page.eval_on_selector_all(
        "#gates tbody tr", "(rs) => rs.map((r) => [...r.cells].map((c) => c.textContent))"
    )
    assert len(rows) == len(want["gates"])
    for row, g in zip(rows, want["gates"], strict=True):
        assert row[:3] == [g["stage"], str(g["blocks"]), str(g["channels"])]
        got = [float(v) for v in row[3:]]
        assert got == pytest.approx([g["mean"], g["min"], g["max"]], abs=5e-4 + 1e-9)
    assert page.text_content("#error") == ""
    page.screenshot(path=tmp_path / "classify.png", full_page=True)
    assert_png(tmp_path / "classify.png")


@pytest.mark.parametrize(
    ("content", "top_k"), [(b"not an image at all", "3"), (None, "0")], ids=["text", "top-k-0"]
)
def test_classify_page_shows_the_apis_error(page, classify_url, shirt, tmp_path, content, top_k):
    image = shirt
    if content is not None:
        image = tmp_path / "bad.png"
        image.write_bytes(content)
    open_explorer(page, classify_url, "classify")
    page.set_input_files("#image", image)
    page.fill("#top-k", top_k)
    page.click("#go")
    status, reply = classify_with_api(classify_url, image, top_k)
    assert status == 422
    assert shown_error(page) == error_text(reply["detail"])
    assert page.query_selector("#classes") is None


# --- spelling correction ---------------------------------------------------------------------


@pytest.fixture(scope="module")
def correct_url(tiny_correct_run, live_server):
    run, _, home = tiny_correct_run
    return live_server(run, home)


def hop_heatmap(hop: dict) -> tuple[list[str], list[str]]:
    """The rows (hops) and columns (context with offsets, candidates with probabilities) the
    page draws for one checked word of the API's reply."""
    p = {c["word"]: c["probability"] for c in hop["candidates"]}
    cols = [f"{m['label']} ({m['offset']:+d})" if m["kind"] == "context"
            else f"\u2192 {m['label']} {p[m['label']]:.2f}" for m in hop["memory"]]  # fmt: skip
    return [f"hop {k + 1}" for k in range(len(hop["attention"]))], cols


def test_correct_page_shows_the_apis_fixes_and_hops(page, correct_url, tmp_path):
    open_explorer(page, correct_url, "correct")
    text = "Mary recieved teh letter over their, then went too the feild."
    page.fill("#text", text)
    sent = run_on_page(page, "/api/correct")
    assert sent == {"text": text}
    status, want = post(f"{correct_url}/api/correct", sent)
    assert status == 200 and want["changes"] and len(want["hops"]) >= 2
    fixed = {c["index"]: c["to"] for c in want["changes"]}
    page.wait_for_selector("#heatmap table.heat")
    shown = [fixed.get(i, t) for i, t in enumerate(want["tokens"])]
    assert page.text_content("#output").split() == shown
    marked = page.eval_on_selector_all("#output .fixed", "(s) => s.map((e) => e.textContent)")
    assert marked == [fixed[i] for i in sorted(fixed)]
    first = next(n for n, h in enumerate(want["hops"]) if h["index"] in fixed)
    assert_heatmap(page, *hop_heatmap(want["hops"][first]), want["hops"][first]["attention"])
    page.screenshot(path=tmp_path / "correct.png", full_page=True)
    assert_png(tmp_path / "correct.png")

    other = (first + 1) % len(want["hops"])  # another checked word: redrawn, no new request
    page.select_option("#check", value=str(other))
    assert_heatmap(page, *hop_heatmap(want["hops"][other]), want["hops"][other]["attention"])
    assert page.text_content("#legend").startswith(want["hops"][other]["token"])


def test_correct_page_shows_the_apis_error(page, correct_url):
    open_explorer(page, correct_url, "correct")
    page.fill("#text", "   ")
    sent = run_on_page(page, "/api/correct")
    status, reply = post(f"{correct_url}/api/correct", sent)
    assert status == 422 and shown_error(page) == reply["detail"] == (
        "empty text: give some words to correct"
    )
    assert page.text_content("#output") == "" and page.query_selector("#heatmap table") is None
