"""The classify task end to end on tiny IDX fixtures: train, eval, classify, explain."""

import json
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image

from attnkit.cli import main
from attnkit.config import load_config
from attnkit.data import fashion_mnist
from attnkit.data.images import load_image
from attnkit.errors import AttnkitError
from attnkit.paths import repo_configs_dir
from attnkit.tasks import classify, get_task, open_run, train

TASK = get_task("classify")


def _config(*overrides: str):
    return load_config(TASK.config_class, repo_configs_dir() / TASK.default_config, overrides)


@pytest.fixture(scope="module")
def run_dir(tmp_path_factory, fmnist_root) -> Path:
    cfg = _config(
        f"data.root={fmnist_root}",
        "data.validation_per_class=2",
        "data.batch_size=16",
        "data.eval_batch_size=16",
        "train.epochs=2",
        "train.warmup_steps=0",
        "train.progress=false",
    )
    run = tmp_path_factory.mktemp("run")
    torch.manual_seed(0)
    summary = train("classify", cfg, run)
    assert summary["steps"] == 4  # 40 training images // 16, two epochs
    assert summary["parameters"] == 275_218
    # the reported test accuracy against one computed here, outside the task's code paths
    images, labels = fashion_mnist.load_split("test", fmnist_root)
    x = (torch.from_numpy(images).float()[:, None] / 255 - fashion_mnist.MEAN) / fashion_mnist.STD
    with torch.no_grad():
        pred = open_run(run).model(x).argmax(-1).numpy()
    assert summary["test_accuracy"] == pytest.approx((pred == labels).mean(), abs=1e-6)
    return run


