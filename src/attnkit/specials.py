"""The one table of special token ids, shared by every vocabulary, model, loss and search.

Every text vocabulary in attnkit (sentencepiece and word tokenizers, the tagger's word and
character tables) reserves the same ids, so padding masks, losses and decoding never need to
be told them:

====  ==========  =============================================
id    token       meaning
====  ==========  =============================================
0     ``<pad>``   padding; ignored by losses, masked in attention
1     ``<unk>``   anything the vocabulary does not hold
2     ``<s>``     beginning of a target sequence (decoder input)
3     ``</s>``    end of a sequence
====  ==========  =============================================

Example:
    >>> SPECIAL_TOKENS[EOS_ID]
    '</s>'
"""

from __future__ import annotations

PAD_ID, UNK_ID, BOS_ID, EOS_ID = 0, 1, 2, 3
SPECIAL_TOKENS: tuple[str, str, str, str] = ("<pad>", "<unk>", "<s>", "</s>")

__all__ = ["BOS_ID", "EOS_ID", "PAD_ID", "SPECIAL_TOKENS", "UNK_ID"]
