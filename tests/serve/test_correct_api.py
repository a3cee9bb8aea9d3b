"""POST /api/correct: the corrected text, its changes and every checked word's hop attention,
against the correct task's own predict; empty, over-long and malformed texts are a 422 with a
clear detail, and the server of a correct run answers no other task's route."""

import pytest
import torch
from fastapi.testclient import TestClient

from attnkit.serve import create_app
from attnkit.tasks import get_task, open_run

TEXT = "Mary recieved teh letter over their, then went too the feild."


@pytest.fixture(scope="module")
def client(tiny_correct_run):
    return TestClient(create_app(tiny_correct_run[0]))


def test_info_describes_the_corrector(client, tiny_correct_run):
    run = open_run(tiny_correct_run[0])
    info = client.get("/api/info").json()
    assert info["task"] == "correct" and info["api"] == "/api/correct"
    assert info["hops"] == 3 and info["window"] == 3 and info["candidates"] == 8
    assert info["max_chars"] == run.config.max_chars and info["params"] == run.parameters


def test_the_reply_is_the_tasks_correction_with_its_hops(client, tiny_correct_run):
    reply = client.post("/api/correct", json={"text": TEXT})
    assert reply.status_code == 200, reply.text
    got = reply.json()
    (want,) = get_task("correct").predict(open_run(tiny_correct_run[0]), [TEXT])
    assert got["text"] == want["text"] and got["tokens"] == want["tokens"]
    assert got["changes"] == [pytest.approx(c) for c in want["changes"]]
    assert {c["from"] for c in got["changes"]} >= {"recieved", "too"}  # the key is "from"
    assert [h["index"] for h in got["hops"]] == [h["index"] for h in want["hops"]]
    for hop, ref in zip(got["hops"], want["hops"], strict=True):
        weights = torch.tensor(hop["attention"])  # (K, slots), rounded to 4 decimals
        assert weights.shape == (3, len(hop["memory"])) and (weights >= 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(3), atol=1e-3, rtol=0)
        torch.testing.assert_close(weights, torch.tensor(ref["attention"]), atol=1e-4, rtol=0)
        assert hop["memory"] == [{"offset": None, "rank": None, **m} for m in ref["memory"]]
        assert [c["word"] for c in hop["candidates"]] == [c["word"] for c in ref["candidates"]]


def test_clean_text_comes_back_unchanged(client):
    text = "There is a green boat behind the tree."
    got = client.post("/api/correct", json={"text": text}).json()
    assert got["text"] == text and got["changes"] == []


@pytest.mark.parametrize(
    ("body", "detail"),
    [
        ({"text": ""}, "empty text"),
        ({"text": "   \n"}, "empty text"),
        ({"text": "a " * 1001}, "text too long: 2,002 characters, the limit is 2,000"),
    ],
)
def test_bad_text_is_a_422_that_says_why(client, body, detail):
    reply = client.post("/api/correct", json=body)
    assert reply.status_code == 422 and detail in reply.json()["detail"]


@pytest.mark.parametrize("body", ["{}", '{"text": 3}', '{"text": "\\ud800 x"}', '{"words": "teh"}'])
def test_malformed_requests_are_a_422(client, body):
    reply = client.post("/api/correct", content=body, headers={"content-type": "application/json"})
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"][:2] == ["body", "text"]


def test_other_tasks_routes_are_not_served(client):
    for path in ("/api/translate", "/api/tag", "/api/classify"):
        assert client.post(path, json={"text": "teh"}).status_code == 404
