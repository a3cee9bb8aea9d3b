"""CIFAR-style (SE-)ResNet: parameter counts, shapes, SE placement and gates, overfitting."""

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from attnkit.models.se_resnet import (
    BasicBlock,
    SEResNet,
    SEResNetConfig,
    resnet20,
    resnet56,
    se_resnet20,
    se_resnet56,
)


def _count(model: nn.Module) -> int:
    return sum(p.numel() for p in model.parameters())


@pytest.mark.parametrize(
    ("builder", "expected"),
    [(resnet20, 269_434), (se_resnet20, 275_218), (resnet56, 852_730), (se_resnet56, 870_082)],
)
def test_documented_parameter_counts(builder, expected):
    assert _count(builder()) == expected  # the sums in the module docstring


def test_parameter_counts_of_the_variants():
    assert _count(resnet20(in_channels=3)) == 269_722  # He et al.'s 0.27M CIFAR ResNet-20
    assert _count(resnet20(shortcut="B")) - _count(resnet20()) == 2_752
    assert _count(se_resnet20(num_classes=100)) - _count(se_resnet20()) == 90 * 64 + 90


@pytest.mark.parametrize("builder", [resnet20, se_resnet20])
def test_output_shape_and_finite(builder):
    model = builder().eval()
    logits = model(torch.randn(3, 1, 28, 28))
    assert logits.shape == (3, 10) and logits.dtype == torch.float32
    assert torch.isfinite(logits).all()
    assert model(torch.randn(2, 1, 32, 20)).shape == (2, 10)  # any size after the stem


def test_se_gates_are_in_open_unit_interval():
    model = se_resnet20().eval()
    _, weights = model(torch.randn(4, 1, 28, 28), return_channel_weights=True)
    assert list(weights) == model.block_names()
    for name, w in weights.items():
        channels = {"stage1": 16, "stage2": 32, "stage3": 64}[name.split(".")[0]]
        assert w.shape == (4, channels)
        assert ((w > 0) & (w < 1)).all()
    _, none = resnet20().eval()(torch.randn(1, 1, 28, 28), return_channel_weights=True)
    assert none == {}


def test_se_gates_the_residual_branch_before_the_addition():
    block = BasicBlock(16, 32, stride=2, se=True).eval()
    x = torch.randn(2, 16, 8, 8)
    identity = F.pad(x[:, :, ::2, ::2], (0, 0, 0, 0, 0, 16))  # option A shortcut
    branch = block.bn2(block.conv2(F.relu(block.bn1(block.conv1(x)))))
    out, w = block(x, return_weights=True)
    torch.testing.assert_close(out, F.relu(branch * w[:, :, None, None] + identity))

    class Zero(nn.Module):  # a closed gate leaves only the shortcut
        def forward(self, h, return_weights=False):
            return (h * 0, h.new_zeros(h.shape[:2])) if return_weights else h * 0

    block.se = Zero()
    torch.testing.assert_close(block(x), F.relu(identity))


def test_channels_last_and_bf16_agree_with_fp32():
    torch.manual_seed(0)
    ref = se_resnet20().eval()
    x = torch.randn(4, 1, 28, 28)
    fast = se_resnet20(channels_last=True).eval()
    fast.load_state_dict(ref.state_dict())
    torch.testing.assert_close(fast(x), ref(x), rtol=1e-4, atol=1e-4)
    half = se_resnet20(channels_last=True, bf16=True).eval()
    half.load_state_dict(ref.state_dict())
    out = half(x)
    assert out.dtype == torch.float32
    torch.testing.assert_close(out, ref(x), rtol=0.1, atol=0.15)


def test_an_outer_autocast_is_not_switched_off():
    model = resnet20().eval()  # bf16=False must leave the caller's (the Trainer's) autocast on
    seen = []
    model.stem[0].register_forward_hook(lambda mod, inp, out: seen.append(out.dtype))
    with torch.autocast("cpu", dtype=torch.bfloat16):
        logits = model(torch.randn(2, 1, 28, 28))
    assert seen == [torch.bfloat16] and logits.dtype == torch.float32


def test_bad_config_is_a_value_error():
    with pytest.raises(ValueError, match="6n \\+ 2"):
        SEResNet(SEResNetConfig(depth=21))
    with pytest.raises(ValueError, match="unknown shortcut 'C'"):
        resnet20(shortcut="C")
    with pytest.raises(ValueError, match="expected images"):
        resnet20()(torch.randn(2, 3, 28, 28))


def test_resnet20_overfits_64_images():
    torch.manual_seed(0)
    x = torch.randn(64, 1, 16, 16)
    y = torch.arange(64) % 10
    model = resnet20()
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    for _ in range(40):
        loss = F.cross_entropy(model(x), y)
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    assert (model(x).argmax(-1) == y).float().mean() == 1.0
