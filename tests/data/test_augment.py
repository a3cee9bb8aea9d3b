"""Batched augmentation: shapes, determinism, and agreement with a per-image loop."""

import pytest
import torch
import torch.nn.functional as F

from attnkit.data.augment import augment, random_crop, random_hflip


def _gen(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(seed)


def test_shape_dtype_and_determinism():
    x = torch.rand(16, 1, 28, 28)
    a = augment(x, padding=2, flip=True, generator=_gen(3))
    b = augment(x, padding=2, flip=True, generator=_gen(3))
    c = augment(x, padding=2, flip=True, generator=_gen(4))
    assert a.shape == x.shape and a.dtype == x.dtype
    torch.testing.assert_close(a, b, rtol=0, atol=0)
    assert not torch.equal(a, c)


def test_crop_is_a_window_of_the_padded_image():
    x = torch.rand(8, 2, 7, 5)
    padding = 3
    out = random_crop(x, padding, generator=_gen(0))
    g = _gen(0)  # replay the same draws: dy for all images, then dx
    dy = torch.randint(0, 2 * padding + 1, (8,), generator=g)
    dx = torch.randint(0, 2 * padding + 1, (8,), generator=g)
    padded = F.pad(x, (padding,) * 4)
    for i in range(8):
        window = padded[i, :, dy[i] : dy[i] + 7, dx[i] : dx[i] + 5]
        torch.testing.assert_close(out[i], window, rtol=0, atol=0)


def test_no_padding_and_flip_extremes():
    x = torch.rand(4, 1, 6, 6)
    assert random_crop(x, 0) is x
    torch.testing.assert_close(random_hflip(x, 1.0, generator=_gen(0)), x.flip(-1))
    torch.testing.assert_close(random_hflip(x, 0.0, generator=_gen(0)), x)
    flipped = random_hflip(x, 0.5, generator=_gen(1))
    for i in range(4):  # each image is either untouched or mirrored
        assert torch.equal(flipped[i], x[i]) or torch.equal(flipped[i], x[i].flip(-1))


def test_bad_arguments():
    with pytest.raises(ValueError, match=r"\(B, C, H, W\)"):
        random_crop(torch.rand(3, 28, 28), 2)
    with pytest.raises(ValueError, match="padding must be >= 0"):
        random_crop(torch.rand(1, 1, 4, 4), -1)
    with pytest.raises(ValueError, match="p must be in"):
        random_hflip(torch.rand(1, 1, 4, 4), 1.5)
