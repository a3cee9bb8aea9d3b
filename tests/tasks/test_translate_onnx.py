"""Translators through ONNX: the traced graphs equal the model, the exported graphs run by
onnxruntime equal PyTorch (log-probs, attention, greedy and beam search), and the commands
`attnkit export` / `attnkit translate --onnx` work and fail clearly."""

import json

import pytest
import torch

from attnkit.cli import main
from attnkit.decoding.batched import DecodeConfig, decode_batched
from attnkit.errors import AttnkitError
from attnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig
from attnkit.models.transformer import Transformer, TransformerConfig
from attnkit.tasks.translate.onnx_graphs import EncoderGraph, StepGraph, graph_spec

V = 30
SOURCES = [[5, 6, 7, 8, 9, 3], [7, 3], [4, 12, 3], [9, 9, 8, 7, 6, 5, 4, 11, 3], [13, 3]]


def _models() -> dict[str, Seq2Seq | Transformer]:
    torch.manual_seed(0)
    return {
        "rnn": Seq2Seq(
            Seq2SeqConfig(
                emb_dim=16, hidden_dim=32, enc_layers=2, dec_layers=2, self_attention_heads=2
            ),
            src_vocab=V,
            tgt_vocab=V,
        ),
        "transformer": Transformer(
            TransformerConfig(
                dim=32, heads=4, kv_heads=2, ff_dim=48, enc_layers=2, dec_layers=2, residual="gated"
            ),
            src_vocab=V,
            tgt_vocab=V,
        ),
    }


@pytest.mark.parametrize("arch", ["rnn", "transformer"])
def test_graphs_equal_the_model_step_by_step(arch):
    """The encoder and step graphs (in PyTorch) give decode_step's log-probs and attention at
    every step of a padded batch, the state passed between steps as plain tensors."""
    model = _models()[arch].eval()
    spec = graph_spec(model)
    src = torch.tensor([[5, 6, 7, 8, 3], [7, 9, 3, 0, 0], [4, 3, 0, 0, 0]])
    lengths = torch.tensor([5, 3, 2])
    with torch.no_grad():
        tensors = dict(zip(spec.encoder_outputs, EncoderGraph(model)(src, lengths), strict=True))
        for name, (shape, _) in spec.empty_state.items():
            tensors[name] = torch.zeros([3 if d == -1 else d for d in shape])
        enc = model.encode(src, lengths)
        state = model.init_decoder_state(enc)
        prev = torch.full((3,), 2)
        for step in range(5):
            log_probs, state, attention = model.decode_step(enc, state, prev)
            got = StepGraph(model)(
                prev, torch.tensor([step]), *[tensors[n] for n in spec.memory + spec.state]
            )
            torch.testing.assert_close(got[0], log_probs, atol=1e-5, rtol=0)
            torch.testing.assert_close(got[1], attention, atol=1e-6, rtol=0)
            tensors.update(zip(spec.state, got[2:], strict=True))
            prev = log_probs.argmax(-1)


def test_lstm_encoders_and_coverage_are_refused_clearly():
    lstm = Seq2Seq(Seq2SeqConfig(emb_dim=8, hidden_dim=8, rnn="lstm"), src_vocab=V, tgt_vocab=V)
    with pytest.raises(AttnkitError, match="GRU encoders"):
        graph_spec(lstm)
    covered = Seq2Seq(Seq2SeqConfig(emb_dim=8, hidden_dim=8, coverage=True), src_vocab=V,
                      tgt_vocab=V)  # fmt: skip
    with pytest.raises(AttnkitError, match="coverage"):
        graph_spec(covered)


@pytest.fixture(scope="module")
def exported(tmp_path_factory):
    """Both tiny models exported once: {arch: (model, OnnxStepModel)}."""
    import dataclasses

    from attnkit.tasks.translate.onnx_export import export_graphs
    from attnkit.tasks.translate.onnx_runtime import FORMAT, MANIFEST, OnnxStepModel

    out = {}
    for arch, model in _models().items():
        folder = tmp_path_factory.mktemp(f"onnx_{arch}")
        spec = export_graphs(model.eval(), folder, max_output_tokens=40)
        manifest = {"format": FORMAT, "spec": dataclasses.asdict(spec)}
        (folder / MANIFEST).write_text(json.dumps(manifest))
        out[arch] = (model, OnnxStepModel(folder, threads=1))
    return out


