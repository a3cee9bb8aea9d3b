"""A trained translation model with its tokenizers and search settings, ready to translate."""

from __future__ import annotations

import dataclasses
import functools
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import torch

from attnkit.data import placeholders
from attnkit.data.placeholders import Masked
from attnkit.data.text import Tokenizer
from attnkit.decoding import Hypothesis, StepDecoder
from attnkit.decoding.batched import DecodeConfig, decode_batched
from attnkit.errors import AttnkitError
from attnkit.models.seq2seq import Seq2Seq
from attnkit.models.transformer import Transformer
from attnkit.specials import BOS_ID, UNK_ID


@dataclass
class Translator:
    """Source text in, hypotheses out: input checks, batching by length, greedy or beam search.

    A run trained with placeholders (``data.placeholder_rate``; its tokenizers know ``⟦1⟧``)
    masks numbers, symbols, what its source tokenizer cannot represent and, given the word
    forms of its training sources (``source_words``), the names they lack before encoding
    (:meth:`mask`); the caller puts the spans back with :meth:`Masked.unmask`. Older runs
    translate their input as it is.
    """

    model: Seq2Seq | Transformer | StepDecoder  # a StepDecoder: an exported graph's runtime
    src_tok: Tokenizer
    tgt_tok: Tokenizer
    decode: DecodeConfig
    device: torch.device
    source_words: frozenset[str] | None = None  # lower case; None: no name is masked

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

    def predict(
        self,
        inputs: Sequence[str],
        *,
        beam: int | None = None,
        n_best: int = 1,
        allow_unknown: bool = False,
        attention: bool = False,
        layer_attention: bool = False,
        how_to_allow: str = "pass --allow-unknown",
    ) -> list[dict[str, Any]]:
        """Translate sentences (a run's, or one exported to ONNX): each result has
        ``translation``, ``score`` and ``n_best``.

        With ``attention``, also ``source_tokens``, ``target_tokens`` and the best
        hypothesis' ``attention`` as a ``(Lt, Ls)`` tensor (a Transformer's: its last layer's,
        averaged over heads; with ``layer_attention`` also every layer's and head's, in
        ``layer_attention``, ``(N, H, Lt, Ls)``).

        A run trained with placeholders passes numbers, symbols and what its tokenizer cannot
        represent through them (:meth:`Translator.mask`): "Tengo 3 gatos" is translated, the
        3 copied.

        Raises:
            AttnkitError: no sentence, an empty or unknown-character or over-long sentence,
                a bad beam / n-best.
        """
        if not inputs:
            raise AttnkitError("empty input: give a sentence to translate")
        tr = self.with_search(beam=beam, n_best=n_best)
        encoded = [tr.encode_input(t, allow_unknown, how_to_allow) for t in inputs]
        results = []
        for text, (ids, masked), nbest in zip(
            inputs, encoded, tr.translate_ids([ids for ids, _ in encoded]), strict=True
        ):
            out: dict[str, Any] = {
                "translation": masked.unmask(tr.tgt_tok.decode(nbest[0].tokens)),
                "score": nbest[0].score,
                "n_best": [
                    {"translation": masked.unmask(tr.tgt_tok.decode(h.tokens)), "score": h.score}
                    for h in nbest
                ],
            }
            if attention:
                src, tgt, weights = tr.attention_view(text, nbest[0])
                out.update(source_tokens=src, target_tokens=tgt, attention=weights)
                if layer_attention:
                    out["layer_attention"] = tr.layer_attention(ids, nbest[0])
            results.append(out)
        return results

    @functools.cached_property
    def uses_placeholders(self) -> bool:
        """Whether both tokenizers keep the placeholders whole (a run trained with them)."""
        return placeholders.supports(self.src_tok) and placeholders.supports(self.tgt_tok)

    def mask(self, text: str) -> Masked:
        """``text`` with placeholders for its numbers, symbols, URLs, words the source
        tokenizer maps to ``<unk>`` and names the training sources lack
        (:func:`attnkit.data.placeholders.mask`, :func:`~attnkit.data.placeholders.unseen_name`);
        ``text`` itself, with no spans, for a run trained without placeholders."""
        if not self.uses_placeholders:
            return Masked(text, {})
        return placeholders.mask(
            text,
            unknown=lambda word: UNK_ID in self.src_tok.encode(word),
            source_words=self.source_words,
        )

    def check_input(
        self, text: str, allow_unknown: bool = False, how_to_allow: str = "pass --allow-unknown"
    ) -> list[int]:
        """The ids of :meth:`encode_input` (which raises on bad input)."""
        return self.encode_input(text, allow_unknown, how_to_allow)[0]

    def encode_input(
        self, text: str, allow_unknown: bool = False, how_to_allow: str = "pass --allow-unknown"
    ) -> tuple[list[int], Masked]:
        """Mask (:meth:`mask`) and encode one sentence, refusing empty, unknown-character and
        over-long input; the ids and the masked text, whose ``unmask`` restores the output.

        With placeholders, only what is left unmasked can be unknown: the punctuation around
        a word, or spans past the eighth. ``how_to_allow`` completes the unknown-character
        message: how the caller's user asks for ``allow_unknown`` (a CLI flag, a JSON field in
        ``attnkit serve``).

        Raises:
            AttnkitError: empty text, characters the model never saw, too many tokens.
        """
        if not isinstance(text, str) or not text.strip():
            raise AttnkitError("empty input: give a sentence to translate")
        masked = self.mask(text.strip())
        ids = self.src_tok.encode(masked.text, add_eos=True)
        if UNK_ID in ids and not allow_unknown:
            unknown = sorted(
                {
                    p
                    for p in self.src_tok.pieces(masked.text)
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
        return ids, masked

    def attention_view(
        self, text: str, hyp: Hypothesis
    ) -> tuple[list[str], list[str], torch.Tensor]:
        """Source pieces, target pieces and the ``(Lt, Ls)`` attention of ``hyp`` (of ``text``).

        Row i holds how much target piece i attended to each source piece (``</s>`` included).
        The model read placeholders where :meth:`mask` put them; such a piece shows the span it
        stands for (``42`` where the model read ``⟦1⟧``), one piece however long the span.
        """
        masked = self.mask(text.strip())
        src_pieces = [*map(masked.restore, self.src_tok.pieces(masked.text)), "</s>"]
        tgt_pieces = [masked.restore(self.tgt_tok.id_to_piece(i)) for i in hyp.tokens]
        return src_pieces, tgt_pieces, hyp.attention[: len(tgt_pieces), : len(src_pieces)]

    @torch.no_grad()
    def layer_attention(self, ids: list[int], hyp: Hypothesis) -> torch.Tensor | None:
        """Every decoder layer's and head's cross-attention ``(N, H, Lt, Ls)`` over the source
        ``ids`` while producing ``hyp`` (a Transformer's; None for the RNN, which has one)."""
        if not isinstance(self.model, Transformer):
            return None
        src = torch.tensor([ids], device=self.device)  # (1, Ls)
        tgt_in = torch.tensor([[BOS_ID, *hyp.tokens]], device=self.device)  # (1, Lt + 1)
        weights = self.model.cross_attention(src, torch.tensor([len(ids)]), tgt_in)
        return weights[0, :, :, : len(hyp.tokens)].cpu()  # (N, H, Lt, Ls)


__all__ = ["Translator"]
