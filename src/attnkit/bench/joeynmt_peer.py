"""JoeyNMT 2.3.0 beside attnkit: its models at attnkit's sizes, its recipes, its loss and search
over attnkit's batches and ids.

JoeyNMT's code comes from the package registry (``ensure("joeynmt")``: its wheel and the
three small packages its model code imports, unpacked into the cache, not installed).
``torch.utils.tensorboard`` is replaced by a stub when tensorboard is missing: JoeyNMT's
helpers import it but the model, builders and search never write a summary. Its builder's
plateau scheduler gets torch's without the ``verbose`` argument torch 2.13 removed.

The two toolkits number the special pieces differently (attnkit PAD 0 / UNK 1, JoeyNMT
UNK 0 / PAD 1; BOS 2 and EOS 3 agree, and every other id is the same piece), so ids are
swapped on the way in (:func:`to_joey_ids`) and out (:func:`from_joey_ids`).

Example:
    >>> ids = torch.tensor([[2, 7, 1, 3, 0]])
    >>> to_joey_ids(ids).tolist(), from_joey_ids(to_joey_ids(ids)).tolist() == ids.tolist()
    ([[2, 7, 0, 3, 1]], True)
"""

from __future__ import annotations

import logging
import sys
import types
from collections.abc import Sequence
from dataclasses import dataclass

import torch

from attnkit.data.assets import JOEYNMT_PACKAGES
from attnkit.data.batching import pad_sequences
from attnkit.decoding.batched import DecodeConfig
from attnkit.specials import BOS_ID, EOS_ID, PAD_ID, UNK_ID

PEER = JOEYNMT_PACKAGES[0]
JOEY_UNK, JOEY_PAD = 0, 1  # JoeyNMT swaps attnkit's PAD and UNK ids; BOS and EOS agree


def import_joeynmt():
    """``joeynmt.model`` from the cached asset (fetched on first use)."""
    from attnkit.data.registry import ensure

    folder = str(ensure("joeynmt"))
    if folder not in sys.path:
        sys.path.insert(0, folder)
    try:
        import torch.utils.tensorboard  # noqa: F401
    except ImportError:  # JoeyNMT's helpers import SummaryWriter; model code never uses it
        stub = types.ModuleType("torch.utils.tensorboard")
        stub.SummaryWriter = object  # type: ignore[attr-defined]
        sys.modules["torch.utils.tensorboard"] = stub
    import joeynmt.builders
    import joeynmt.model

    joeynmt.builders.ReduceLROnPlateau = _Plateau
    for name in list(logging.root.manager.loggerDict):  # JoeyNMT's loggers print INFO lines
        if name.startswith("joeynmt"):
            logging.getLogger(name).setLevel(logging.WARNING)
    return joeynmt.model


class _Plateau(torch.optim.lr_scheduler.ReduceLROnPlateau):
    """torch's plateau scheduler without ``verbose``, which JoeyNMT 2.3.0's builder passes and
    torch 2.13 no longer takes (it only switched off a log line)."""

    def __init__(self, optimizer, verbose: bool = False, **kwargs) -> None:
        super().__init__(optimizer, **kwargs)


def to_joey_ids(ids: torch.Tensor) -> torch.Tensor:
    """attnkit ids (PAD 0, UNK 1, BOS 2, EOS 3) -> JoeyNMT's (UNK 0, PAD 1, BOS 2, EOS 3)."""
    out = ids.clone()
    out[ids == PAD_ID], out[ids == UNK_ID] = JOEY_PAD, JOEY_UNK
    return out


def from_joey_ids(ids: torch.Tensor) -> torch.Tensor:
    """JoeyNMT ids -> attnkit's (the same swap: it is its own inverse)."""
    return to_joey_ids(ids)


