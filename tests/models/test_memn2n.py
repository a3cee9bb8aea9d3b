"""MemN2N: hop weights, a hand-computed 1-hop example, position encoding, adjacent tying,
random empty memories, linear start, and learning bAbI task 1."""

import math

import pytest
import torch
import torch.nn.functional as F

from attnkit.attention.memory import position_encoding
from attnkit.data.babi import BabiVocab, splits, vectorize
from attnkit.models.memn2n import MemN2N, MemN2NConfig, add_empty_memories, memn2n_babi

V = 12


def _story():
    story = torch.tensor(
        [
            [[3, 4, 0], [5, 0, 0], [0, 0, 0], [6, 7, 8]],  # slot 2 empty
            [[9, 0, 0], [0, 0, 0], [0, 0, 0], [0, 0, 0]],  # one memory
        ]
    )  # (B=2, M=4, J=3)
    return story, torch.tensor([[2, 3], [4, 0]])  # query (B, Lq)


@pytest.mark.parametrize("train", [False, True])
def test_hop_weights_are_distributions_over_the_real_memories(train):
    model = MemN2N(MemN2NConfig(embed_dim=6, memory_size=8), vocab_size=V).train(train)
    story, query = _story()
    for _ in range(5):  # in training mode RN spreads the memories differently each time
        _, w = model(story, query, return_weights=True)  # (B, K, M')
        assert w.shape[:2] == (2, 3) and (w >= 0).all()
        torch.testing.assert_close(w.sum(-1), torch.ones(2, 3))
        assert ((w > 0).sum(-1) == torch.tensor([[3], [1]])).all()  # 0 on every empty slot
        if not train:
            assert (w[:, :, 2] == 0).all() and (w[1, :, 1:] == 0).all()


def _hand_model(linear_start=False):
    """One hop, tied: B = A (table 0), W^T = C (table 1); no PE, TE or RN."""
    cfg = MemN2NConfig(embed_dim=2, hops=1, position_encoding=False, temporal_encoding=False,
                       random_noise=0.0, linear_start=linear_start)  # fmt: skip
    model = MemN2N(cfg, vocab_size=4)
    with torch.no_grad():
        model.embeddings(0)[0].weight.copy_(torch.tensor([[0, 0], [1, 0], [0, 1], [1, 1.0]]))
        model.embeddings(0)[1].weight.copy_(torch.tensor([[0, 0], [0, 2], [1, 0], [0, 1.0]]))
    story = torch.tensor([[[1, 0], [2, 3]]])  # m_1 = A1, m_2 = A2 + A3
    return model, story, torch.tensor([[3]])  # u = A3 = (1, 1)


def test_one_hop_tied_model_equals_the_hand_computation():
    model, story, query = _hand_model()
    logits, w = model(story, query, return_weights=True)
    # u.m_1 = (1,1).(1,0) = 1, u.m_2 = (1,1).(1,2) = 3
    p1, p2 = math.exp(1) / (math.exp(1) + math.exp(3)), math.exp(3) / (math.exp(1) + math.exp(3))
    # c_1 = C1 = (0,2), c_2 = C2 + C3 = (1,1): o = (p2, 2 p1 + p2); u + o = (1 + p2, 1 + 2 p1 + p2)
    s = (1 + p2, 1 + 2 * p1 + p2)
    want = [2 * s[1], s[0], s[1]]  # logits of words 1..3: C_v . (o + u)
    torch.testing.assert_close(w[0, 0], torch.tensor([p1, p2]))
    torch.testing.assert_close(logits[0, 1:], torch.tensor(want))
    assert logits[0, 0] == torch.finfo(torch.float32).min  # padding is never the answer


def test_linear_start_drops_the_softmax_in_the_hops():
    model, story, query = _hand_model(linear_start=True)
    logits, w = model(story, query, return_weights=True)
    # p = raw scores (1, 3); o = 1*(0,2) + 3*(1,1) = (3, 5); u + o = (4, 6)
    assert w[0, 0].tolist() == [1.0, 3.0]
    assert logits[0, 1:].tolist() == [12.0, 4.0, 6.0]
    model.linear_start = False  # the trainer's switch
    torch.testing.assert_close(model(story, query)[0], _hand_model()[0](story, query)[0])


def test_position_encoding_is_the_paper_formula():
    # l_kj = (1 - j/J) - (k/d)(1 - 2j/J), J = 3 words, d = 2, by hand:
    want = [[1 / 2, 1 / 3], [1 / 2, 2 / 3], [1 / 2, 1.0]]  # rows j = 1..3, columns k = 1..2
    torch.testing.assert_close(position_encoding(torch.tensor(3), 3, 2), torch.tensor(want))
    # in the model, PE makes word order matter; a bag of words does not see it
    story, query = _story()
    swapped = query.clone()
    swapped[0] = query[0].flip(0)
    for pe in (True, False):
        cfg = MemN2NConfig(embed_dim=6, memory_size=8, position_encoding=pe)
        model = MemN2N(cfg, vocab_size=V).eval()
        same = torch.allclose(model(story, query)[0][0], model(story, swapped)[0][0])
        assert same != pe


