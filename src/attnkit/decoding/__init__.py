"""attnkit.decoding: greedy and beam search for any model with the step interface.

A model implements :class:`StepDecoder` (``encode``, ``init_decoder_state``,
``decode_step``, ``reorder``); search never looks inside its encoder output or state.

Example:
    >>> import torch
    >>> from attnkit.decoding import beam_search, greedy_search
    >>> from attnkit.models.seq2seq import seq2seq_bahdanau_small
    >>> model = seq2seq_bahdanau_small(src_vocab=30, tgt_vocab=30).eval()
    >>> src, lengths = torch.randint(4, 30, (2, 6)), torch.tensor([6, 4])  # (B, Ls), (B,)
    >>> greedy = greedy_search(model, src, lengths, max_len=8)
    >>> beams = beam_search(model, src, lengths, beam_size=3, max_len=8, alpha=0.6)
    >>> hyp = beams[1][0]  # the best hypothesis of the second sentence
    >>> hyp.attention.shape == (len(hyp.tokens), 4)  # (Lt, Ls)
    True
"""

from attnkit.decoding.beam import beam_search
from attnkit.decoding.greedy import check_inputs, greedy_search, max_lengths
from attnkit.decoding.interface import Hypotheses, Hypothesis, StepDecoder
from attnkit.decoding.penalties import (
    block_loops,
    block_repeated_ngrams,
    gnmt_length_penalty,
    repeated_attention_penalty,
)

__all__ = [
    "Hypotheses",
    "Hypothesis",
    "StepDecoder",
    "beam_search",
    "block_loops",
    "block_repeated_ngrams",
    "check_inputs",
    "gnmt_length_penalty",
    "greedy_search",
    "max_lengths",
    "repeated_attention_penalty",
]
