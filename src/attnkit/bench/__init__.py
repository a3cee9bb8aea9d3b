"""attnkit.bench: side-by-side benchmarks of attnkit against its peers.

Each benchmark runs attnkit and the peer in the same process (interleaved, so machine noise
hits both), prints min/median/max seconds over repeats and the ratio ``attnkit / peer``, and
writes JSON under ``benchmarks/results/``. Absolute seconds are noisy on a shared machine;
the ratios are what count.

=============  ===============================================================================
module         what it compares
=============  ===============================================================================
``attention``  :func:`~attnkit.attention.sdpa.scaled_dot_product_attention` (fused, weights,
               chunked) and :class:`~attnkit.attention.multihead.MultiHeadAttention` vs torch
=============  ===============================================================================

Example:
    $ attnkit bench attention --quick
"""
