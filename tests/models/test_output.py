"""The decoding step's log-probabilities: exact in float32, a bfloat16 product on request."""

import pytest
import torch
import torch.nn.functional as F

from attnkit.decoding import beam_search
from attnkit.decoding.batched import DecodeConfig, decode_batched
from attnkit.models.output import bf16_logits, step_log_probs
from attnkit.models.seq2seq import seq2seq_bahdanau_small


@pytest.mark.parametrize("bias", [False, True])
def test_float32_step_equals_log_softmax_of_the_layer(bias):
    layer = torch.nn.Linear(16, 50, bias=bias)
    x = torch.randn(7, 16)
    with torch.no_grad():
        got = step_log_probs(layer, x)  # written over its own logits
        ref = torch.log_softmax(layer(x), dim=-1)
    assert got.dtype == torch.float32 and torch.equal(got, ref)


def test_step_keeps_gradients_when_asked():
    layer = torch.nn.Linear(8, 12)
    x = torch.randn(3, 8, requires_grad=True)
    step_log_probs(layer, x)[:, 4].sum().backward()
    ref_x = x.detach().clone().requires_grad_()
    torch.log_softmax(layer(ref_x), dim=-1)[:, 4].sum().backward()
    assert torch.allclose(x.grad, ref_x.grad)


@pytest.mark.parametrize("bias", [False, True])
def test_bf16_product_matches_a_bfloat16_reference(bias):
    layer = torch.nn.Linear(32, 40, bias=bias)
    x = torch.randn(5, 32)
    with torch.no_grad(), bf16_logits():
        got = step_log_probs(layer, x)
    logits = F.linear(x.bfloat16(), layer.weight.detach().bfloat16()).float()
    if bias:
        logits = logits + layer.bias.detach()
    assert got.dtype == torch.float32
    assert torch.allclose(got, torch.log_softmax(logits, -1), atol=1e-5)
    exact = torch.log_softmax(layer(x), -1).detach()
    assert not torch.equal(got, exact) and torch.allclose(got, exact, atol=0.1)


def test_bf16_weight_copy_follows_an_optimizer_step():
    layer = torch.nn.Linear(8, 6, bias=False)
    x = torch.randn(2, 8)
    with torch.no_grad(), bf16_logits():
        before = step_log_probs(layer, x)
        layer.weight.mul_(-1.0)  # what an optimizer step does: an in-place change
        after = step_log_probs(layer, x)
    ref = torch.log_softmax(F.linear(x.bfloat16(), layer.weight.bfloat16()).float(), -1)
    assert torch.allclose(after, ref, atol=1e-5) and not torch.allclose(after, before)


def test_bf16_context_ends_with_its_block():
    layer = torch.nn.Linear(8, 6)
    x = torch.randn(2, 8)
    with torch.no_grad():
        with bf16_logits():
            pass
        with bf16_logits(enabled=False):
            off = step_log_probs(layer, x)
        assert torch.equal(step_log_probs(layer, x), off)
        assert torch.equal(off, torch.log_softmax(layer(x), -1))


def test_decode_batched_bf16_is_beam_search_inside_the_context():
    torch.manual_seed(0)
    model = seq2seq_bahdanau_small(src_vocab=30, tgt_vocab=30).eval()
    src = [[5, 6, 7, 8, 3], [9, 10, 11, 3]]
    cfg = DecodeConfig(beam_size=3, max_len=8, bf16=True)
    got = decode_batched(model, src, cfg, torch.device("cpu"))
    for sentence, hyps in zip(src, got, strict=True):
        with bf16_logits():
            ref = beam_search(
                model, torch.tensor([sentence]), torch.tensor([len(sentence)]),
                beam_size=3, max_len=8, alpha=cfg.alpha,
            )  # fmt: skip
        assert hyps[0].tokens == ref[0][0].tokens
        assert hyps[0].score == pytest.approx(ref[0][0].score, abs=1e-4)


def test_decode_config_rejects_an_unknown_precision():
    with pytest.raises(ValueError, match=r"decode\.bf16"):
        DecodeConfig(bf16="fast")
