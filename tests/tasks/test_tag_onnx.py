"""The tagger through ONNX: emissions from onnxruntime, Viterbi in Python, same tags."""

import contextlib
import io
import json

import pytest
import torch

from attnkit.cli import main
from attnkit.data import tagging
from attnkit.errors import AttnkitError
from attnkit.tasks import open_run
from attnkit.tasks.tag.onnx import OnnxTagger
from attnkit.tasks.tag.task import tag_words


@pytest.fixture(scope="module")
def exported(tiny_tag_run, tmp_path_factory):
    """The tiny tag run exported once by `attnkit export`: (folder, its report).

    One export per process: a second export of a tagger in the same process gives a graph
    whose sentence length the exporter fixed at the example's (a known torch.onnx fallback
    problem; each `attnkit export` is its own process)."""
    run_dir, _, home = tiny_tag_run
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("ATTNKIT_HOME", str(home))
        folder = tmp_path_factory.mktemp("tag-onnx") / "export"
        out = io.StringIO()
        with contextlib.redirect_stdout(out):
            assert main(["export", "--model", str(run_dir), "--out", str(folder)]) == 0
    return folder, json.loads(out.getvalue())


def test_export_tags_like_pytorch(tiny_tag_run, use_home, exported):
    """`attnkit export` on a tag run: every dev tag the same, emissions within 1e-4; the
    folder tags new sentences (any length, padded batches) as the run does."""
    run_dir, _, home = tiny_tag_run
    use_home(home)
    folder, report = exported
    assert report["checked_sentences"] > 0 and report["same_tags"] == 1.0
    assert report["sentences_differ"] == 0 and report["max_abs_emission_diff"] < 1e-4

    run, onnx = open_run(run_dir), OnnxTagger(folder, threads=1)
    assert onnx.crf is not None  # the tiny tagger has a CRF: its scores travelled as JSON
    torch.testing.assert_close(onnx.crf.transitions, run.model.crf.transitions)
    sentences = tagging.load_splits(run.config.data)["test"][:12]
    for sentence in sentences:
        assert onnx.tag_words(sentence.words) == tag_words(run, sentence.words)
    batch = tagging.collate(tagging.encode(sentences, run.assets))  # padded, mixed lengths
    with torch.no_grad():
        want = run.model.decode(batch["words"], batch["chars"], batch["mask"])
    assert onnx.decode(batch["words"], batch["chars"], batch["mask"]) == want


def test_not_an_exported_tagger(tmp_path):
    with pytest.raises(AttnkitError, match="not an exported tagger"):
        OnnxTagger(tmp_path)
    (tmp_path / "tagger.json").write_text(json.dumps({"format": 1, "tags": ["n"]}))
    with pytest.raises(AttnkitError, match="export again"):
        OnnxTagger(tmp_path)


def test_cli_tags_with_an_exported_folder(tiny_tag_run, use_home, exported, tmp_path, capsys):
    """`attnkit tag --onnx DIR` prints the run's own tags (segmented input and jieba's words
    of raw text); bad combinations are clear errors with a non-zero exit."""
    run_dir, _, home = tiny_tag_run
    use_home(home)
    folder, _ = exported
    run = open_run(run_dir)
    words = tagging.load_splits(run.config.data)["test"][0].words
    assert main(["tag", "--onnx", str(folder), "--segmented", "--json", " ".join(words)]) == 0
    got = json.loads(capsys.readouterr().out)
    assert [g["tag"] for g in got] == tag_words(run, words)
    assert [g["word"] for g in got] == list(words)
    assert main(["tag", "--onnx", str(folder), "".join(words)]) == 0  # raw text: jieba
    assert main(["tag", "--model", str(run_dir), "--onnx", str(folder), "".join(words)]) == 1
    assert "not both" in capsys.readouterr().err
    assert main(["tag", "--onnx", str(folder), "--plot", str(tmp_path / "a.png"), "今天"]) == 1
    assert "no attention" in capsys.readouterr().err
