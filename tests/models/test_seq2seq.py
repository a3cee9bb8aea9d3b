"""Seq2Seq (Bahdanau / Luong attention, input feeding) and the label-smoothed loss.

Shape tests over every rnn x attention x self-attention combination, equivalence of
step-by-step decoding with teacher forcing, masking, a toy task the model must learn,
and the loss against a hand-computed value.
"""

from __future__ import annotations

import math

import pytest
import torch

from attnkit.models.losses import label_smoothed_cross_entropy
from attnkit.models.seq2seq import (
    ATTENTION_TYPES,
    RNN_TYPES,
    Seq2Seq,
    Seq2SeqConfig,
    seq2seq_bahdanau_small,
)

V_SRC, V_TGT = 23, 19


def tiny(**kw) -> Seq2Seq:
    cfg = dict(emb_dim=12, hidden_dim=16, dropout=0.0, tie_embeddings=False)
    cfg.update(kw)
    return Seq2Seq(Seq2SeqConfig(**cfg), src_vocab=V_SRC, tgt_vocab=V_TGT)


def batch(B: int = 3, Ls: int = 7, Lt: int = 5, seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    lengths = torch.tensor([Ls, 4, 1][:B] + [Ls] * max(0, B - 3))
    src = torch.randint(4, V_SRC, (B, Ls), generator=g)
    src[torch.arange(Ls)[None, :] >= lengths[:, None]] = 0
    tgt_in = torch.randint(4, V_TGT, (B, Lt), generator=g)
    tgt_in[:, 0] = 2
    return src, lengths, tgt_in


def test_config_rejects_unknown_names():
    with pytest.raises(ValueError, match="bahdanau, luong_dot"):
        Seq2SeqConfig(attention="nope")
    with pytest.raises(ValueError, match="gru, lstm"):
        Seq2SeqConfig(rnn="rnn")
    with pytest.raises(ValueError, match="even"):
        Seq2SeqConfig(hidden_dim=7)
    with pytest.raises(ValueError, match="self_attention_heads"):
        Seq2SeqConfig(hidden_dim=16, self_attention_heads=3)
    with pytest.raises(ValueError, match="tgt_vocab must be >= 1"):
        Seq2Seq(Seq2SeqConfig(), src_vocab=5, tgt_vocab=0)


@pytest.mark.parametrize("heads", [0, 2])
@pytest.mark.parametrize("attention", ATTENTION_TYPES)
@pytest.mark.parametrize("rnn", RNN_TYPES)
def test_shapes_and_gradients(rnn, attention, heads):
    model = tiny(rnn=rnn, attention=attention, self_attention_heads=heads, dropout=0.1)
    src, lengths, tgt_in = batch()
    logits, attn = model(src, lengths, tgt_in)
    assert logits.shape == (3, 5, V_TGT)  # (B, Lt, V)
    assert attn.shape == (3, 5, 7)  # (B, Lt, Ls)
    assert torch.isfinite(logits).all() and torch.isfinite(attn).all()
    logits.logsumexp(-1).sum().backward()
    grads = [p.grad for p in model.parameters() if p.requires_grad]
    assert all(g is not None and torch.isfinite(g).all() for g in grads)


@pytest.mark.parametrize(
    "kw",
    [
        dict(rnn="gru", attention="bahdanau"),
        dict(rnn="lstm", attention="bahdanau", enc_layers=2, dec_layers=2),
        dict(rnn="gru", attention="luong_general", self_attention_heads=2, tie_embeddings=True),
        dict(rnn="lstm", attention="luong_dot", input_feeding=False),
        dict(rnn="gru", attention="luong_concat", dec_layers=2, self_attention_heads=4),
    ],
    ids=lambda kw: "-".join(f"{v}" for v in kw.values()),
)
def test_step_by_step_equals_teacher_forcing(kw):
    model = tiny(dropout=0.3, **kw).eval()
    src, lengths, tgt_in = batch(Lt=6)
    with torch.no_grad():
        logits, attn = model(src, lengths, tgt_in)
        enc = model.encode(src, lengths)
        state = model.init_decoder_state(enc)
        for t in range(tgt_in.size(1)):
            log_probs, state, w = model.decode_step(enc, state, tgt_in[:, t])
            torch.testing.assert_close(
                log_probs, logits[:, t].log_softmax(-1), atol=1e-5, rtol=1e-5
            )
            torch.testing.assert_close(w, attn[:, t], atol=1e-6, rtol=1e-5)


@pytest.mark.parametrize("attention", ["bahdanau", "luong_dot"])
def test_attention_sums_to_one_on_real_tokens_and_zero_on_padding(attention):
    model = tiny(attention=attention, self_attention_heads=2).eval()
    src, lengths, tgt_in = batch()
    with torch.no_grad():
        _, attn = model(src, lengths, tgt_in)  # (B, Lt, Ls)
    real = torch.arange(src.size(1))[None, :] < lengths[:, None]  # (B, Ls)
    torch.testing.assert_close(attn.sum(-1), torch.ones(3, 5))
    assert (attn.masked_select(~real[:, None, :].expand_as(attn)) == 0).all()
    torch.testing.assert_close(attn[2, :, 0], torch.ones(5))  # length-1 source


def test_padding_does_not_change_the_output():
    """Extra padding columns (longer Ls) leave logits and attention on real tokens unchanged."""
    model = tiny(rnn="lstm", self_attention_heads=2).eval()
    src, lengths, tgt_in = batch()
    wide = torch.cat([src, torch.zeros(3, 4, dtype=torch.long)], dim=1)
    with torch.no_grad():
        a_logits, a_attn = model(src, lengths, tgt_in)
        b_logits, b_attn = model(wide, lengths, tgt_in)
    torch.testing.assert_close(a_logits, b_logits, atol=1e-5, rtol=1e-5)
    torch.testing.assert_close(a_attn, b_attn[:, :, :7], atol=1e-6, rtol=1e-5)


def test_cpu_encoder_runs_unpacked_with_the_packed_results_and_gradients():
    """On the CPU a GRU encoder runs unpacked (faster backward); outputs, final states and
    the encoder's gradients equal nn.GRU over the packed batch, and the runner adds no
    parameters or state_dict keys."""
    from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

    torch.manual_seed(0)
    model = Seq2Seq(
        Seq2SeqConfig(emb_dim=8, hidden_dim=12, enc_layers=2), src_vocab=30, tgt_vocab=30
    )
    model.eval()
    keys = set(model.state_dict())
    src = torch.randint(4, 30, (3, 6))
    lengths = torch.tensor([6, 3, 1])
    src[1, 3:] = 0
    src[2, 1:] = 0
    enc = model.encode(src, lengths)
    assert "_unpacked_encoder" in model.__dict__ and set(model.state_dict()) == keys
    emb = model.src_embed(src)
    packed, h_n = model.encoder(
        pack_padded_sequence(emb, lengths, batch_first=True, enforce_sorted=False)
    )
    states, _ = pad_packed_sequence(packed, batch_first=True, total_length=6)
    torch.testing.assert_close(enc.states, states, rtol=0, atol=1e-6)
    torch.testing.assert_close(enc.final, torch.cat([h_n[-2], h_n[-1]], -1), rtol=0, atol=1e-6)

    weight = model.encoder.weight_hh_l1_reverse
    (enc.states.square().sum() + enc.final.sum()).backward()
    ours = weight.grad.clone()
    weight.grad = None
    (states.square().sum() + torch.cat([h_n[-2], h_n[-1]], -1).sum()).backward()
    torch.testing.assert_close(ours, weight.grad, rtol=1e-5, atol=1e-6)


@pytest.mark.parametrize(
    "kw",
    [
        {"attention": "bahdanau", "coverage": True},
        {"attention": "luong_general", "rnn": "lstm", "dec_layers": 2},
    ],
)
def test_beams_sharing_encoder_rows_search_as_copies_do(kw, monkeypatch):
    """Beam search keeps one encoder row per sentence (``group`` = K): the same hypotheses,
    scores and attention as with one copy of the encoder output per beam."""
    from attnkit.decoding import beam_search
    from attnkit.models import seq2seq

    torch.manual_seed(0)
    model = tiny(**kw).eval()
    src, lengths, _ = batch(B=5)
    grouped = beam_search(model, src, lengths, beam_size=4, n_best=3, max_len=9)
    monkeypatch.setattr(seq2seq, "_block_size", lambda rows: 1)  # a copy per beam
    copied = beam_search(model, src, lengths, beam_size=4, n_best=3, max_len=9)
    for ours, ref in zip(grouped, copied, strict=True):
        assert [h.tokens for h in ours] == [h.tokens for h in ref]
        for a, b in zip(ours, ref, strict=True):
            assert a.score == pytest.approx(b.score, abs=1e-5)
            torch.testing.assert_close(a.attention, b.attention, rtol=0, atol=1e-5)


def test_tied_embeddings_share_one_parameter():
    model = tiny(tie_embeddings=True)
    assert model.output.weight is model.tgt_embed.weight
    assert model.att_dim == 12  # the attentional vector has the embedding size
    names = [n for n, _ in model.named_parameters()]
    assert "output.weight" not in names  # counted once


def test_reorder_selects_rows():
    model = tiny(rnn="lstm").eval()
    src, lengths, _ = batch()
    enc = model.encode(src, lengths)
    state = model.init_decoder_state(enc)
    idx = torch.tensor([2, 2, 0])
    enc2, state2 = model.reorder(enc, state, idx)
    torch.testing.assert_close(enc2.states, enc.states[idx])
    torch.testing.assert_close(state2.cell, state.cell[:, idx])
    _, state3 = model.reorder(None, state, idx)
    torch.testing.assert_close(state3.hidden, state.hidden[:, idx])


def test_named_builder():
    model = seq2seq_bahdanau_small(src_vocab=100, tgt_vocab=120)
    assert model.cfg.attention == "bahdanau" and model.cfg.rnn == "gru"
    src, lengths, tgt_in = batch()
    logits, attn = model(src, lengths, tgt_in)
    assert logits.shape == (3, 5, 120) and attn.shape == (3, 5, 7)


def test_bad_shapes_raise():
    model = tiny()
    src, lengths, tgt_in = batch()
    with pytest.raises(ValueError, match="src_lengths"):
        model(src, lengths[:2], tgt_in)
    with pytest.raises(ValueError, match="tgt_in"):
        model(src, lengths, tgt_in[:2])


# ----------------------------------------------------------------- loss


def test_label_smoothing_against_hand_computed_value():
    logits = torch.tensor([[[1.0, 2.0, 0.5, -1.0], [0.0, 0.0, 3.0, 1.0], [2.0, 2.0, 2.0, 2.0]]])
    target = torch.tensor([[1, 2, 0]])  # last position is padding
    eps, V = 0.2, 4
    total = 0.0
    for row, y in [([1.0, 2.0, 0.5, -1.0], 1), ([0.0, 0.0, 3.0, 1.0], 2)]:
        lse = math.log(sum(math.exp(x) for x in row))
        nll = lse - row[y]
        uniform = sum(lse - x for x in row) / V
        total += (1 - eps) * nll + eps * uniform
    loss, n = label_smoothed_cross_entropy(logits, target, smoothing=eps)
    assert n == 2
    assert loss.item() == pytest.approx(total, rel=1e-6)
    plain, _ = label_smoothed_cross_entropy(logits, target, smoothing=0.0)
    assert plain.item() == pytest.approx(
        sum(
            math.log(sum(math.exp(x) for x in r)) - r[y]
            for r, y in [([1.0, 2.0, 0.5, -1.0], 1), ([0.0, 0.0, 3.0, 1.0], 2)]
        ),
        rel=1e-6,
    )
    bf16, _ = label_smoothed_cross_entropy(logits.bfloat16(), target, smoothing=eps)
    assert bf16.dtype == torch.float32 and bf16.item() == pytest.approx(total, rel=2e-2)
    with pytest.raises(ValueError, match="disagree"):
        label_smoothed_cross_entropy(logits, target[:, :2])


@pytest.mark.parametrize("smoothing", [0.0, 0.1])
@pytest.mark.parametrize("chunk", [7, 1 << 23])  # several row chunks (7 // V = 1 row), or one
def test_fused_loss_equals_torch_cross_entropy(smoothing, chunk, monkeypatch):
    """Loss and gradient against torch's own F.cross_entropy (float64 reference), padding
    ignored; bf16 logits get a bf16 gradient close to the float32 one."""
    from attnkit.models import losses

    monkeypatch.setattr(losses, "CHUNK_ELEMENTS", chunk)
    g = torch.Generator().manual_seed(0)
    logits = (3 * torch.randn(3, 5, 11, generator=g)).requires_grad_()  # (B, Lt, V)
    target = torch.randint(1, 11, (3, 5), generator=g)
    target[0, 3:] = 0  # padding
    target[2, 1:] = 0
    loss, n = label_smoothed_cross_entropy(logits, target, smoothing=smoothing)
    (loss * 0.5).backward()
    ref_logits = logits.detach().double().requires_grad_()
    ref = torch.nn.functional.cross_entropy(
        ref_logits.view(-1, 11), target.view(-1), ignore_index=0, reduction="sum",
        label_smoothing=smoothing,
    )  # fmt: skip
    (ref * 0.5).backward()
    assert n == int((target != 0).sum())
    torch.testing.assert_close(loss.double(), ref, rtol=1e-6, atol=1e-6)
    torch.testing.assert_close(logits.grad.double(), ref_logits.grad, rtol=1e-5, atol=1e-6)
    assert logits.grad[0, 3:].abs().sum() == 0  # padding rows get no gradient

    low = logits.detach().bfloat16().requires_grad_()
    loss16, _ = label_smoothed_cross_entropy(low, target, smoothing=smoothing)
    loss16.backward()
    assert low.grad.dtype == torch.bfloat16
    torch.testing.assert_close(low.grad.float(), logits.grad * 2, rtol=2e-2, atol=2e-2)


def test_fused_loss_refuses_target_outside_vocabulary():
    with pytest.raises(ValueError, match=r"in \[0, 4\)"):
        label_smoothed_cross_entropy(torch.zeros(1, 2, 4), torch.tensor([[1, 4]]))


# ----------------------------------------------------------------- learning


def _reverse_batch(g: torch.Generator, n: int):
    """Random digit strings (ids 4..13), length 3-8; the target is the reversed string."""
    lengths = torch.randint(3, 9, (n,), generator=g)
    L = int(lengths.max())
    src = torch.zeros(n, L, dtype=torch.long)
    tgt_in = torch.zeros(n, L + 1, dtype=torch.long)
    tgt_out = torch.zeros(n, L + 1, dtype=torch.long)
    for i, length in enumerate(lengths.tolist()):
        s = torch.randint(4, 14, (length,), generator=g)
        src[i, :length] = s
        tgt_in[i, 0] = 2
        tgt_in[i, 1 : length + 1] = s.flip(0)
        tgt_out[i, :length] = s.flip(0)
        tgt_out[i, length] = 3  # EOS
    return src, lengths, tgt_in, tgt_out


def test_learns_to_reverse_digit_strings():
    """About 500 Adam steps on CPU (~10 s): >= 95 % exact match with greedy decoding."""
    from attnkit.decoding import greedy_search

    torch.set_num_threads(1)
    torch.manual_seed(0)
    model = Seq2Seq(
        Seq2SeqConfig(emb_dim=32, hidden_dim=64, dropout=0.0, tie_embeddings=False),
        src_vocab=14,
        tgt_vocab=14,
    )
    opt = torch.optim.Adam(model.parameters(), lr=3e-3)
    g = torch.Generator().manual_seed(1)
    for _ in range(500):
        src, lengths, tgt_in, tgt_out = _reverse_batch(g, 64)
        logits, _ = model(src, lengths, tgt_in)
        loss, n = label_smoothed_cross_entropy(logits, tgt_out, smoothing=0.0)
        opt.zero_grad()
        (loss / n).backward()
        torch.nn.utils.clip_grad_norm_(model.parameters(), 1.0)
        opt.step()
    model.eval()
    src, lengths, _, tgt_out = _reverse_batch(torch.Generator().manual_seed(123), 200)
    hyps = greedy_search(model, src, lengths, max_len=12)
    exact = sum(h.tokens == tgt_out[i, : lengths[i]].tolist() for i, h in enumerate(hyps.best()))
    assert exact / 200 >= 0.95
    # the attention of a reversal is an anti-diagonal: token i looks at source L-1-i (the
    # share over all 200 test strings: one string's 7 tokens made the check a coin flip)
    on_diagonal = []
    for i, h in enumerate(hyps.best()):
        L = int(lengths[i])
        assert h.attention.shape == (len(h.tokens), L)
        n = min(len(h.tokens), L)
        on_diagonal.append(h.attention[:n].argmax(-1) == torch.arange(L - 1, L - 1 - n, -1))
    assert torch.cat(on_diagonal).float().mean() >= 0.8
