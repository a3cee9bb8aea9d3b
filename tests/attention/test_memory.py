"""MemN2N memory attention against a naive float64 transcription of the paper's equations."""

import pytest
import torch

from attnkit.attention import MemoryAttention
from attnkit.attention.memory import position_encoding

V, E, M, LS, LQ = 15, 6, 4, 5, 3


def _story_and_query():
    g = torch.Generator().manual_seed(3)
    story = torch.randint(1, V, (2, M, LS), generator=g)
    story[0, 1, 3:] = 0  # a short sentence
    story[1, 3] = 0  # an empty memory slot
    query = torch.randint(1, V, (2, LQ), generator=g)
    query[1, 2] = 0
    return story, query


def test_position_encoding_matches_the_paper_formula():
    lengths = torch.tensor([3, 5, 0])
    pe = position_encoding(lengths, max_len=5, dim=4)
    for s, J in enumerate(lengths.tolist()):
        for j in range(1, 6):
            for k in range(1, 5):
                want = (1 - j / J) - (k / 4) * (1 - 2 * j / J) if j <= J else 0.0
                assert pe[s, j - 1, k - 1].item() == pytest.approx(want, abs=1e-6)


def _naive(mem, story, query):
    """Per example, per hop: the equations of Sukhbaatar et al. (2015), section 2."""
    W = [e.weight for e in mem.word_embeddings]
    outs, weights = [], []
    for b in range(story.shape[0]):

        def embed(ids, table):
            J = int((ids != 0).sum())
            vec = torch.zeros(E, dtype=torch.float64)
            for j, w in enumerate(ids.tolist(), start=1):
                if w == 0:
                    continue
                if mem.use_pe:
                    k = torch.arange(1, E + 1, dtype=torch.float64)
                    vec = vec + ((1 - j / J) - (k / E) * (1 - 2 * j / J)) * W[table][w]
                else:
                    vec = vec + W[table][w]
            return vec

        u = embed(query[b], 0)
        real = [i for i in range(M) if (story[b, i] != 0).any()]
        ps = []
        for hop in range(mem.hops):
            a, c = (hop, hop + 1) if mem.tying == "adjacent" else (1, 2)
            m = [embed(story[b, i], a) for i in range(M)]
            cm = [embed(story[b, i], c) for i in range(M)]
            if mem.use_te:
                m = [m[i] + mem.temporal[mem._te_index[a]][i] for i in range(M)]
                cm = [cm[i] + mem.temporal[mem._te_index[c]][i] for i in range(M)]
            p = torch.zeros(M, dtype=torch.float64)
            p[real] = torch.softmax(torch.stack([u @ m[i] for i in real]), 0)
            o = sum(p[i] * cm[i] for i in range(M))
            u = (mem.H.weight @ u if mem.H is not None else u) + o
            ps.append(p)
        outs.append(u)
        weights.append(torch.stack(ps))
    return torch.stack(outs), torch.stack(weights)


@pytest.mark.parametrize("tying", ["adjacent", "layerwise"])
@pytest.mark.parametrize(("pe", "te"), [(True, True), (False, False), (True, False)])
def test_matches_naive_equations(tying, pe, te):
    mem = MemoryAttention(V, E, hops=3, tying=tying, position_encoding=pe,
                          temporal_encoding=te, max_memories=M).double()  # fmt: skip
    story, query = _story_and_query()
    u, w = mem(story, query, return_weights=True)
    ref_u, ref_w = _naive(mem, story, query)
    torch.testing.assert_close(w, ref_w)
    torch.testing.assert_close(u, ref_u)
    assert (w[1, :, 3] == 0).all()  # the empty slot is never attended
    torch.testing.assert_close(w.sum(-1), torch.ones(2, 3, dtype=torch.float64))


def test_tying_schemes_parameter_counts():
    adj = MemoryAttention(V, E, hops=3, tying="adjacent", max_memories=M)
    lay = MemoryAttention(V, E, hops=3, tying="layerwise", max_memories=M)
    count = lambda m: sum(p.numel() for p in m.parameters())  # noqa: E731
    assert count(adj) == 4 * V * E + 4 * M * E  # E_0..E_3 and their temporal rows
    assert count(lay) == 3 * V * E + 2 * M * E + E * E  # B, A, C, T_A, T_C, H
    assert adj.answer_embedding is adj.word_embeddings[3].weight


def test_memory_mask_and_gradients():
    mem = MemoryAttention(V, E, hops=2, max_memories=M)
    story, query = _story_and_query()
    keep = torch.tensor([[True, False, True, True], [True, True, True, False]])
    u, w = mem(story, query, memory_mask=keep, return_weights=True)
    assert (w[~keep[:, None, :].expand_as(w)] == 0).all()
    u.sum().backward()
    for p in mem.parameters():
        assert p.grad is not None and torch.isfinite(p.grad).all()


def test_errors():
    mem = MemoryAttention(V, E, max_memories=2)
    story, query = _story_and_query()
    with pytest.raises(ValueError, match="exceed max_memories=2"):
        mem(story, query)
    with pytest.raises(ValueError, match="story must be"):
        mem(story[0], query)
    with pytest.raises(ValueError, match="valid: adjacent, layerwise"):
        MemoryAttention(V, E, tying="rnn")
    with pytest.raises(ValueError, match="memory_mask"):
        MemoryAttention(V, E, max_memories=M)(story, query, memory_mask=torch.ones(2, 3))
