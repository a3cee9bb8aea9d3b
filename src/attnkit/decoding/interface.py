"""The step interface every seq2seq model implements, and the hypotheses search returns.

Notation for tensor shapes: B batch (sentences x beams inside beam search), Ls source
length, Lt output length, V target vocabulary.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any, Protocol, runtime_checkable

from torch import Tensor


@runtime_checkable
class StepDecoder(Protocol):
    """What greedy and beam search need from a model.

    ``enc`` and ``state`` are opaque to search: it only passes them back to the model.
    """

    def encode(self, src: Tensor, src_lengths: Tensor) -> Any:
        """Encode (B, Ls) padded source ids with (B,) lengths."""
        ...

    def init_decoder_state(self, enc: Any) -> Any:
        """The decoder state before the first step."""
        ...

    def decode_step(
        self, enc: Any, state: Any, prev_tokens: Tensor
    ) -> tuple[Tensor, Any, Tensor | None]:
        """Feed (B,) previous tokens; get log-probs (B, V), new state, attention (B, Ls) | None."""
        ...

    def reorder(self, enc: Any | None, state: Any, indices: Tensor) -> tuple[Any | None, Any]:
        """Select batch rows ``indices`` (B',) of enc and state. ``enc=None``: keep it as is."""
        ...


@dataclass
class Hypothesis:
    """One decoded sequence.

    Attributes:
        tokens: output ids, without BOS and EOS.
        score: the ranking score: ``log_prob / length_penalty`` (``log_prob`` when alpha = 0).
        log_prob: sum of the token log-probabilities (EOS included when it was produced).
        attention: (len(tokens), Ls) attention weights (Ls = the true source length), or
            None when the model gives no attention.
        finished: True when the hypothesis ended with EOS (False: stopped at max length).
    """

    tokens: list[int]
    score: float
    log_prob: float
    attention: Tensor | None
    finished: bool


@dataclass
class Hypotheses:
    """Search results: ``nbest[i]`` is sentence i's list of hypotheses, best first."""

    nbest: list[list[Hypothesis]] = field(default_factory=list)

    def __len__(self) -> int:
        return len(self.nbest)

    def __getitem__(self, i: int) -> list[Hypothesis]:
        return self.nbest[i]

    def __iter__(self) -> Iterator[list[Hypothesis]]:
        return iter(self.nbest)

    def best(self) -> list[Hypothesis]:
        """The top hypothesis of each sentence."""
        return [h[0] for h in self.nbest]

    def tokens(self) -> list[list[int]]:
        """The top hypothesis' tokens of each sentence."""
        return [h[0].tokens for h in self.nbest]
