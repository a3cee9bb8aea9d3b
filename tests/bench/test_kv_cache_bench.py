"""bench kv-cache: the cached and the recomputing decoders it times give the same tokens and
log-probabilities (the speed-up is only worth reporting if they do)."""

import torch

from attnkit.bench.kv_cache import greedy_cached, greedy_recomputed
from attnkit.models.transformer import Transformer, TransformerConfig


def test_cached_and_recomputed_greedy_agree_for_every_step():
    torch.manual_seed(0)
    model = Transformer(TransformerConfig(dim=32, heads=4, ff_dim=48), src_vocab=30, tgt_vocab=30)
    model.eval()
    src = torch.randint(4, 30, (3, 6))
    lengths = torch.tensor([6, 4, 2])
    with torch.no_grad():
        tokens_c, lp_c = greedy_cached(model, src, lengths, 12)
        tokens_r, lp_r = greedy_recomputed(model, src, lengths, 12)
    assert tokens_c.shape == (3, 12)  # EOS blocked: every sentence runs all the steps
    assert torch.equal(tokens_c, tokens_r)
    finite = torch.isfinite(lp_c)
    assert torch.equal(finite, torch.isfinite(lp_r))
    torch.testing.assert_close(lp_c[finite], lp_r[finite], atol=1e-5, rtol=1e-5)