def test_se_resnet20_learns_real_handwritten_digits(digits_root, tmp_path):
    """Real images, the default recipe: 1,397 UCI digits (28x28), 6 epochs = 108 SGD steps.

    Chance is 10%; seeds 0 and 1 reach 95.0% and 95.25% on the 400 held-out digits.
    """
    cfg = _config(
        f"data.root={digits_root}",
        "data.validation_per_class=20",
        "data.batch_size=64",
        "data.flip=false",  # a mirrored 2 is not a 2
        "train.epochs=6",
        "train.warmup_steps=20",
        "train.bf16=false",
        "train.progress=false",
    )
    summary = train("classify", cfg, tmp_path / "run")
    assert summary["steps"] == 6 * ((1397 - 200) // 64)  # full batches only
    assert summary["test_accuracy"] >= 0.90


def test_default_config_loads_and_has_a_comment_on_every_key():
    path = repo_configs_dir() / TASK.default_config
    cfg = load_config(TASK.config_class, path)
    assert cfg.model.arch == "se_resnet20" and cfg.train.optimizer == "sgd"
    for line in path.read_text().splitlines():
        if line.strip() and not line.lstrip().startswith("#") and not line.endswith(":"):
            assert "#" in line, line


def test_train_writes_the_run_and_eval_reports_accuracy(run_dir, capsys):
    for name in ("config.yaml", "meta.json", "best/model.safetensors", "confusion_test.png"):
        assert (run_dir / name).exists(), name
    assert main(["eval", "--model", str(run_dir)]) == 0
    metrics = json.loads(capsys.readouterr().out)
    report = json.loads((run_dir / "eval_test.json").read_text())
    confusion = np.asarray(report["confusion"])
    assert confusion.sum() == 20
    assert metrics["accuracy"] == pytest.approx(np.trace(confusion) / 20)
    per_class = np.diag(confusion) / confusion.sum(1)
    assert list(report["per_class_accuracy"].values()) == pytest.approx(per_class.tolist())


def test_classify_cli_prints_top_k(run_dir, tmp_path, capsys):
    img = tmp_path / "photo.jpg"
    Image.new("RGB", (90, 60), (250, 250, 250)).save(img)  # any size and mode; light background
    assert main(["classify", "--model", str(run_dir), "--top-k", "2", str(img)]) == 0
    line = capsys.readouterr().out.strip()
    assert line.startswith(str(img))
    probs = [float(tok) for tok in line.split() if tok.replace(".", "").isdigit()]
    assert len(probs) == 2 and probs[0] >= probs[1]


@pytest.mark.parametrize(
    ("content", "message"), [(b"not an image at all", "not a readable image"), (None, "no such")]
)
def test_classify_cli_rejects_non_images(tmp_path, capsys, content, message):
    bad = tmp_path / "bad.png"
    if content is not None:
        bad.write_bytes(content)
    assert main(["classify", "--model", str(tmp_path), str(bad)]) == 1
    err = capsys.readouterr().err
    assert message in err


def test_load_image_any_mode_to_28x28(tmp_path):
    path = tmp_path / "rgba.png"
    im = Image.new("RGBA", (40, 100), (0, 0, 0, 255))
    im.paste((255, 255, 255, 255), (10, 10, 30, 90))
    im.save(path)
    out = load_image(path)
    assert out.shape == (28, 28) and out.dtype == torch.uint8
    assert out[:, :5].max() == 0 and out[14, 14] > 200  # centred, light object on black
    assert load_image(path, invert="yes")[14, 14] < 50
    with pytest.raises(AttnkitError, match="invert must be"):
        load_image(path, invert="maybe")


def test_explain_plots_per_class_gates(run_dir, tmp_path, capsys):
    out = tmp_path / "se.png"
    assert main(["explain", "classify", "--model", str(run_dir), "--out", str(out)]) == 0
    printed = capsys.readouterr().out
    assert "stage1:" in printed and "stage3:" in printed
    assert out.stat().st_size > 0
    report = json.loads(out.with_suffix(".json").read_text())
    means = {k: np.asarray(v) for k, v in report["mean_weights"].items()}
    assert means["stage3.block3"].shape == (10, 64)
    # specificity recomputed from the per-class means: std across classes, mean over channels
    stage2 = [means[f"stage2.block{j}"].std(axis=0).mean() for j in (1, 2, 3)]
    assert report["class_specificity"]["stage2"] == pytest.approx(np.mean(stage2))
    assert f"stage2: {np.mean(stage2):.4f}" in printed


def test_explain_other_task_is_a_clear_error(run_dir, capsys):
    assert main(["explain", "tag", "--model", str(run_dir)]) == 1
    assert "nothing to explain for 'tag'" in capsys.readouterr().err


def test_specificity_is_zero_for_identical_classes():
    assert classify.class_specificity(np.full((10, 16), 0.3)) == pytest.approx(0.0, abs=1e-12)
    assert classify.class_specificity(np.eye(2)) == pytest.approx(0.5)


def test_unknown_model_dir_is_a_clear_error(tmp_path):
    with pytest.raises(AttnkitError, match="not a run folder"):
        open_run(tmp_path)


def test_onnx_export_predicts_what_pytorch_predicts(run_dir, fmnist_root, tmp_path, capsys):
    import onnxruntime as ort

    from attnkit.data import fashion_mnist
    from attnkit.export import read_metadata

    out = tmp_path / "fmnist.onnx"
    assert main(["export", "--model", str(run_dir), "--out", str(out)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["onnx"] == str(out) and report["bytes"] == out.stat().st_size
    assert report["max_abs_logit_diff"] < 1e-4
    meta = read_metadata(out)
    assert meta["classes"] == list(fashion_mnist.CLASSES) and meta["arch"] == "se_resnet20"

    # The reference: the task's own prediction path on the test images (uint8, normalised
    # outside the network); the ONNX graph gets raw [0, 1] pixels, any batch size.
    images, _ = fashion_mnist.load_split("test", fmnist_root)
    images = torch.from_numpy(images)  # (N, 28, 28) uint8
    want = classify.predict_logits(open_run(run_dir).model, images)  # (N, K)
    session = ort.InferenceSession(str(out), providers=["CPUExecutionProvider"])
    pixels = images.float().div(255)[:, None].numpy()  # (N, 1, 28, 28)
    for batch in (pixels[:1], pixels[:7], pixels):
        got = torch.from_numpy(session.run(["logits"], {"images": batch})[0])
        torch.testing.assert_close(got, want[: len(batch)], atol=1e-4, rtol=1e-4)


def test_onnx_export_of_other_tasks_is_a_clear_error(tmp_path, capsys):
    assert main(["export", "--model", str(tmp_path / "nowhere")]) == 1
    assert "not a run folder" in capsys.readouterr().err
    (tmp_path / "meta.json").write_text(json.dumps({"task": "summarize"}))
    assert main(["export", "--model", str(tmp_path)]) == 1
    err = capsys.readouterr().err
    assert "'summarize' model; ONNX export exists for classify, translate and tag models" in err


def test_onnx_bench_scores_the_runs_test_split(run_dir, fmnist_root, tmp_path):
    from attnkit.bench import onnx as bench_onnx
    from attnkit.data import fashion_mnist

    argv = ["--model", str(run_dir), "--batches", "2", "--repeats", "1", "--out", str(tmp_path)]
    assert bench_onnx.main(argv) == 0
    test = json.loads((tmp_path / "onnx-latest.json").read_text())["test_split"]
    images, labels = fashion_mnist.load_split("test", fmnist_root)
    model = open_run(run_dir).model
    pred = classify.predict_logits(model, torch.from_numpy(images)).argmax(-1).numpy()
    assert test["images"] == len(labels) == 20
    assert test["accuracy_torch"] == pytest.approx((pred == labels).mean())
    assert test["same_top1"] == 20 and test["max_abs_logit_diff"] < 1e-4
    assert test["accuracy_onnxruntime"] == test["accuracy_torch"]
