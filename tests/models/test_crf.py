"""CRF: forward algorithm and Viterbi against brute-force enumeration of all tag paths."""

import itertools

import pytest
import torch

from attnkit.models.crf import CRF


def _brute_force(crf: CRF, emissions: torch.Tensor, length: int):
    """All T**length path scores of one sequence, float64, by direct summation."""
    e = emissions[:length].double()
    trans, start, end = (p.double() for p in (crf.transitions, crf.start, crf.end))
    scores = {}
    for path in itertools.product(range(crf.num_tags), repeat=length):
        s = start[path[0]] + end[path[-1]] + sum(e[t, y] for t, y in enumerate(path))
        s = s + sum(trans[a, b] for a, b in itertools.pairwise(path))
        scores[path] = s
    return scores


@pytest.fixture
def example():
    torch.manual_seed(0)
    crf = CRF(num_tags=3).double()
    for p in crf.parameters():
        torch.nn.init.normal_(p)
    emissions = torch.randn(3, 4, 3, dtype=torch.float64)
    mask = torch.tensor([[1, 1, 1, 1], [1, 1, 0, 0], [1, 0, 0, 0]], dtype=torch.bool)
    return crf, emissions, mask


def test_log_partition_equals_enumeration(example):
    crf, emissions, mask = example
    log_z = crf.log_partition(emissions, mask)
    for b, length in enumerate(mask.sum(1).tolist()):
        scores = torch.stack(list(_brute_force(crf, emissions[b], length).values()))
        torch.testing.assert_close(log_z[b], torch.logsumexp(scores, 0), atol=1e-10, rtol=0)


def test_score_equals_enumeration_and_ignores_padded_tags(example):
    crf, emissions, mask = example
    tags = torch.tensor([[0, 1, 2, 1], [2, 2, -100, -100], [1, -100, -100, -100]])
    got = crf.score(emissions, tags, mask)
    for b, length in enumerate(mask.sum(1).tolist()):
        want = _brute_force(crf, emissions[b], length)[tuple(tags[b, :length].tolist())]
        torch.testing.assert_close(got[b], want, atol=1e-10, rtol=0)


def test_probabilities_sum_to_one(example):
    crf, emissions, mask = example
    length = 2
    total = sum(
        crf.log_likelihood(emissions[1:2], torch.tensor([[*p, 0, 0]]), mask[1:2]).exp()
        for p in itertools.product(range(3), repeat=length)
    )
    torch.testing.assert_close(total, torch.ones(1, dtype=torch.float64))


def test_viterbi_equals_argmax_by_enumeration(example):
    crf, emissions, mask = example
    paths = crf.decode(emissions, mask)
    for b, length in enumerate(mask.sum(1).tolist()):
        scores = _brute_force(crf, emissions[b], length)
        assert tuple(paths[b]) == max(scores, key=lambda p: scores[p].item())


def test_nll_gradient_matches_finite_differences(example):
    crf, emissions, mask = example
    emissions = emissions.clone().requires_grad_(True)
    tags = torch.tensor([[0, 1, 2, 1], [2, 2, 0, 0], [1, 0, 0, 0]])
    assert torch.autograd.gradcheck(
        lambda e, tr: CRF.forward(_with(crf, tr), e, tags, mask),
        (emissions, crf.transitions.detach().clone().requires_grad_(True)),
    )
    # Emissions at padded positions get no gradient.
    crf(emissions, tags, mask).backward()
    assert emissions.grad[~mask].abs().max() == 0


def _with(crf: CRF, transitions: torch.Tensor) -> CRF:
    clone = CRF(crf.num_tags).double()
    clone.load_state_dict(crf.state_dict())
    del clone.transitions
    clone.transitions = transitions
    return clone


def test_errors():
    crf = CRF(num_tags=2)
    with pytest.raises(ValueError, match="emissions"):
        crf.decode(torch.randn(2, 3, 4))
    with pytest.raises(ValueError, match="at least one real token"):
        crf.decode(torch.randn(1, 3, 2), torch.tensor([[0, 1, 1]], dtype=torch.bool))
    with pytest.raises(ValueError, match="reduction"):
        crf(torch.randn(1, 2, 2), torch.zeros(1, 2, dtype=torch.long), reduction="max")
    with pytest.raises(ValueError):
        CRF(num_tags=0)
