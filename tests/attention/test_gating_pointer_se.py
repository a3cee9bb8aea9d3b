"""Gating (GLU family, highway), pointer/copy mixing, squeeze-excitation and the layer factory:
references against torch ops, hand-computed cases, gradcheck."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attnkit.attention import (
    ATTENTION_LAYERS,
    GatedResidual,
    GatedUnit,
    GenerationGate,
    SqueezeExcitation,
    copy_distribution,
    get_attention,
    mix,
)
from attnkit.attention.gating import GATE_ACTIVATIONS

# ----------------------------------------------------------------------------- gating


def test_glu_equals_torch_glu():
    glu = GatedUnit(6, 4, activation="sigmoid")
    x = torch.randn(2, 3, 6)
    torch.testing.assert_close(glu(x), F.glu(glu.proj(x), dim=-1))


@pytest.mark.parametrize(
    ("activation", "ref"),
    [("gelu", F.gelu), ("silu", lambda t: t * torch.sigmoid(t)), ("relu", F.relu),
     ("tanh", torch.tanh), ("identity", lambda t: t)],
)  # fmt: skip
def test_glu_variants_against_manual_formula(activation, ref):
    glu = GatedUnit(5, 3, activation=activation)
    x = torch.randn(4, 5)
    W, b = glu.proj.weight, glu.proj.bias
    value = x @ W[:3].T + b[:3]
    gate = x @ W[3:].T + b[3:]
    torch.testing.assert_close(glu(x), value * ref(gate))


def test_glu_bad_activation_lists_valid_ones():
    with pytest.raises(ValueError, match=", ".join(GATE_ACTIVATIONS)):
        GatedUnit(4, activation="softplus")


def test_gated_residual_formula_and_limits():
    layer = GatedResidual(4).double()
    x = torch.randn(3, 4, dtype=torch.float64)
    y, g = layer(x, return_gate=True)
    fx = F.relu(layer.transform[0](x))
    ref_g = torch.sigmoid(layer.gate(x))
    torch.testing.assert_close(g, ref_g)
    torch.testing.assert_close(y, ref_g * fx + (1 - ref_g) * x)
    assert ((g > 0) & (g < 1)).all()
    closed = GatedResidual(4, gate_bias=-60.0).double()  # gate ~ 0: identity ("jump")
    torch.testing.assert_close(closed(x), x)
    opened = GatedResidual(4, transform=nn.Tanh(), gate_bias=60.0).double()  # gate ~ 1: F(x)
    torch.testing.assert_close(opened(x), torch.tanh(x))


def test_gating_gradcheck():
    x = torch.randn(2, 4, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(GatedUnit(4, 3, activation="gelu").double(), (x,))
    assert torch.autograd.gradcheck(GatedResidual(4).double(), (x,))


# ----------------------------------------------------------------------------- pointer


def test_copy_distribution_matches_a_loop_and_sums_repeats():
    weights = torch.softmax(torch.randn(3, 2, 6, dtype=torch.float64), -1)  # (B, Lq, Lk)
    src = torch.randint(0, 9, (3, 6))
    src[0, :3] = 4  # a repeated word
    out = copy_distribution(weights, src, extended_vocab_size=9)
    ref = torch.zeros(3, 2, 9, dtype=torch.float64)
    for b in range(3):
        for t in range(2):
            for i in range(6):
                ref[b, t, src[b, i]] += weights[b, t, i]
    torch.testing.assert_close(out, ref)
    torch.testing.assert_close(out.sum(-1), torch.ones(3, 2, dtype=torch.float64))
    two_d = copy_distribution(weights[:, 0], src, 9)
    torch.testing.assert_close(two_d, ref[:, 0])


def test_copy_distribution_errors():
    with pytest.raises(ValueError, match=r"lie in \[0, 5\)"):
        copy_distribution(torch.ones(1, 2) / 2, torch.tensor([[1, 5]]), 5)
    with pytest.raises(ValueError, match="long"):
        copy_distribution(torch.ones(1, 2) / 2, torch.tensor([[1.0, 2.0]]), 5)
    with pytest.raises(ValueError, match="weights must be"):
        copy_distribution(torch.ones(1, 3) / 3, torch.tensor([[1, 2]]), 5)


def test_mix_hand_computed():
    p_gen = torch.tensor([[0.25]])
    vocab = torch.tensor([[0.5, 0.5]])  # V = 2
    copy = torch.tensor([[0.0, 0.0, 1.0]])  # all attention on a source OOV (id 2)
    out = mix(p_gen, vocab, copy)
    torch.testing.assert_close(out, torch.tensor([[0.125, 0.125, 0.75]]))
    torch.testing.assert_close(mix(torch.tensor([1.0]), vocab, copy), torch.tensor([[0.5, 0.5, 0]]))


def test_mix_is_a_distribution_and_log_mode_is_finite():
    vocab = torch.softmax(torch.randn(2, 3, 5, dtype=torch.float64), -1)
    attn = torch.softmax(torch.randn(2, 3, 4, dtype=torch.float64), -1)
    src = torch.tensor([[1, 5, 6, 1], [0, 2, 3, 4]])
    p_gen = torch.rand(2, 3, dtype=torch.float64, requires_grad=True)
    copy = copy_distribution(attn, src, 7)
    out = mix(p_gen, vocab, copy)
    torch.testing.assert_close(out.sum(-1), torch.ones(2, 3, dtype=torch.float64))
    logp = mix(p_gen, vocab, copy, log=True)
    assert torch.isfinite(logp).all()  # word 6 has probability 0 in row 1
    torch.testing.assert_close(logp.exp(), out, atol=1e-300, rtol=1e-12)
    logp[..., 6].sum().backward()
    assert torch.isfinite(p_gen.grad).all()
    with pytest.raises(ValueError, match="p_gen must be"):
        mix(torch.rand(2, 2), vocab, copy)


def test_generation_gate():
    gate = GenerationGate(4, 3, 2)
    c, s, x = torch.randn(5, 4), torch.randn(5, 3), torch.randn(5, 2)
    p = gate(c, s, x)
    torch.testing.assert_close(p, torch.sigmoid(gate.proj(torch.cat([c, s, x], -1))))
    assert ((p > 0) & (p < 1)).all()


# ----------------------------------------------------------------------------- squeeze-excite


def test_se_matches_manual_and_gate_is_in_unit_interval():
    se = SqueezeExcitation(32, reduction=4)
    x = torch.randn(2, 32, 5, 7)
    y, s = se(x, return_weights=True)
    ref_s = torch.sigmoid(se.fc2(F.relu(se.fc1(x.mean(dim=(2, 3))))))
    torch.testing.assert_close(s, ref_s)
    torch.testing.assert_close(y, x * ref_s[:, :, None, None])
    assert ((s > 0) & (s < 1)).all()
    cl = se(x.contiguous(memory_format=torch.channels_last))
    torch.testing.assert_close(cl, y)


def test_se_with_zero_weights_halves_the_input():
    se = SqueezeExcitation(16)
    for p in se.parameters():
        nn.init.zeros_(p)
    x = torch.randn(3, 16, 4, 4)
    torch.testing.assert_close(se(x), 0.5 * x)


@pytest.mark.parametrize(
    ("channels", "reduction", "hidden"), [(64, 16, 8), (256, 16, 16), (16, 4, 8)]
)
def test_se_bottleneck_and_parameter_count(channels, reduction, hidden):
    se = SqueezeExcitation(channels, reduction=reduction, min_channels=8)
    assert se.fc1.out_features == hidden
    assert sum(p.numel() for p in se.parameters()) == 2 * channels * hidden + hidden + channels


def test_se_gradcheck_and_errors():
    se = SqueezeExcitation(8, reduction=2).double()
    x = torch.randn(2, 8, 3, 3, dtype=torch.float64, requires_grad=True)
    assert torch.autograd.gradcheck(se, (x,))
    with pytest.raises(ValueError, match=r"expected \(B, 8, H, W\)"):
        se(torch.randn(2, 4, 3, 3, dtype=torch.float64))


# ----------------------------------------------------------------------------- factory


def test_factory_names_and_bad_name():
    assert get_attention("SE") is SqueezeExcitation
    assert get_attention("bahdanau").__name__ == "AdditiveAttention"
    for cls in ATTENTION_LAYERS.values():
        assert issubclass(cls, nn.Module)
    with pytest.raises(ValueError, match=r"valid: .*bahdanau.*se"):
        get_attention("flash")
