"""UnpackedBiRNN: a bidirectional RNN over a padded batch, unpacked, equals the packed run."""

import pytest
import torch
from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

from attnkit.models.unpacked_rnn import UnpackedBiRNN


@pytest.mark.parametrize("kind", [torch.nn.GRU, torch.nn.LSTM])
def test_unpacked_equals_packed(kind):
    """Each direction run unpacked, the backward one over rows reversed within their length,
    gives pad_packed_sequence's outputs (zeros past each length) and the final states."""
    torch.manual_seed(0)
    rnn = kind(5, 4, num_layers=2, batch_first=True, bidirectional=True).eval()
    x, lengths = torch.randn(3, 6, 5), torch.tensor([6, 2, 4])
    with torch.no_grad():
        packed, final = rnn(
            pack_padded_sequence(x, lengths, batch_first=True, enforce_sorted=False)
        )
        want, _ = pad_packed_sequence(packed, batch_first=True, total_length=6)
        got, last = UnpackedBiRNN(rnn)(x, lengths)
    h_n = final[0] if isinstance(final, tuple) else final
    torch.testing.assert_close(got, want)
    torch.testing.assert_close(last, torch.cat([h_n[-2], h_n[-1]], dim=-1))


def test_shares_the_weights_and_refuses_one_way_rnns():
    rnn = torch.nn.GRU(3, 2, batch_first=True, bidirectional=True)
    unpacked = UnpackedBiRNN(rnn)
    assert unpacked.layers[0][1].weight_hh_l0 is rnn.weight_hh_l0_reverse
    with pytest.raises(ValueError, match="bidirectional, batch-first"):
        UnpackedBiRNN(torch.nn.GRU(3, 2, batch_first=True))
