"""A bidirectional RNN over a padded batch without packing, for graphs that cannot pack.

``pack_padded_sequence`` cannot be traced (``torch.export`` / ONNX), and a bidirectional
``nn.GRU`` / ``nn.LSTM`` run over padding directly lets the backward direction start in the
padding. :class:`UnpackedBiRNN` runs each direction as a one-way RNN sharing the original's
weights, the backward one over each row reversed within its own length (padding stays at the
end), so every real token sees what it sees in the packed run. On the CPU it is also the faster
way to train a GRU encoder: the packed RNN's backward zero-fills and adds one full-size
gradient per time step (:meth:`attnkit.models.seq2seq.Seq2Seq.encode`).

Example:
    >>> from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence
    >>> rnn = nn.GRU(4, 3, batch_first=True, bidirectional=True)
    >>> x, lengths = torch.randn(2, 5, 4), torch.tensor([5, 2])
    >>> out, last = UnpackedBiRNN(rnn)(x, lengths)
    >>> out.shape, last.shape  # (B, L, 2 * hidden), final states (B, 2 * hidden)
    (torch.Size([2, 5, 6]), torch.Size([2, 6]))
    >>> packed, _ = rnn(pack_padded_sequence(x, lengths, batch_first=True))
    >>> torch.allclose(out, pad_packed_sequence(packed, batch_first=True)[0], atol=1e-6)
    True
"""

from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import Tensor, nn


class UnpackedBiRNN(nn.Module):
    """A bidirectional, batch-first ``nn.GRU`` or ``nn.LSTM`` run unpacked, with the packed
    results: outputs past a row's length are zero, as ``pad_packed_sequence`` leaves them.

    Args:
        rnn: the module whose weights it shares (not copied: training one trains both).

    Raises:
        ValueError: a one-way, time-first or other RNN.
    """

    def __init__(self, rnn: nn.GRU | nn.LSTM) -> None:
        super().__init__()
        if not (isinstance(rnn, nn.GRU | nn.LSTM) and rnn.bidirectional and rnn.batch_first):
            raise ValueError("UnpackedBiRNN wraps a bidirectional, batch-first nn.GRU or nn.LSTM")
        self.layers = nn.ModuleList()
        for layer in range(rnn.num_layers):
            pair = nn.ModuleList()
            for suffix in (f"_l{layer}", f"_l{layer}_reverse"):
                one = type(rnn)(  # on "meta": no memory, no draw from the random generator
                    2 * rnn.hidden_size if layer else rnn.input_size,
                    rnn.hidden_size,
                    batch_first=True,
                    bias=rnn.bias,
                    device="meta",
                )
                for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
                    if hasattr(rnn, name + suffix):
                        setattr(one, f"{name}_l0", getattr(rnn, name + suffix))
                pair.append(one)
            self.layers.append(pair)

    def forward(self, x: Tensor, lengths: Tensor, *, dropout: float = 0.0) -> tuple[Tensor, Tensor]:
        """``x`` (B, L, E), ``lengths`` (B,) >= 1 -> outputs (B, L, 2h) and the last layer's
        final hidden states (B, 2h): forward at each row's last token, backward at its first
        (an LSTM's final cells are not given). ``dropout`` applies between layers, as the
        wrapped RNN's ``dropout`` does in training (pass 0 in eval)."""
        L = x.size(1)
        t = torch.arange(L, device=x.device)[None, :]  # (1, L)
        n = lengths.to(x.device)[:, None]  # (B, 1)
        valid = (t < n)[..., None]  # (B, L, 1)
        flip = torch.where(t < n, n - 1 - t, t)[..., None]  # (B, L, 1): reversal within length
        last = (n - 1)[..., None]  # (B, 1, 1)
        finals = x.new_zeros(0)
        for i, (forward, backward) in enumerate(self.layers):
            if i and dropout:
                x = F.dropout(x, dropout, training=True)
            out_f, _ = forward(x)  # (B, L, h)
            out_r, _ = backward(x.gather(1, flip.expand(-1, -1, x.size(-1))))  # reversed rows
            h = out_r.size(-1)
            # (B, L, h) back in order; shapes from `flip`, not from the RNN's outputs, whose
            # length torch.export fixes at the example's
            out_b = out_r.gather(1, flip.expand(-1, -1, h))
            finals = torch.cat(
                [out_f.gather(1, last.expand(-1, 1, h)), out_r.gather(1, last.expand(-1, 1, h))],
                dim=-1,
            )[:, 0]  # (B, 2h)
            x = torch.cat([out_f, out_b], dim=-1) * valid  # (B, L, 2h)
        return x, finals


__all__ = ["UnpackedBiRNN"]