@dataclass(frozen=True)
class Recipe:
    """A JoeyNMT training recipe: the ``training`` keys its builders read, its model
    initialisation, and where it comes from.

    ``validations`` and ``patience`` keep the documented config's proportions: it validates
    ``validations`` times over its run, and the plateau scheduler waits ``patience`` of them.
    """

    source: str
    training: dict
    init: dict
    validations: int = 10
    beam_size: int = 5  # its ``testing`` section
    beam_alpha: float = 1.0
    warmup_fraction: float | None = None  # warm-up steps as a share of the run's updates

    def training_for(self, updates: int) -> dict:
        """The ``training`` section for a run of ``updates`` updates (validation frequency
        scaled to the same number of validations as the documented run; the warm-up to the
        same share of the run)."""
        training = {**self.training, "validation_freq": max(1, updates // self.validations)}
        if self.warmup_fraction is not None:
            training["learning_rate_warmup"] = max(1, round(self.warmup_fraction * updates))
        return training


_SMALL = {  # configs/rnn_small.yaml and transformer_small.yaml of JoeyNMT 2.3.0 (100 updates)
    "optimizer": "adamw",
    "adam_betas": (0.9, 0.999),
    "learning_rate": 0.005,
    "learning_rate_min": 0.0001,
    "clip_grad_val": 1.0,
    "clip_grad_norm": None,
    "weight_decay": 0.0,
    "scheduling": "plateau",
    "patience": 5,
    "decrease_factor": 0.5,
    "normalization": "tokens",  # its IWSLT14 configs' choice for token batches
    "early_stopping_metric": "loss",  # dev loss: the best checkpoint, and the plateau's metric
}
RECIPES = {
    "rnn": Recipe(
        "JoeyNMT 2.3.0 configs/rnn_small.yaml (its GRU + Bahdanau config for a short run: "
        "AdamW 5e-3, value clipping 1.0, plateau x0.5 after 5 validations without a lower "
        "dev loss, 10 validations a run, the checkpoint of the lowest dev loss), no label "
        "smoothing as there and in its IWSLT14 RNN config",
        {**_SMALL, "label_smoothing": 0.0},
        {
            "initializer": "xavier_uniform",
            "init_gain": 1.0,
            "bias_initializer": "zeros",
            "embed_initializer": "normal",
            "embed_init_weight": 0.1,
            "init_rnn_orthogonal": False,
        },
    ),
    "transformer": Recipe(
        "JoeyNMT 2.3.0's Transformer schedule (configs/iwslt14_deen_sp.yaml: linear warm-up, "
        "then inverse square-root decay; label smoothing 0.1, token normalization) fitted to "
        "the budget with the choices attnkit's Transformer made on dev at it: warm-up over "
        "10% of the updates to a peak of 3e-3 (the documented 4,000 warm-up steps to 2e-4 "
        "are for runs of 100k updates), AdamW, gradient norm clipping 1.0, no dropout; 10 "
        "validations a run, the checkpoint of the lowest dev loss, pre-LayerNorm, scaled "
        "embeddings. Its configs/transformer_small.yaml recipe (AdamW 5e-3 from the first "
        "update, plateau) did not learn in this budget (``quality_transformer_small`` of "
        "benchmarks/measured/peers.json)",
        {
            **_SMALL,
            "scheduling": "warmupinversesquareroot",
            "learning_rate": 0.003,
            "learning_rate_min": 1e-8,
            "clip_grad_val": None,
            "clip_grad_norm": 1.0,
            "label_smoothing": 0.1,
        },
        {
            "initializer": "xavier_uniform",
            "init_gain": 1.0,
            "bias_initializer": "zeros",
            "embed_initializer": "xavier_uniform",
            "embed_init_gain": 1.0,
        },
        warmup_fraction=0.1,
    ),
}
"""JoeyNMT's own recipe per architecture, for attnkit's budget of about 500-1,000 updates."""


def _vocabulary(vocab_size: int):
    from joeynmt.vocabulary import Vocabulary

    specials = types.SimpleNamespace(
        unk_token="<unk>",
        pad_token="<pad>",
        bos_token="<s>",
        eos_token="</s>",
        sep_token=None,
        lang_tags=[],
        unk_id=JOEY_UNK,
        pad_id=JOEY_PAD,
        bos_id=BOS_ID,
        eos_id=EOS_ID,
    )
    return Vocabulary([f"piece{i}" for i in range(vocab_size - 4)], specials)


def model_config(cfg) -> dict:
    """JoeyNMT's ``model`` section with the architecture and sizes of attnkit's ``cfg``
    (a translate config): the RNN's bi-GRU, Bahdanau attention and input feeding, or the
    Transformer's width, heads, layers and feed-forward size (JoeyNMT's is a ReLU MLP of
    ``ff_dim``; attnkit's SwiGLU of ``2/3 ff_dim`` has as many weights); embeddings tied
    as attnkit ties them: the target embedding is the output layer, and the Transformer's
    source embedding is the same table (``share_embeddings``), the RNN's its own. Dropout is
    attnkit's config's (the Transformer's recipe takes attnkit's choice at the budget, none)."""
    if cfg.arch == "transformer":
        t = cfg.transformer
        recipe, dropout = RECIPES["transformer"], t.dropout
        side = {
            "type": "transformer",
            "num_layers": t.enc_layers,
            "num_heads": t.heads,
            "embeddings": {"embedding_dim": t.dim, "scale": True, "dropout": dropout},
            "hidden_size": t.dim,
            "ff_size": t.ff_dim,
            "dropout": dropout,
            "layer_norm": "pre",
            "activation": "relu",
        }
        encoder, decoder = side, {**side, "num_layers": t.dec_layers}
        shared = t.share_embeddings
    else:
        m = cfg.model
        emb = {"embedding_dim": m.emb_dim, "scale": False, "dropout": m.dropout}
        encoder = {
            "type": "recurrent",
            "rnn_type": m.rnn,
            "embeddings": emb,
            "hidden_size": m.hidden_dim // 2,
            "bidirectional": True,
            "dropout": m.dropout,
            "num_layers": m.enc_layers,
        }
        decoder = {
            "type": "recurrent",
            "rnn_type": m.rnn,
            "embeddings": emb,
            "hidden_size": m.hidden_dim,
            "attention": "bahdanau",
            "input_feeding": m.input_feeding,
            "init_hidden": "bridge",
            "dropout": m.dropout,
            "hidden_dropout": m.dropout,
            "num_layers": m.dec_layers,
        }
        recipe, shared = RECIPES["rnn"], False  # attnkit's RNN: its own source embedding
    return {
        **recipe.init,
        "tied_embeddings": shared,
        "tied_softmax": True,
        "encoder": encoder,
        "decoder": decoder,
    }


def joeynmt_model(cfg, vocab_size: int, label_smoothing: float | None = None):
    """JoeyNMT's model (its own ``build_model``) with the architecture of attnkit's ``cfg``
    over a joint vocabulary of ``vocab_size`` pieces, with JoeyNMT's recipe's initialisation
    and cross-entropy (label smoothing: ``label_smoothing``, else the recipe's)."""
    model_mod = import_joeynmt()
    vocab = _vocabulary(vocab_size)
    model = model_mod.build_model(model_config(cfg), src_vocab=vocab, trg_vocab=vocab)
    arch = "transformer" if cfg.arch == "transformer" else "rnn"
    if label_smoothing is None:
        label_smoothing = RECIPES[arch].training["label_smoothing"]
    model.loss_function = ("crossentropy", label_smoothing)
    return model


def joey_loss(model, batch: dict[str, torch.Tensor]) -> tuple[torch.Tensor, int]:
    """JoeyNMT's summed training loss on an attnkit batch (``src``, ``src_len``, ``tgt_in``,
    ``tgt_out``) and its target tokens, as ``joeynmt.batch.Batch`` feeds the model (sorted
    longest source first, as its trainer sorts every batch)."""
    order = torch.argsort(batch["src_len"], descending=True, stable=True)
    batch = {k: v[order] for k, v in batch.items()}
    src = to_joey_ids(batch["src"])
    # JoeyNMT's decoder input is the target with EOS replaced by padding (joeynmt.batch.Batch)
    trg_input = torch.where(batch["tgt_in"] == EOS_ID, JOEY_PAD, to_joey_ids(batch["tgt_in"]))
    trg = to_joey_ids(batch["tgt_out"])
    trg_mask = (trg != JOEY_PAD).unsqueeze(1)  # (B, 1, Lt)
    loss, _, _, _ = model(
        return_type="loss",
        src=src,
        trg_input=trg_input,
        src_mask=(src != JOEY_PAD).unsqueeze(1),
        src_length=batch["src_len"],
        trg_mask=trg_mask,
        trg=trg,
    )
    return loss, int(trg_mask.sum())


def _cut(row) -> list[int]:
    """A JoeyNMT output row (numpy) as attnkit ids, up to its first EOS."""
    ids = from_joey_ids(torch.as_tensor(row)).tolist()
    return ids[: ids.index(EOS_ID)] if EOS_ID in ids else [i for i in ids if i != PAD_ID]


@torch.no_grad()
def joey_translate_ids(
    model, src: Sequence[list[int]], cfg: DecodeConfig, *, greedy: bool = False
) -> list[list[int]]:
    """Decode attnkit-encoded sources with JoeyNMT's own search (``joeynmt.search.search``):
    the best output ids of each, in input order.

    Batching as attnkit's :func:`~attnkit.decoding.batched.decode_batched`: sorted by length,
    ``cfg.batch_sentences`` a batch; beam ``cfg.beam_size`` (1 or ``greedy``: greedy search);
    JoeyNMT takes one output limit a batch, the largest of its sentences'
    ``cfg.output_limit``; its length penalty is ``cfg.alpha``.
    """
    import_joeynmt()
    from joeynmt.batch import Batch
    from joeynmt.search import search

    model.eval()
    beam = 1 if greedy else cfg.beam_size
    order = sorted(range(len(src)), key=lambda i: len(src[i]))
    results: list[list[int]] = [[] for _ in src]
    for start in range(0, len(order), cfg.batch_sentences):
        idx = order[start : start + cfg.batch_sentences][::-1]  # longest first, as JoeyNMT sorts
        ids, lengths = pad_sequences([src[i] for i in idx])  # (B, Ls), (B,)
        batch = Batch(
            to_joey_ids(ids), lengths, None, None, None, torch.tensor(idx),
            torch.device("cpu"), JOEY_PAD, EOS_ID, is_train=False,
        )  # fmt: skip
        limit = max(cfg.output_limit(n) for n in lengths.tolist())
        output, _, _ = search(model, batch, limit, beam, cfg.alpha, n_best=1)
        for i, row in zip(idx, output, strict=True):
            results[i] = _cut(row)
    return results


__all__ = [
    "JOEY_PAD",
    "JOEY_UNK",
    "PEER",
    "RECIPES",
    "Recipe",
    "from_joey_ids",
    "import_joeynmt",
    "joey_loss",
    "joey_translate_ids",
    "joeynmt_model",
    "model_config",
    "to_joey_ids",
]
