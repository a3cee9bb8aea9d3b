"""attnkit serve: the HTTP API against the task functions it wraps, its errors, a real server."""

import json
import urllib.request

import pytest
import torch
from fastapi.testclient import TestClient

from attnkit.cli import main
from attnkit.errors import AttnkitError
from attnkit.serve import create_app
from attnkit.tasks import get_task, open_run


@pytest.fixture
def translate_client(tiny_translate_run):
    run, _, _ = tiny_translate_run
    return run, TestClient(create_app(run))


def test_translate_matches_the_translator_and_its_attention(translate_client):
    run, client = translate_client
    reply = client.post("/api/translate", json={"text": "dos tres uno", "beam": 1})
    assert reply.status_code == 200, reply.text
    got = reply.json()

    task = get_task("translate")
    tr = task.translator(open_run(run)).with_search(beam=1)
    hyp = tr.translate_ids([tr.check_input("dos tres uno")])[0][0]
    src, tgt, weights = tr.attention_view("dos tres uno", hyp)
    assert got["translation"] == tr.tgt_tok.decode(hyp.tokens) == "two three one"
    assert got["source_tokens"] == src == ["dos", "tres", "uno", "</s>"]
    assert got["target_tokens"] == tgt
    attention = torch.tensor(got["attention"])  # (Lt, Ls)
    assert attention.shape == (len(tgt), len(src))
    torch.testing.assert_close(attention, weights.float(), atol=1e-4, rtol=0)
    torch.testing.assert_close(attention.sum(-1), torch.ones(len(tgt)), atol=1e-3, rtol=0)
    assert got["score"] == pytest.approx(hyp.score, abs=1e-5)


def test_info_and_explorer_page(translate_client):
    run, client = translate_client
    info = client.get("/api/info").json()
    opened = open_run(run)
    assert info["task"] == "translate" and info["model"] == str(run)
    assert info["checkpoint"] == "best"
    assert info["params"] == sum(p.numel() for p in opened.model.parameters())
    assert info["beam_size"] == opened.config.decode.beam_size == 2
    page = client.get("/")
    assert page.status_code == 200 and "text/html" in page.headers["content-type"]
    assert "attention explorer" in page.text and "/api/info" in page.text
    assert "/api/translate" in client.get("/openapi.json").text


@pytest.mark.parametrize(
    ("body", "message"),
    [
        ({"text": "   "}, "empty input"),
        ({"text": "dos zzz"}, "never seen 'zzz' in 'dos zzz'; send \"allow_unknown\": true"),
        ({"text": "dos " * 300}, "over the limit"),
        ({"text": "dos", "beam": 0}, "greater than or equal to 1"),
        ({"txt": "dos"}, "Field required"),
    ],
)
def test_translate_bad_input_is_a_422_with_the_reason(translate_client, body, message):
    _, client = translate_client
    reply = client.post("/api/translate", json=body)
    assert reply.status_code == 422
    detail = reply.json()["detail"]  # ours: a sentence; pydantic's: a list of field errors
    assert message in (detail if isinstance(detail, str) else json.dumps(detail))


def test_unknown_characters_can_be_allowed(translate_client):
    _, client = translate_client
    reply = client.post("/api/translate", json={"text": "dos zzz", "allow_unknown": True})
    assert reply.status_code == 200
    assert reply.json()["source_tokens"] == ["dos", "zzz", "</s>"]


def test_tag_matches_the_tagger_and_its_self_attention(tiny_tag_run):
    run, _, _ = tiny_tag_run
    client = TestClient(create_app(run))
    words = ["中国", "政府", "发表", "讲话"]
    reply = client.post("/api/tag", json={"text": " ".join(words), "segmented": True})
    assert reply.status_code == 200, reply.text
    got = reply.json()

    opened = open_run(run)
    model, vocab = opened.model, opened.assets
    w, c = vocab.encode_words(words)
    assert got["words"] == words
    assert got["tags"] == [vocab.tags[i] for i in model.decode(w[None], c[None])[0]]
    assert got["layers"] == len(model.blocks) and got["layer"] == len(model.blocks) - 1
    attention = torch.tensor(got["attention"])  # (H, L, L)
    expected = model.attention_weights(w, c, layer=-1)
    torch.testing.assert_close(attention, expected.float(), atol=1e-4, rtol=0)
    torch.testing.assert_close(attention.sum(-1), torch.ones(expected.shape[:2]), atol=1e-3, rtol=0)
    assert client.get("/api/info").json()["layers"] == len(model.blocks)

    raw = client.post("/api/tag", json={"text": "北京举行新年音乐会"}).json()
    assert "".join(raw["words"]) == "北京举行新年音乐会"  # jieba segmented it

    bad = client.post("/api/tag", json={"text": "中国", "layer": len(model.blocks)})
    assert bad.status_code == 422 and "attention layers" in bad.json()["detail"]
    bad = client.post("/api/tag", json={"text": "hello"})
    assert bad.status_code == 422 and "no Chinese characters" in bad.json()["detail"]


