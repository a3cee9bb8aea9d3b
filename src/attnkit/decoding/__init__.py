"""attnkit.decoding: greedy and beam search for any model with the step interface.

A model implements :class:`StepDecoder` (``encode``, ``init_decoder_state``,
``decode_step``, ``reorder``); search never looks inside its encoder output or state.

Example:
    >>> from attnkit.decoding import beam_search, greedy_search
    >>> model.eval()
    >>> greedy = greedy_search(model, src, lengths, max_len=100)
    >>> beams = beam_search(model, src, lengths, beam_size=5, max_len_ratio=1.5, alpha=0.6)
    >>> beams[0][0].tokens, beams[0][0].score, beams[0][0].attention.shape  # (Lt, Ls)
"""

from attnkit.decoding.beam import beam_search
from attnkit.decoding.greedy import greedy_search, max_lengths
from attnkit.decoding.interface import Hypotheses, Hypothesis, StepDecoder
from attnkit.decoding.penalties import block_repeated_ngrams, gnmt_length_penalty

__all__ = [
    "Hypotheses",
    "Hypothesis",
    "StepDecoder",
    "beam_search",
    "block_repeated_ngrams",
    "gnmt_length_penalty",
    "greedy_search",
    "max_lengths",
]
