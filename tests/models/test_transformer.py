"""The Transformer translator: incremental decoding against the full pass, masking, search,
the feed-forward / residual variants and their configuration errors."""

import pytest
import torch

from attnkit.attention import GatedResidual
from attnkit.decoding import beam_search, greedy_search
from attnkit.models.transformer import (
    Transformer,
    TransformerConfig,
    feed_forward,
    sinusoidal_positions,
)
from attnkit.specials import BOS_ID, EOS_ID

V = 40


def tiny(**kw) -> Transformer:
    torch.manual_seed(0)
    cfg = TransformerConfig(dim=32, heads=4, ff_dim=48, enc_layers=2, dec_layers=2, **kw)
    return Transformer(cfg, src_vocab=V, tgt_vocab=V).eval()


def batch():
    torch.manual_seed(1)
    lengths = torch.tensor([7, 4, 2])
    src = torch.randint(4, V, (3, 7))
    src[torch.arange(7)[None, :] >= lengths[:, None]] = 0  # padded past each length
    tgt = torch.randint(4, V, (3, 6))
    tgt[:, 0] = BOS_ID
    return src, lengths, tgt


VARIANTS = [
    {},
    {"feed_forward": "gelu", "residual": "gated"},
    {"feed_forward": "geglu", "kv_heads": 2},
    {"feed_forward": "relu", "share_embeddings": False, "tie_embeddings": False},
]


@pytest.mark.parametrize(
    "kw", VARIANTS, ids=lambda kw: ",".join(map(str, kw.values())) or "default"
)
def test_cached_steps_equal_the_full_pass(kw):
    model = tiny(**kw)
    src, lengths, tgt = batch()
    with torch.no_grad():
        logits, attn = model(src, lengths, tgt, return_attention=True)  # (B, Lt, V), (B, Lt, Ls)
        enc = model.encode(src, lengths)
        state = model.init_decoder_state(enc)
        steps, weights = [], []
        for t in range(tgt.size(1)):
            log_probs, state, w = model.decode_step(enc, state, tgt[:, t])
            steps.append(log_probs)
            weights.append(w)
    torch.testing.assert_close(
        torch.stack(steps, 1), torch.log_softmax(logits, -1), atol=2e-5, rtol=1e-5
    )
    torch.testing.assert_close(torch.stack(weights, 1), attn, atol=1e-6, rtol=1e-5)
    assert len(state.self_caches[0]) == tgt.size(1)  # one key per step, not recomputed


def test_attention_is_a_distribution_over_real_source_tokens_only():
    model = tiny()
    src, lengths, tgt = batch()
    with torch.no_grad():
        _, attn = model(src, lengths, tgt, return_attention=True)
        every = model.cross_attention(src, lengths, tgt)  # (B, N, H, Lt, Ls)
    assert every.shape == (3, 2, 4, 6, 7)
    torch.testing.assert_close(every[:, -1].mean(1), attn)
    torch.testing.assert_close(every.sum(-1), torch.ones(every.shape[:-1]))
    pad = torch.arange(7)[None, :] >= lengths[:, None]  # (B, Ls)
    assert every.masked_select(pad[:, None, None, None, :]).abs().max() == 0


def test_future_targets_and_source_padding_change_nothing():
    model = tiny()
    src, lengths, tgt = batch()
    with torch.no_grad():
        base, _ = model(src, lengths, tgt)
        changed = tgt.clone()
        changed[:, 4:] = 5  # later tokens: earlier positions must not see them
        after, _ = model(src, lengths, changed)
        longer = torch.cat([src, torch.zeros(3, 5, dtype=torch.long)], dim=1)  # more padding
        padded, _ = model(longer, lengths, tgt)
    torch.testing.assert_close(after[:, :4], base[:, :4])
    assert not torch.allclose(after[:, 4:], base[:, 4:])
    torch.testing.assert_close(padded, base, atol=1e-5, rtol=1e-5)


