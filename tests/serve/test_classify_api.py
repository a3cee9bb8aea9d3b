"""POST /api/classify: an uploaded PNG / JPEG against the classify task's own predict and the SE
gates of explain.py; uploads that are not images, too large, or a file name are refused."""

import io

import numpy as np
import pytest
import torch
from fastapi.testclient import TestClient
from PIL import Image

from attnkit.data import fashion_mnist
from attnkit.data.images import load_image
from attnkit.serve import create_app
from attnkit.tasks import get_task, open_run
from attnkit.tasks.classify import build_network, channel_weights_by_class
from attnkit.tasks.classify.config import ModelConfig
from attnkit.tasks.classify.explain import gate_summary


def encode(image: np.ndarray, fmt: str, **options) -> bytes:
    """An image array (uint8) as the bytes of a PNG or JPEG file."""
    out = io.BytesIO()
    Image.fromarray(image).save(out, fmt, **options)
    return out.getvalue()


@pytest.fixture(scope="module")
def client(tiny_classify_run):
    return TestClient(create_app(tiny_classify_run))


def upload(client, data: bytes, name: str = "x.png", mime: str = "image/png", **fields):
    return client.post("/api/classify", files={"file": (name, data, mime)}, data=fields)


def test_info_describes_the_classifier(client, tiny_classify_run):
    info = client.get("/api/info").json()
    assert info["task"] == "classify" and info["api"] == "/api/classify"
    assert info["classes"] == list(fashion_mnist.CLASSES) and info["top_k"] == 3
    assert info["accept"] == ["image/png", "image/jpeg"] and info["squeeze_excitation"] is True
    assert info["limits"] == {"max_body_bytes": 64 * 1024, "max_upload_bytes": 2 * 1024 * 1024}
    assert info["params"] == open_run(tiny_classify_run).parameters


def test_a_png_gets_the_tasks_top_k_and_the_se_gates(client, tiny_classify_run, fixture_images):
    run = open_run(tiny_classify_run)
    task = get_task("classify")
    for label in (0, 3, 7):
        image = fixture_images[label]  # (28, 28) uint8, the class of its index
        reply = upload(client, encode(image.numpy(), "PNG"), top_k="4")
        assert reply.status_code == 200, reply.text
        got = reply.json()

        want = task.predict(run, [image], top_k=4)[0]["top"]  # the same tensor, in process
        assert [c["name"] for c in got["classes"]] == [c["class"] for c in want]
        probs = [c["probability"] for c in got["classes"]]
        assert probs == pytest.approx([c["probability"] for c in want], abs=1e-6)
        assert probs == sorted(probs, reverse=True) and 0 < sum(probs) <= 1 + 1e-6

        # explain.py's per-class mean gates of this one image, grouped by stage here
        means = channel_weights_by_class(run.model, image[None], torch.tensor([label]))
        stages = sorted({name.split(".")[0] for name in means})
        assert [g["stage"] for g in got["gates"]] == stages == ["stage1", "stage2", "stage3"]
        for gates in got["gates"]:
            blocks = [
                m[label] for name, m in means.items() if name.startswith(gates["stage"] + ".")
            ]
            values = np.concatenate(blocks)
            assert gates["blocks"] == len(blocks) == 3 and gates["channels"] == len(blocks[0])
            assert gates["mean"] == pytest.approx(values.mean(), abs=1e-5)
            assert gates["min"] == pytest.approx(values.min(), abs=1e-6)
            assert gates["max"] == pytest.approx(values.max(), abs=1e-6)
            assert 0 < gates["min"] <= gates["mean"] <= gates["max"] < 1


