"""The pointer-generator: its mixture, its coverage, its steps, and that it learns to copy."""

from __future__ import annotations

import pytest
import torch

from attnkit.attention import coverage_loss
from attnkit.decoding import beam_search, greedy_search
from attnkit.models.pointer_generator import PointerGenerator
from attnkit.models.seq2seq import Seq2SeqConfig
from attnkit.specials import BOS_ID, EOS_ID

V = 20  # fixed vocabulary; ids >= V in a source are its OOV words


def _model(coverage: bool = True, seed: int = 0, **kw) -> PointerGenerator:
    torch.manual_seed(seed)
    cfg = Seq2SeqConfig(emb_dim=16, hidden_dim=16, dropout=0.0, coverage=coverage, **kw)
    model = PointerGenerator(cfg, vocab=V).eval()
    if coverage:  # non-zero coverage weights, so the coverage path is exercised
        torch.nn.init.normal_(model.attention.coverage_proj.weight)
    return model


def _batch():
    src = torch.tensor([[5, 21, 20, 21, EOS_ID], [7, 22, EOS_ID, 0, 0]])  # (B, Ls) extended
    lengths = torch.tensor([5, 3])
    tgt_out = torch.tensor([[21, 6, 20, EOS_ID], [22, 1, EOS_ID, 0]])  # copies, a UNK, EOS
    tgt_in = torch.cat([torch.full((2, 1), BOS_ID), tgt_out[:, :-1]], dim=1)
    return src, lengths, tgt_in, tgt_out


def test_final_distribution_is_a_distribution_and_targets_match_it():
    model = _model()
    src, lengths, tgt_in, tgt_out = _batch()
    full = model(src, lengths, tgt_in)
    assert full.log_probs.shape == (2, 4, 23)  # V_ext = V + the 3 OOVs of the batch
    torch.testing.assert_close(full.log_probs.exp().sum(-1), torch.ones(2, 4))
    picked = model(src, lengths, tgt_in, tgt_out).target_log_probs  # (B, Lt), no V_ext tensor
    torch.testing.assert_close(picked, full.log_probs.gather(-1, tgt_out[..., None]).squeeze(-1))


def test_mixture_by_hand_on_one_step():
    """P(w) = p_gen P_vocab(w) + (1 - p_gen) sum of the attention on w's source positions."""
    model = _model()
    src, lengths, tgt_in, _ = _batch()
    enc = model.encode(src, lengths)
    state = model.init_decoder_state(enc)
    log_p, _, attn = model.decode_step(enc, state, tgt_in[:, 0])
    _, att, _, context, emb = model._decode_one(enc, state, tgt_in[:, 0])
    p_gen = model.gate(context, model._decode_one(enc, state, tgt_in[:, 0])[0].hidden[-1], emb)
    vocab = torch.softmax(model.output(att), -1)
    p = p_gen[0, 0]
    # row 0: word 21 sits at positions 1 and 3, word 5 at 0 and is in the vocabulary
    expected_21 = (1 - p) * (attn[0, 1] + attn[0, 3])
    expected_5 = p * vocab[0, 5] + (1 - p) * attn[0, 0]
    assert log_p[0, 21].exp().item() == pytest.approx(expected_21.item(), rel=1e-5)
    assert log_p[0, 5].exp().item() == pytest.approx(expected_5.item(), rel=1e-5)
    assert log_p[1, 21].exp().item() < 1e-30  # row 1 has no word 21 to copy


def test_steps_equal_teacher_forcing_and_coverage_loss_is_sum_of_min():
    model = _model()
    src, lengths, tgt_in, _ = _batch()
    full = model(src, lengths, tgt_in)
    enc = model.encode(src, lengths)
    state = model.init_decoder_state(enc)
    cov = torch.zeros(2, 5)
    for t in range(tgt_in.size(1)):
        log_p, state, attn = model.decode_step(enc, state, tgt_in[:, t])
        torch.testing.assert_close(log_p, full.log_probs[:, t], atol=1e-5, rtol=1e-5)
        naive = torch.minimum(attn, cov).sum(-1)  # sum_i min(a_ti, c_ti)
        torch.testing.assert_close(full.coverage_loss[:, t], naive, atol=1e-6, rtol=1e-5)
        cov = cov + attn
        torch.testing.assert_close(state.coverage, cov, atol=1e-6, rtol=1e-5)
    assert full.coverage_loss[:, 0].abs().max() == 0  # nothing covered before the first step
    assert coverage_loss(attn, cov - attn).shape == (2,)