@pytest.mark.parametrize("search", ["greedy", "beam"])
def test_batched_search_equals_one_sentence_at_a_time(search):
    model = tiny(residual="gated")
    src, lengths, _ = batch()

    def run(s, n):
        if search == "greedy":
            return greedy_search(model, s, n, max_len=9).nbest
        return beam_search(model, s, n, beam_size=3, max_len=9, alpha=0.6).nbest

    together = run(src, lengths)
    for i in range(3):
        alone = run(src[i : i + 1, : lengths[i]], lengths[i : i + 1])[0]
        assert [h.tokens for h in together[i]] == [h.tokens for h in alone]
        for a, b in zip(together[i], alone, strict=True):
            assert a.score == pytest.approx(b.score, abs=1e-4)
            torch.testing.assert_close(a.attention, b.attention, atol=1e-5, rtol=1e-4)


def test_greedy_matches_a_naive_decoder_that_reruns_the_prefix():
    model = tiny(feed_forward="gelu")
    src, lengths, _ = batch()
    with torch.no_grad():
        out = greedy_search(model, src, lengths, max_len=8).nbest
        for i in range(3):
            prefix = [BOS_ID]
            for _ in range(8):
                logits, _ = model(src[i : i + 1], lengths[i : i + 1], torch.tensor([prefix]))
                token = int(logits[0, -1].argmax())
                if token == EOS_ID:
                    break
                prefix.append(token)
            assert out[i][0].tokens == prefix[1:]


def test_weights_are_tied_and_shared():
    model = tiny()
    assert model.output.weight is model.tgt_embed.weight
    assert model.src_embed is model.tgt_embed
    untied = tiny(share_embeddings=False, tie_embeddings=False)
    assert untied.num_parameters() == model.num_parameters() + 2 * V * 32


def test_gated_and_plain_feed_forwards_have_equal_weights():
    for dim, ff in ((32, 48), (256, 1024)):
        sizes = {}
        for kind in ("swiglu", "gelu"):
            net = feed_forward(dim, ff, kind, 0.0)
            sizes[kind] = sum(p.numel() for n, p in net.named_parameters() if n.endswith("weight"))
        assert sizes["swiglu"] == pytest.approx(sizes["gelu"], rel=0.002)


def test_gated_residual_combine_is_the_highway_formula():
    layer = GatedResidual(3, gate_bias=0.0)
    with torch.no_grad():
        layer.gate.weight.zero_()  # g = sigmoid(0) = 1/2 everywhere
    x, fx = torch.tensor([[2.0, 4.0, 6.0]]), torch.tensor([[0.0, 1.0, 2.0]])
    y, g = layer.combine(x, fx, return_gate=True)
    assert torch.equal(g, torch.full((1, 3), 0.5))
    assert y.tolist() == [[1.0, 2.5, 4.0]]


def test_positions_continue_where_the_cache_left_off():
    whole = sinusoidal_positions(9, 16)
    assert torch.equal(sinusoidal_positions(4, 16, start=5), whole[5:])


@pytest.mark.parametrize(
    ("kw", "message"),
    [
        ({"heads": 3}, "heads"),
        ({"feed_forward": "swish"}, "feed_forward"),
        ({"residual": "highway"}, "residual"),
        ({"dropout": 1.0}, "dropout"),
        ({"dec_layers": 0}, "dec_layers"),
    ],
)
def test_bad_config_names_the_field(kw, message):
    with pytest.raises(ValueError, match=message):
        TransformerConfig(**kw)


def test_shared_embeddings_need_one_vocabulary():
    with pytest.raises(ValueError, match="share_embeddings"):
        Transformer(TransformerConfig(dim=8, heads=2, ff_dim=8), src_vocab=10, tgt_vocab=12)
    Transformer(
        TransformerConfig(dim=8, heads=2, ff_dim=8, share_embeddings=False),
        src_vocab=10,
        tgt_vocab=12,
    )


def test_wrong_shapes_are_refused():
    model = tiny()
    src, lengths, tgt = batch()
    with pytest.raises(ValueError, match="src must be"):
        model.encode(src[0], lengths)
    with pytest.raises(ValueError, match="tgt_in must be"):
        model(src, lengths, tgt[:2])