def test_tag_input_is_capped_because_the_reply_grows_with_its_square(tiny_tag_run):
    from attnkit.serve.app import MAX_TAG_CHARS

    client = TestClient(create_app(tiny_tag_run[0]))
    ok = client.post("/api/tag", json={"text": "中" * MAX_TAG_CHARS})
    assert ok.status_code == 200, ok.text
    too_long = client.post("/api/tag", json={"text": "中" * (MAX_TAG_CHARS + 1)})
    assert too_long.status_code == 422
    assert str(MAX_TAG_CHARS) in json.dumps(too_long.json()["detail"])


def test_a_tagger_without_attention_is_served_without_heatmap(pku_heldout, tag_config, tmp_path):
    from attnkit.tasks import train

    run = tmp_path / "bilstm-crf"
    train("tag", tag_config("model.attention_layers=0", "train.epochs=1"), run)
    client = TestClient(create_app(run))
    assert client.get("/api/info").json()["layers"] == 0
    reply = client.post("/api/tag", json={"text": "中国 政府", "segmented": True})
    assert reply.status_code == 200, reply.text
    got = reply.json()
    assert got["attention"] is None and got["layer"] is None and got["layers"] == 0
    want = get_task("tag").predict(open_run(run), ["中国 政府"], segmented=True)[0]["tags"]
    assert got["tags"] == want
    assert "tags only" in client.get("/").text  # the page says why there is no heatmap


def test_what_cannot_be_served_is_a_clear_error(tmp_path):
    with pytest.raises(AttnkitError, match="not a run folder"):
        create_app(tmp_path / "nowhere")
    (tmp_path / "meta.json").write_text("{not json")
    with pytest.raises(AttnkitError, match="corrupt"):
        create_app(tmp_path)
    (tmp_path / "meta.json").write_text(json.dumps({"task": "babi"}))  # not a served task
    with pytest.raises(AttnkitError, match="'babi' model; attnkit serve explores"):
        create_app(tmp_path)


def test_cli_serve_refuses_a_missing_run(tmp_path, capsys):
    assert main(["serve", "--model", str(tmp_path / "nowhere")]) == 1
    assert "not a run folder" in capsys.readouterr().err


def test_attnkit_serve_answers_over_http(tiny_translate_run, live_server):
    """The real command in its own process: uvicorn, the page and the API over TCP."""
    run, _, _ = tiny_translate_run
    url = live_server(run)
    with urllib.request.urlopen(f"{url}/api/info", timeout=5) as r:
        assert json.load(r)["task"] == "translate"
    with urllib.request.urlopen(url, timeout=5) as r:
        assert "attention explorer" in r.read().decode()
    request = urllib.request.Request(
        f"{url}/api/translate",
        data=json.dumps({"text": "uno dos", "beam": 1}).encode(),
        headers={"content-type": "application/json"},
    )
    with urllib.request.urlopen(request, timeout=30) as r:
        assert json.load(r)["translation"] == "one two"


def test_a_joint_segmenter_tagger_answers_api_tag(tiny_segtag_run):
    run, _, _ = tiny_segtag_run
    client = TestClient(create_app(run))
    info = client.get("/api/info").json()
    assert info["task"] == "segtag" and info["api"] == "/api/tag" and info["joint_segmentation"]
    reply = client.post("/api/tag", json={"text": "北京举行新年音乐会"})
    assert reply.status_code == 200, reply.text
    got = reply.json()
    want = get_task("segtag").predict(open_run(run), ["北京举行新年音乐会"])[0]
    assert got["words"] == want["words"] and got["tags"] == want["tags"]
    assert got["characters"] == list("北京举行新年音乐会")
    assert torch.tensor(got["attention"]).shape[1:] == (9, 9)  # characters x characters
    jieba = client.post("/api/tag", json={"text": "北京举行新年音乐会", "segmenter": "jieba"})
    assert jieba.json()["words"] == ["北京", "举行", "新年", "音乐会"]
    bad = client.post("/api/tag", json={"text": "北京", "segmenter": "nltk"})
    assert bad.status_code == 422
