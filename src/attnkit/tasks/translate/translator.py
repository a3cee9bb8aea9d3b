"""A trained translation model with its tokenizers and search settings, ready to translate."""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from attnkit.data.text import Tokenizer
from attnkit.decoding import Hypothesis
from attnkit.decoding.batched import DecodeConfig, decode_batched
from attnkit.errors import AttnkitError
from attnkit.models.seq2seq import Seq2Seq
from attnkit.models.transformer import Transformer
from attnkit.specials import UNK_ID


@dataclass
class Translator:
    """Source text in, hypotheses out: input checks, batching by length, greedy or beam search."""

    model: Seq2Seq | Transformer
    src_tok: Tokenizer
    tgt_tok: Tokenizer
    decode: DecodeConfig
    device: torch.device

    def with_search(self, *, beam: int | None = None, n_best: int = 1) -> Translator:
        """A copy with another beam size / n-best, checked.

        ``beam=None`` keeps the run's beam (widened to ``n_best`` when that is larger).

        Raises:
            AttnkitError: a beam or n-best below 1, or n-best above the beam.
        """
        decode = self.decode.with_search(beam=beam, n_best=n_best)
        return dataclasses.replace(self, decode=decode)

    @torch.no_grad()
    def translate_ids(
        self, src: Sequence[list[int]], *, greedy: bool = False, progress: str | None = None
    ) -> list[list[Hypothesis]]:
        """Decode encoded sentences (in batches, sorted by length); n-best lists in input order.

        ``progress`` names a progress bar (sentences/s on stderr, shown on terminals only).
        """
        return decode_batched(
            self.model, src, self.decode, self.device, greedy=greedy, progress=progress
        )

    def check_input(
        self, text: str, allow_unknown: bool = False, how_to_allow: str = "pass --allow-unknown"
    ) -> list[int]:
        """Encode one sentence, refusing empty, unknown-character and over-long input.

        ``how_to_allow`` completes the unknown-character message: how the caller's user asks
        for ``allow_unknown`` (a CLI flag, a JSON field in ``attnkit serve``).

        Raises:
            AttnkitError: empty text, characters the model never saw, too many tokens.
        """
        if not isinstance(text, str) or not text.strip():
            raise AttnkitError("empty input: give a sentence to translate")
        ids = self.src_tok.encode(text.strip(), add_eos=True)
        if UNK_ID in ids and not allow_unknown:
            unknown = sorted(
                {
                    p
                    for p in self.src_tok.pieces(text.strip())
                    if self.src_tok.piece_to_id(p) == UNK_ID
                }
            )
            raise AttnkitError(
                f"the model has never seen {' '.join(map(repr, unknown))} in {text.strip()!r}; "
                f"{how_to_allow} to translate anyway (they become <unk>)"
            )
        if len(ids) > self.decode.max_input_tokens:
            raise AttnkitError(
                f"input is {len(ids)} tokens long, over the limit of "
                f"{self.decode.max_input_tokens}: split it into sentences"
            )
        return ids

    def attention_view(
        self, text: str, hyp: Hypothesis
    ) -> tuple[list[str], list[str], torch.Tensor]:
        """Source pieces, target pieces and the ``(Lt, Ls)`` attention of ``hyp`` (of ``text``).

        Row i holds how much target piece i attended to each source piece (``</s>`` included).
        """
        src_pieces = [*self.src_tok.pieces(text.strip()), "</s>"]
        tgt_pieces = [self.tgt_tok.id_to_piece(i) for i in hyp.tokens]
        return src_pieces, tgt_pieces, hyp.attention[: len(tgt_pieces), : len(src_pieces)]


__all__ = ["Translator"]
