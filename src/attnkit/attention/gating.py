"""Gating: the gated linear unit family and the gated residual ("jump") connection.

* :class:`GatedUnit`: ``value(x) * act(gate(x))`` (Dauphin et al. 2017, "Language Modeling with
  Gated Convolutional Networks"; Shazeer 2020, "GLU Variants Improve Transformer": GLU with a
  sigmoid gate, GEGLU, SwiGLU, ReGLU, bilinear).
* :class:`GatedResidual`: a highway connection (Srivastava et al. 2015, "Highway Networks"),
  ``y = g * F(x) + (1 - g) * x`` with ``g = sigmoid(W_g x + b_g)``: the layer learns, per
  feature, how much of the transformed signal to let through and how much of the input to
  carry ("jump") unchanged.

Notation for tensor shapes: ``...`` any leading dims, Din / Dout feature sizes.

Example:
    >>> import torch
    >>> glu = GatedUnit(8, 4, activation="silu")  # SwiGLU
    >>> glu(torch.randn(2, 3, 8)).shape
    torch.Size([2, 3, 4])
    >>> jump = GatedResidual(8)
    >>> jump(torch.randn(5, 8)).shape
    torch.Size([5, 8])
"""

from __future__ import annotations

from collections.abc import Callable

import torch
import torch.nn.functional as F
from torch import Tensor, nn

__all__ = ["GATE_ACTIVATIONS", "GatedResidual", "GatedUnit"]

GATE_ACTIVATIONS: dict[str, Callable[[Tensor], Tensor]] = {
    "sigmoid": torch.sigmoid,  # GLU
    "gelu": F.gelu,  # GEGLU
    "silu": F.silu,  # SwiGLU
    "relu": F.relu,  # ReGLU
    "tanh": torch.tanh,
    "identity": lambda x: x,  # bilinear
}


class GatedUnit(nn.Module):
    """Gated linear unit: ``(x W + b) * act(x V + c)``.

    One ``nn.Linear`` produces both halves: the first ``out_features`` outputs are the value,
    the last ``out_features`` the gate, so ``activation="sigmoid"`` equals
    ``torch.nn.functional.glu(proj(x))``.

    Args:
        in_features: ``Din``.
        out_features: ``Dout``; defaults to ``in_features``.
        activation: gate activation, one of ``GATE_ACTIVATIONS`` (``sigmoid`` = GLU,
            ``gelu`` = GEGLU, ``silu`` = SwiGLU, ``relu`` = ReGLU, ``identity`` = bilinear).
        bias: bias in the projection.

    Example:
        >>> glu = GatedUnit(4, activation="sigmoid", bias=False)
        >>> glu(torch.zeros(1, 4)).tolist()  # value 0 times gate sigmoid(0)
        [[0.0, 0.0, 0.0, 0.0]]
    """

    def __init__(
        self,
        in_features: int,
        out_features: int | None = None,
        *,
        activation: str = "sigmoid",
        bias: bool = True,
    ) -> None:
        super().__init__()
        if activation not in GATE_ACTIVATIONS:
            raise ValueError(
                f"unknown gate activation {activation!r}; valid: {', '.join(GATE_ACTIVATIONS)}"
            )
        self.out_features = out_features or in_features
        self.activation = activation
        self.proj = nn.Linear(in_features, 2 * self.out_features, bias=bias)

    def forward(self, x: Tensor) -> Tensor:
        """``(..., Din) -> (..., Dout)``."""
        value, gate = self.proj(x).chunk(2, dim=-1)  # (..., Dout) each
        return value * GATE_ACTIVATIONS[self.activation](gate)

    def extra_repr(self) -> str:
        return f"activation={self.activation!r}"


class GatedResidual(nn.Module):
    """Highway / gated residual connection: ``y = g * F(x) + (1 - g) * x``.

    Args:
        dim: feature size ``D`` (input and output).
        transform: the branch ``F``, any module ``(..., D) -> (..., D)``; defaults to
            ``Linear(D, D)`` + ReLU (the highway layer).
        gate_bias: initial bias of the gate; negative values start the layer close to the
            identity (Srivastava et al. use -1 to -3).

    Example:
        >>> layer = GatedResidual(4, gate_bias=-100.0)  # gate ~ 0: the input jumps through
        >>> x = torch.randn(2, 4)
        >>> torch.allclose(layer(x), x)
        True
    """

    def __init__(
        self, dim: int, transform: nn.Module | None = None, *, gate_bias: float = -1.0
    ) -> None:
        super().__init__()
        self.transform = transform or nn.Sequential(nn.Linear(dim, dim), nn.ReLU())
        self.gate = nn.Linear(dim, dim)
        nn.init.constant_(self.gate.bias, gate_bias)

    def forward(self, x: Tensor, *, return_gate: bool = False) -> Tensor | tuple[Tensor, Tensor]:
        """``(..., D) -> (..., D)``; with ``return_gate=True`` also the gate ``g`` ``(..., D)``."""
        return self.combine(x, self.transform(x), return_gate=return_gate)

    def combine(
        self, x: Tensor, fx: Tensor, *, return_gate: bool = False
    ) -> Tensor | tuple[Tensor, Tensor]:
        """``g * fx + (1 - g) * x`` with the gate ``g`` computed from ``x`` (both ``(..., D)``).

        For a branch that needs more than ``x`` (attention over a memory, a mask, a cache):
        compute it outside and let the gate mix it in. :meth:`forward` is
        ``combine(x, transform(x))``.

        Example:
            >>> layer = GatedResidual(2, gate_bias=100.0)  # gate ~ 1: the branch replaces x
            >>> layer.combine(torch.zeros(1, 2), torch.ones(1, 2)).tolist()
            [[1.0, 1.0]]
        """
        g = torch.sigmoid(self.gate(x))  # (..., D), in (0, 1)
        y = g * fx + (1.0 - g) * x  # (..., D)
        return (y, g) if return_gate else y