def test_adjacent_tying_shares_the_parameter_objects():
    K, d, M = 3, 5, 7
    model = MemN2N(MemN2NConfig(embed_dim=d, hops=K, memory_size=M), vocab_size=V)
    for k in range(K - 1):
        assert model.embeddings(k)[1] is model.embeddings(k + 1)[0]  # A^{k+1} = C^k
    assert model.query_embedding is model.embeddings(0)[0]  # B = A^1
    assert model.answer_weight is model.embeddings(K - 1)[1].weight  # W^T = C^K
    tables = {id(t) for k in range(K) for t in model.embeddings(k)}
    assert len(tables) == K + 1
    n = sum(p.numel() for p in model.parameters())
    assert n == (K + 1) * V * d + (K + 1) * M * d  # tables and their temporal rows, no W
    story, query = _story()
    model(story, query)[0].logsumexp(-1).sum().backward()
    assert model.answer_weight.grad is not None and model.answer_weight.grad.abs().sum() > 0


def test_random_empty_memories_keep_the_memories_in_order():
    torch.manual_seed(1)
    story = torch.zeros(64, 20, 2, dtype=torch.long)
    n = torch.randint(1, 21, (64,))
    for b in range(64):
        story[b, : n[b], 0] = torch.arange(1, n[b] + 1)  # memory i holds word i + 1
    out = add_empty_memories(story, 0.1, max_memories=50)
    assert out.shape == (64, 22, 2)
    gaps = []
    for b in range(64):
        kept = out[b, :, 0][out[b, :, 0] != 0]
        assert kept.tolist() == list(range(1, n[b] + 1))  # same memories, same order
        last = int((out[b, :, 0] != 0).nonzero().max())
        gaps.append(last + 1 - int(n[b]))
        assert gaps[-1] <= math.ceil(0.1 * int(n[b]))  # at most 10% blanks in between
    assert max(gaps) > 0  # and some do get blanks
    assert torch.equal(add_empty_memories(story, 0.0, max_memories=50), story)
    capped = add_empty_memories(story, 0.5, max_memories=20)  # no slot past the last TE row
    assert capped.shape[1] == 20 and ((capped != 0).any(-1).sum(-1) == n).all()


def test_random_noise_only_at_training_time():
    model = MemN2N(MemN2NConfig(embed_dim=6, memory_size=8, random_noise=0.5), vocab_size=V)
    story, query = _story()
    model.eval()
    assert torch.equal(model(story, query)[0], model(story, query)[0])
    model.train()
    torch.manual_seed(0)
    outs = [model(story, query)[0] for _ in range(8)]
    assert any(not torch.equal(outs[0], o) for o in outs[1:])
    with pytest.raises(ValueError, match="random_noise"):
        MemN2N(MemN2NConfig(random_noise=1.0), vocab_size=V)


def test_named_builder():
    model = memn2n_babi(30)
    assert model.linear_start and model.config.hops == 3 and model.config.embed_dim == 20
    assert model.config.random_noise == 0.1 and model.config.position_encoding


def test_three_hops_learn_babi_task_1():
    """900 training questions of task 1, 12 epochs of Adam: >= 95% on the 1,000 test questions,
    and the hops look at the supporting fact."""
    data = splits(1, train=1000)
    vocab = BabiVocab.build(data.train + data.valid)
    train, test = vectorize(data.train, vocab), vectorize(data.test, vocab)
    torch.manual_seed(0)
    model = MemN2N(MemN2NConfig(), vocab_size=len(vocab.words))
    opt = torch.optim.Adam(model.parameters(), lr=0.02)
    for _ in range(12):
        model.train()
        for idx in torch.randperm(len(train)).split(32):
            batch = train[idx]
            loss = F.cross_entropy(model(batch.memory, batch.query)[0], batch.answer)
            opt.zero_grad()
            loss.backward()
            opt.step()
    model.eval()
    with torch.no_grad():
        logits, w = model(test.memory, test.query, return_weights=True)  # (N, V), (N, K, M)
    accuracy = (logits.argmax(-1) == test.answer).float().mean().item()
    assert accuracy >= 0.95
    on_support = (w * test.supports[:, None, :]).sum(-1).amax(-1)  # (N,) best hop's weight
    assert (on_support > 0.5).float().mean().item() >= 0.9
