"""The classic "translate 'he is good'" Keras snippet, written correctly with attnkit.

The snippet as published tokenizes the whole corpus as one sequence and feeds a single input
to a two-input model. Here each sentence is its own sequence, the encoder and the decoder
get their own inputs (source ids; BOS-shifted target ids), and a multi-head self-attention
layer sits between the encoder and the Bahdanau-attention decoder.

Run: .venv/bin/python examples/blog_example.py   (about 10 seconds on a CPU)
"""

import torch

from attnkit.data.batching import pad_sequences
from attnkit.data.text import WordTokenizer
from attnkit.decoding import greedy_search
from attnkit.models.losses import label_smoothed_cross_entropy
from attnkit.models.seq2seq import Seq2Seq, Seq2SeqConfig

PAIRS = [
    ("he is good", "il est bon"),
    ("she is good", "elle est bonne"),
    ("he is happy", "il est heureux"),
    ("she is happy", "elle est heureuse"),
    ("he is tall", "il est grand"),
    ("she is tall", "elle est grande"),
]

torch.manual_seed(0)
src_tok = WordTokenizer.build([en for en, _ in PAIRS], min_freq=1)
tgt_tok = WordTokenizer.build([fr for _, fr in PAIRS], min_freq=1)

# One sequence per sentence (not the whole corpus as one), padded per batch.
src, src_len = pad_sequences([src_tok.encode(en, add_eos=True) for en, _ in PAIRS])
tgt, _ = pad_sequences([tgt_tok.encode(fr, add_bos=True, add_eos=True) for _, fr in PAIRS])
tgt_in, tgt_out = tgt[:, :-1], tgt[:, 1:]  # (B, Lt): the decoder's input and what it predicts

model = Seq2Seq(
    Seq2SeqConfig(
        emb_dim=32,
        hidden_dim=64,
        attention="bahdanau",
        self_attention_heads=4,  # the self-attention layer between encoder and decoder
        dropout=0.0,
        tie_embeddings=False,  # two vocabularies: English in, French out
    ),
    src_vocab=src_tok.vocab_size,
    tgt_vocab=tgt_tok.vocab_size,
)
optimizer = torch.optim.AdamW(model.parameters(), lr=1e-2)
for _step in range(150):
    logits, _ = model(src, src_len, tgt_in)  # two inputs: source and shifted target
    loss, n_tokens = label_smoothed_cross_entropy(logits, tgt_out, smoothing=0.0)
    optimizer.zero_grad()
    (loss / n_tokens).backward()
    optimizer.step()

model.eval()
query, query_len = pad_sequences([src_tok.encode("he is good", add_eos=True)])
best = greedy_search(model, query, query_len, max_len=10)[0][0]
print("he is good ->", tgt_tok.decode(best.tokens))
print("attention (output x source):\n", best.attention.numpy().round(2))