def test_a_jpeg_is_read_as_attnkit_classify_reads_the_file(client, tiny_classify_run, tmp_path):
    """Any size and colour mode: the reply equals predict on the CLI's decoding of the file."""
    rgb = np.zeros((84, 60, 3), np.uint8)
    rgb[10:70, 20:40] = (230, 200, 180)  # a light object on black
    jpeg = encode(rgb, "JPEG", quality=90)
    (tmp_path / "photo.jpg").write_bytes(jpeg)
    run = open_run(tiny_classify_run)
    replies = []
    for invert in ("auto", "yes"):
        pixels = load_image(tmp_path / "photo.jpg", invert=invert)  # (28, 28), as the CLI reads it
        want = get_task("classify").predict(run, [pixels], top_k=3)[0]["top"]
        reply = upload(client, jpeg, "photo.jpg", "image/jpeg", invert=invert)
        assert reply.status_code == 200, reply.text
        got = reply.json()["classes"]
        assert [c["name"] for c in got] == [c["class"] for c in want]
        assert [c["probability"] for c in got] == pytest.approx([c["probability"] for c in want])
        replies.append(got)
    assert replies[0] != replies[1]  # "invert" reached the decoder


def big_png() -> bytes:
    """A black PNG of 4097 x 4096 pixels: tens of kilobytes that decode to 16.8 megapixels."""
    return encode(np.zeros((4096, 4097), np.uint8), "PNG")


PNG = encode(np.zeros((28, 28), np.uint8), "PNG")
NOT_AN_IMAGE = "the upload is not a readable image (not PNG or JPEG)"
NOISE = encode(np.random.default_rng(0).integers(0, 256, (64, 64), np.uint8), "PNG")  # ~4 KB
HALF_A_PNG = NOISE[: len(NOISE) // 2]  # a valid header, half the pixel data


@pytest.mark.parametrize(
    ("data", "status", "detail"),
    [
        (b"just some text\n", 422, NOT_AN_IMAGE),
        (b"", 422, NOT_AN_IMAGE),
        (HALF_A_PNG, 422, "the upload is not a readable image (image file is truncated"),
        (encode(np.zeros((28, 28), np.uint8), "GIF"), 422, NOT_AN_IMAGE),
        (b"\x89PNG" + b"\0" * (2 * 1024 * 1024), 413, "the upload is larger than the 2 MiB"),
        (big_png, 422, "the upload is 4097x4096 pixels; at most 16,777,216 are accepted"),
    ],
    ids=["text", "empty", "truncated-png", "gif", "over-2-MiB", "too-many-pixels"],
)
def test_what_is_not_a_small_png_or_jpeg_is_refused(client, data, status, detail):
    reply = upload(client, data() if callable(data) else data)
    assert reply.status_code == status
    assert reply.json()["detail"].startswith(detail)


@pytest.mark.parametrize("top_k", ["0", "two"])
def test_a_bad_top_k_is_a_422(client, top_k):
    reply = upload(client, PNG, top_k=top_k)
    assert reply.status_code == 422 and reply.json()["detail"][0]["loc"] == ["body", "top_k"]


def test_more_classes_than_the_model_has_is_a_422(client):
    reply = upload(client, PNG, top_k="11")
    assert reply.status_code == 422
    assert reply.json()["detail"] == "top-k must be between 1 and 10, got 11"


def test_a_file_name_is_never_opened(client, tmp_path, fixture_images):
    """A path to a real image, sent as the field's text or as the upload's file name, is not
    read: only the uploaded bytes are."""
    path = tmp_path / "real.png"
    path.write_bytes(encode(fixture_images[0].numpy(), "PNG"))
    as_text = client.post("/api/classify", data={"file": str(path)})
    assert as_text.status_code == 422
    assert as_text.json()["detail"][0]["loc"] == ["body", "file"]
    as_name = upload(client, b"not an image", name=str(path))
    assert as_name.status_code == 422
    assert as_name.json()["detail"] == NOT_AN_IMAGE
    missing = client.post("/api/classify", data={"top_k": "3"})
    assert missing.status_code == 422 and missing.json()["detail"][0]["loc"] == ["body", "file"]


def test_a_resnet_without_se_has_no_gates(fixture_images):
    model = build_network(ModelConfig(arch="resnet20")).eval()
    assert gate_summary(model, fixture_images[0]) == []
    se = build_network(ModelConfig(arch="se_resnet20")).eval()
    assert [g["stage"] for g in gate_summary(se, fixture_images[0])] == [
        "stage1",
        "stage2",
        "stage3",
    ]
