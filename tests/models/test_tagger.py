"""Tagger: shapes, padding invariance, the ablation switches, attention weights."""

import math

import pytest
import torch

from attnkit.models.tagger import Tagger, TaggerConfig

SMALL = dict(word_dim=8, char_dim=4, char_channels=6, lstm_hidden=8, num_heads=2, ffn_dim=16)


def _model(**kw) -> Tagger:
    torch.manual_seed(0)
    cfg = TaggerConfig(**{**SMALL, "attention_layers": 2, **kw})
    return Tagger(cfg, num_words=20, num_chars=15, num_tags=5).eval()


def _batch():
    g = torch.Generator().manual_seed(1)
    short_w = torch.randint(1, 20, (3,), generator=g)
    short_c = torch.randint(1, 15, (3, 2), generator=g)
    long_w = torch.randint(1, 20, (7,), generator=g)
    long_c = torch.randint(1, 15, (7, 4), generator=g)
    long_c[:, 3] = 0  # some character padding inside real words too
    words = torch.zeros(2, 7, dtype=torch.long)
    chars = torch.zeros(2, 7, 4, dtype=torch.long)
    words[0, :3], chars[0, :3, :2] = short_w, short_c
    words[1], chars[1] = long_w, long_c
    return (short_w, short_c), (words, chars)


@pytest.mark.parametrize("crf", [True, False])
@pytest.mark.parametrize(("lstm", "layers"), [(1, 0), (1, 2), (0, 2), (0, 0)])
def test_padding_does_not_change_real_positions(crf, lstm, layers):
    model = _model(crf=crf, lstm_layers=lstm, attention_layers=layers)
    (w, c), (words, chars) = _batch()
    alone = model(w[None], c[None])  # (1, 3, T)
    batched = model(words, chars)  # (2, 7, T)
    assert batched.shape == (2, 7, 5)
    torch.testing.assert_close(batched[0, :3], alone[0], atol=1e-5, rtol=1e-5)
    assert model.decode(words, chars)[0] == model.decode(w[None], c[None])[0]
    tags = torch.randint(0, 5, (2, 7))
    # The loss of the short sentence alone equals its share in the batch (no padding leaks).
    loss_alone = model.loss(w[None], c[None], tags[:1, :3])
    loss_long = model.loss(words[1:], chars[1:], tags[1:])
    loss_both = model.loss(words, chars, tags)
    torch.testing.assert_close(loss_both, (3 * loss_alone + 7 * loss_long) / 10, atol=1e-5, rtol=0)


def test_loss_backward_and_decode_lengths():
    model = _model().train()
    _, (words, chars) = _batch()
    tags = torch.randint(0, 5, (2, 7))
    loss = model.loss(words, chars, tags)
    loss.backward()
    assert torch.isfinite(loss)
    assert model.emit.weight.grad is not None and model.crf.transitions.grad is not None
    assert [len(p) for p in model.eval().decode(words, chars)] == [3, 7]


def test_attention_weights_one_sentence():
    model = _model()
    (w, c), _ = _batch()
    weights = model.attention_weights(w, c, layer=0)
    assert weights.shape == (2, 3, 3)
    torch.testing.assert_close(weights.sum(-1), torch.ones(2, 3))
    with pytest.raises(ValueError, match="no self-attention"):
        _model(attention_layers=0).attention_weights(w, c)


def test_ablation_has_no_attention_no_crf_and_unseen_words_use_characters():
    model = _model(attention_layers=0, crf=False)
    assert len(model.blocks) == 0 and model.crf is None
    model = _model()
    chars = torch.tensor([[[3, 4], [5, 0]]])
    unk = torch.tensor([[1, 1]])  # both words unknown: characters still tell them apart
    em = model(unk, chars)
    assert not torch.allclose(em[0, 0], em[0, 1])


def test_sinusoidal_positions_match_the_formula():
    from attnkit.models.tagger import sinusoidal_positions

    pe = sinusoidal_positions(5, 6)
    for pos in range(5):
        for i in range(3):
            angle = pos / 10000 ** (2 * i / 6)
            assert pe[pos, 2 * i].item() == pytest.approx(math.sin(angle), abs=1e-6)
            assert pe[pos, 2 * i + 1].item() == pytest.approx(math.cos(angle), abs=1e-6)


def test_without_lstm_attention_is_the_only_context():
    (w, c), _ = _batch()
    for layers, context in ((0, False), (2, True)):
        model = _model(lstm_layers=0, attention_layers=layers)
        assert model.lstm is None
        em = model(w[None], c[None])  # (1, 3, T)
        changed = w.clone()
        changed[2] = (changed[2] + 1) % 19 + 1  # another word at the last position
        em2 = model(changed[None], c[None])
        # the first word's scores move only if something carries context to it
        assert torch.allclose(em[0, 0], em2[0, 0]) is not context


def test_bad_config():
    with pytest.raises(ValueError, match="must divide"):
        Tagger(TaggerConfig(lstm_hidden=5, num_heads=4), num_words=5, num_chars=5, num_tags=3)