def test_a_model_without_coverage_loads_into_one_with_it_unchanged():
    """The paper's schedule: train without coverage, fine-tune with it from that checkpoint."""
    plain = _model(coverage=False)
    with_cov = PointerGenerator(Seq2SeqConfig(emb_dim=16, hidden_dim=16, dropout=0.0,
                                              coverage=True), vocab=V).eval()  # fmt: skip
    missing, unexpected = with_cov.load_state_dict(plain.state_dict(), strict=False)
    assert missing == ["attention.coverage_proj.weight"] and not unexpected
    src, lengths, tgt_in, tgt_out = _batch()
    a = plain(src, lengths, tgt_in, tgt_out).target_log_probs
    b = with_cov(src, lengths, tgt_in, tgt_out).target_log_probs
    torch.testing.assert_close(a, b)  # w_c starts at zero


def test_empty_or_fully_padded_source_gives_no_nan():
    model = _model().train()
    src = torch.tensor([[EOS_ID, 0, 0], [0, 0, 0]])  # empty after truncation; fully padded
    lengths = torch.tensor([1, 0])
    tgt_in = torch.tensor([[BOS_ID, 5], [BOS_ID, 6]])
    tgt_out = torch.tensor([[5, EOS_ID], [6, EOS_ID]])
    out = model(src, lengths, tgt_in, tgt_out)
    loss = -out.target_log_probs.mean() + out.coverage_loss.mean()
    loss.backward()
    assert torch.isfinite(loss)
    assert all(torch.isfinite(p.grad).all() for p in model.parameters() if p.grad is not None)
    assert out.attn[1].abs().sum() == 0  # nothing to attend to


def test_search_emits_copied_oov_ids_per_sentence():
    model = _model()
    src, lengths, _, _ = _batch()
    greedy = greedy_search(model, src, lengths, max_len=6)
    beam = beam_search(model, src, lengths, beam_size=1, max_len=6)
    assert [h[0].tokens for h in greedy] == [h[0].tokens for h in beam]
    for tokens, n_ext in zip(beam.tokens(), (22, 23), strict=True):
        assert all(0 <= t < n_ext for t in tokens)


def test_learns_to_copy_words_it_never_saw():
    """Sources of OOV ids only (never in the vocabulary): the model must copy them in order."""
    torch.manual_seed(0)
    cfg = Seq2SeqConfig(emb_dim=32, hidden_dim=64, dropout=0.0)
    model = PointerGenerator(cfg, vocab=V)
    opt = torch.optim.Adam(model.parameters(), lr=1e-2)

    def sample(n: int):
        # each sentence: 4 distinct OOV ids of V..V+5 in random order; they all embed as
        # <unk>, so only copying through the attention can reproduce them
        words = torch.stack([torch.randperm(6)[:4] for _ in range(n)]) + V  # (n, 4)
        src = torch.cat([words, torch.full((n, 1), EOS_ID)], 1)
        tgt_out = torch.cat([words, torch.full((n, 1), EOS_ID)], 1)
        tgt_in = torch.cat([torch.full((n, 1), BOS_ID), words], 1)
        return src, torch.full((n,), 5), tgt_in, tgt_out

    for _ in range(150):
        src, lengths, tgt_in, tgt_out = sample(32)
        loss = -model(src, lengths, tgt_in, tgt_out).target_log_probs.mean()
        opt.zero_grad()
        loss.backward()
        opt.step()
    model.eval()
    src, lengths, _, tgt_out = sample(50)
    hyps = greedy_search(model, src, lengths, max_len=8)
    exact = sum(h[0].tokens == t[:4].tolist() for h, t in zip(hyps, tgt_out, strict=True))
    assert exact >= 45, f"copied {exact}/50 exactly"


def test_beam_search_of_a_batch_equals_one_sentence_at_a_time():
    """No sentence of a batch leaks into another (nor does the batch's wider V_ext)."""
    model = _model()
    src, lengths, _, _ = _batch()
    together = beam_search(model, src, lengths, beam_size=3, max_len=6, n_best=3)
    for b in range(2):
        n = int(lengths[b])
        alone = beam_search(model, src[b : b + 1, :n], lengths[b : b + 1], beam_size=3,
                            max_len=6, n_best=3)  # fmt: skip
        assert [h.tokens for h in together[b]] == [h.tokens for h in alone[0]]
        for h, g in zip(together[b], alone[0], strict=True):
            assert h.score == pytest.approx(g.score, abs=1e-4)


def test_coverage_penalty_is_subtracted_from_each_finished_score():
    from attnkit.decoding import gnmt_length_penalty

    model = _model()
    src, lengths, _, _ = _batch()
    hyps = beam_search(model, src, lengths, beam_size=4, n_best=4, max_len=6, alpha=1.0,
                       coverage_penalty=2.0)  # fmt: skip
    for nbest in hyps:
        scores = [h.score for h in nbest]
        assert scores == sorted(scores, reverse=True)
        for h in nbest:
            steps = len(h.tokens) + h.finished  # EOS counts in the length penalty
            beyond = (h.attention.sum(0) - 1).clamp_min(0).sum().item()  # attention over 1
            expected = h.log_prob / gnmt_length_penalty(steps, 1.0) - 2.0 * beyond
            assert h.score == pytest.approx(expected, abs=1e-4)