@pytest.mark.parametrize("arch", ["rnn", "transformer"])
def test_onnxruntime_equals_pytorch_on_padded_batches(exported, arch):
    """Log-probs within 1e-4 and attention within 1e-5 at every step of padded batches (the
    cache of the Transformer growing from empty), and the same greedy choices."""
    from attnkit.tasks.translate.onnx_export import parity

    model, onnx_model = exported[arch]
    report = parity(model, onnx_model, SOURCES, DecodeConfig(max_len=12), batch_size=3)
    assert report["checked_steps"] == 2 * 12 and report["checked_sentences"] == 5
    assert report["max_abs_log_prob_diff"] < 1e-4, report
    assert report["max_abs_attention_diff"] < 1e-5, report
    assert report["greedy_differs"] == 0


@pytest.mark.parametrize("arch", ["rnn", "transformer"])
@pytest.mark.parametrize("beam", [1, 3])
def test_search_over_onnxruntime_finds_the_same_hypotheses(exported, arch, beam):
    """The search code drives the ONNX step model as it drives PyTorch's (reordering its
    tensors by their batch axes): same tokens, same scores, same attention."""
    model, onnx_model = exported[arch]
    cfg = DecodeConfig(beam_size=beam, max_len=10, batch_sentences=2)
    want = decode_batched(model.eval(), SOURCES, cfg, torch.device("cpu"), greedy=beam == 1)
    got = decode_batched(onnx_model, SOURCES, cfg, torch.device("cpu"), greedy=beam == 1)
    for w, g in zip(want, got, strict=True):
        assert [h.tokens for h in g] == [h.tokens for h in w]
        assert [h.score for h in g] == pytest.approx([h.score for h in w], abs=1e-4)
        torch.testing.assert_close(g[0].attention, w[0].attention, atol=1e-5, rtol=0)


def test_export_and_translate_with_onnx(tiny_translate_run, use_home, tmp_path, capsys):
    """`attnkit export` writes a folder a runtime can loop over; `attnkit translate --onnx`
    gives the run's own translations, n-best scores and attention plot."""
    run, _, home = tiny_translate_run
    use_home(home)
    folder = tmp_path / "onnx"
    assert main(["export", "--model", str(run), "--out", str(folder)]) == 0
    report = json.loads(capsys.readouterr().out)
    assert report["max_abs_log_prob_diff"] < 1e-4 and report["greedy_differs"] == 0
    assert report["checked_sentences"] > 0
    assert {p.name for p in folder.iterdir()} >= {"encoder.onnx", "decoder_step.onnx",
                                                 "translator.json"}  # fmt: skip

    args = ["--beam", "2", "--n-best", "2", "dos tres", "uno"]
    assert main(["translate", "--model", str(run), *args]) == 0
    want = capsys.readouterr().out
    png = tmp_path / "onnx.png"
    assert main(["translate", "--onnx", str(folder), "--plot", str(png), *args]) == 0
    got = capsys.readouterr().out
    assert [line.split("\t")[0] for line in got.splitlines()] == [
        line.split("\t")[0] for line in want.splitlines()
    ]
    assert got.splitlines()[0].startswith("two three\t")
    scores = [[float(line.split("\t")[1]) for line in out.splitlines()] for out in (got, want)]
    assert scores[0] == pytest.approx(scores[1], abs=1e-3)
    assert png.read_bytes()[:4] == b"\x89PNG"


def test_translate_onnx_errors(tiny_translate_run, use_home, tmp_path, capsys):
    """Not an export, a corrupt manifest, a missing graph, --model with --onnx: a clear
    message and exit 1."""
    run, _, home = tiny_translate_run
    use_home(home)
    assert main(["translate", "--onnx", str(tmp_path), "uno"]) == 1
    assert "is not an exported translator" in capsys.readouterr().err
    (tmp_path / "translator.json").write_text("{not json")
    assert main(["translate", "--onnx", str(tmp_path), "uno"]) == 1
    assert "cannot read" in capsys.readouterr().err
    (tmp_path / "translator.json").write_text(json.dumps({"format": 1, "spec": {}}))
    assert main(["translate", "--onnx", str(tmp_path), "uno"]) == 1
    assert "translator.json" in capsys.readouterr().err
    both = ["translate", "--onnx", str(tmp_path), "--model", str(run), "uno"]
    assert main(both) == 1
    assert "not both" in capsys.readouterr().err
