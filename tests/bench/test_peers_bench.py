"""bench peers: JoeyNMT's models at attnkit's sizes, its ids, its search against a naive loop,
and the whole harness on the tiny corpus (every part, a JSON with every field)."""

import json

import pytest
import torch

from attnkit.bench import joeynmt_peer, peers
from attnkit.decoding.batched import DecodeConfig
from attnkit.paths import dataset_dir
from attnkit.specials import BOS_ID, EOS_ID, PAD_ID, UNK_ID
from attnkit.tasks import get_task
from attnkit.tasks.runner import train

CACHED_JOEYNMT = dataset_dir("joeynmt")  # the user's cache, read before tests isolate it

TINY = [
    "data.corpus=jupyterlab-fr",
    "data.tokenizer=word",
    "data.max_tokens=300",
    "data.dev_limit=8",
    "model.emb_dim=32",
    "model.hidden_dim=32",
    "transformer.dim=32",
    "transformer.heads=2",
    "transformer.enc_layers=1",
    "transformer.dec_layers=1",
    "transformer.ff_dim=64",
    "train.bf16=false",
    "train.progress=false",
]


@pytest.fixture(autouse=True)
def joeynmt_cached():
    """JoeyNMT's code in this test's cache: a link to the user's copy when there is one, else
    fetched from the package registry."""
    if CACHED_JOEYNMT.is_dir() and not dataset_dir("joeynmt").exists():
        dataset_dir("joeynmt").parent.mkdir(parents=True, exist_ok=True)
        dataset_dir("joeynmt").symlink_to(CACHED_JOEYNMT)
    joeynmt_peer.import_joeynmt()


def tiny_cfg(arch: str, *extra: str):
    """The bench's config of ``arch`` (no placeholders, as translate-arch's rnn and
    transformer runs), made tiny."""
    return peers.load_cfg(arch, [*TINY, *extra])


def test_ids_round_trip_and_swap_only_pad_and_unk():
    ours = torch.tensor([[BOS_ID, 7, UNK_ID, EOS_ID, PAD_ID, PAD_ID]])
    joey = joeynmt_peer.to_joey_ids(ours)
    assert joey.tolist() == [[2, 7, 0, 3, 1, 1]]  # JoeyNMT: UNK 0, PAD 1
    assert torch.equal(joeynmt_peer.from_joey_ids(joey), ours)
    every = torch.arange(50)
    assert torch.equal(joeynmt_peer.from_joey_ids(joeynmt_peer.to_joey_ids(every)), every)


@pytest.mark.parametrize("arch", ["rnn", "transformer"])
def test_joeynmt_builder_matches_attnkit_parameter_count(arch):
    cfg = tiny_cfg(arch)
    ours = get_task("translate").build_model(cfg, _assets(60))
    joey = joeynmt_peer.joeynmt_model(cfg, 60)
    n_ours, n_joey = (sum(p.numel() for p in m.parameters()) for m in (ours, joey))
    if arch == "rnn":  # the same layers: bi-GRU, bridge, Bahdanau, input feeding, tied output
        assert n_joey == n_ours
    else:  # LayerNorm vs attnkit's, ReLU MLP of ff_dim vs SwiGLU of 2/3 ff_dim: within 2%
        assert abs(n_joey - n_ours) / n_ours < 0.02
    assert joey.decoder.output_layer.weight is joey.trg_embed.lut.weight  # tied
    assert (joey.src_embed is joey.trg_embed) == (arch == "transformer")  # as attnkit shares


def _assets(vocab: int):
    import types

    tok = types.SimpleNamespace(vocab_size=vocab)
    return types.SimpleNamespace(src_tok=tok, tgt_tok=tok)


@pytest.mark.parametrize("arch", ["rnn", "transformer"])
def test_joeynmt_greedy_equals_a_naive_argmax_loop(arch):
    torch.manual_seed(0)
    model = joeynmt_peer.joeynmt_model(tiny_cfg(arch), 40).eval()
    src = [[5, 9, 12, EOS_ID], [7, 8, EOS_ID], [20, 21, 22, 23, 24, EOS_ID]]
    cfg = DecodeConfig(max_len=6, batch_sentences=2)  # every sentence's limit: 6
    got = joeynmt_peer.joey_translate_ids(model, src, cfg, greedy=True)
    for ids, out in zip(src, got, strict=True):
        assert out == _argmax_loop(model, ids, 6, forbid_pad=arch == "rnn")


def _argmax_loop(model, ids: list[int], limit: int, forbid_pad: bool) -> list[int]:
    """Teacher-force the whole prefix through JoeyNMT's model each step and take the argmax of
    the last position (never BOS, nor PAD in its RNN search; EOS not first), one sentence
    alone."""
    prefix: list[int] = []
    for step in range(limit):
        batch = {
            "src": torch.tensor([ids]),
            "src_len": torch.tensor([len(ids)]),
            "tgt_in": torch.tensor([[BOS_ID, *prefix]]),
            "tgt_out": torch.tensor([[*prefix, EOS_ID]]),
        }
        with torch.no_grad():
            logits = _logits(model, batch)[0, -1]  # (V,) in JoeyNMT's ids
        logits[BOS_ID] = float("-inf")
        if forbid_pad:
            logits[joeynmt_peer.JOEY_PAD] = float("-inf")
        if step == 0:
            logits[EOS_ID] = float("-inf")
        token = int(joeynmt_peer.from_joey_ids(logits.argmax().view(1)))
        if token == EOS_ID:
            break
        prefix.append(token)
    return prefix


def _logits(model, batch) -> torch.Tensor:
    src = joeynmt_peer.to_joey_ids(batch["src"])
    out, _, _, _ = model._encode_decode(
        src=src,
        trg_input=joeynmt_peer.to_joey_ids(batch["tgt_in"]),
        src_mask=(src != joeynmt_peer.JOEY_PAD).unsqueeze(1),
        src_length=batch["src_len"],
        trg_mask=torch.ones_like(batch["tgt_in"], dtype=torch.bool).unsqueeze(1),
    )
    return out  # (1, Lt, V)


def test_joey_loss_is_order_free_and_counts_target_tokens():
    torch.manual_seed(0)
    model = joeynmt_peer.joeynmt_model(tiny_cfg("rnn"), 40, label_smoothing=0.0).eval()
    batch = {
        "src": torch.tensor([[5, 6, EOS_ID, PAD_ID], [7, 8, 9, EOS_ID]]),
        "src_len": torch.tensor([3, 4]),
        "tgt_in": torch.tensor([[BOS_ID, 10, 11], [BOS_ID, 12, PAD_ID]]),
        "tgt_out": torch.tensor([[10, 11, EOS_ID], [12, EOS_ID, PAD_ID]]),
    }
    with torch.no_grad():
        loss, n = joeynmt_peer.joey_loss(model, batch)
        alone = [
            joeynmt_peer.joey_loss(model, {k: v[i : i + 1] for k, v in batch.items()})[0]
            for i in range(2)
        ]
    assert n == 5  # padding is not a target
    assert loss.item() == pytest.approx(sum(a.item() for a in alone), rel=1e-5)


def test_ratio_stats_pairs_times():
    assert peers.ratio_stats([1.0, 2.0], [3.0, 3.0]) == {"min": 1.5, "median": 2.25, "max": 3.0}


@pytest.fixture
def tiny_runs(tiny_corpus, tmp_path):
    """attnkit's tiny RNN and Transformer runs, as ``bench translate-arch`` lays them out."""
    task = get_task("translate")
    for arch in peers.ARCHS:
        cfg = tiny_cfg(arch, "train.max_steps=20", "train.eval_every=0", "decode.beam_size=5")
        train(task.name, cfg, tmp_path / "ours" / arch)
    return tmp_path / "ours"


def test_harness_runs_every_part_and_writes_every_field(tiny_runs, tmp_path, capsys):
    argv = ["--attnkit-runs", str(tiny_runs), "--runs", str(tmp_path / "peers")]
    argv += ["--out", str(tmp_path / "out"), "--steps", "3", "--rss-steps", "2"]
    argv += ["--sentences", "12", "--chunk", "4", "--updates", "6"]
    for override in TINY:
        argv += ["--set", override]
    assert peers.main(argv) == 0
    record = json.loads((tmp_path / "out" / "peers-latest.json").read_text())
    assert record["archs"] == list(peers.ARCHS) and record["parts"] == list(peers.PARTS)
    assert record["budget"]["joeynmt_updates"] == {"rnn": 6, "transformer": 6}
    assert set(record["budget"]["updates"]) == set(peers.ARCHS)
    for arch in peers.ARCHS:
        params = record["parameters"][arch]
        assert params["attnkit"] == record["quality"][arch]["attnkit"]["parameters"]
        assert params["joeynmt"] == record["quality"][arch]["joeynmt"]["parameters"]
        (train_row,) = record["train"][arch]  # bf16 off: one row, float32 against float32
        assert train_row["attnkit_dtype"] == "float32" and train_row["steps"] == 2
        assert train_row["attnkit_tokens_per_s"] > 0 < train_row["joeynmt_tokens_per_s"]
        r = train_row["ratio"]
        assert r["min"] <= r["median"] <= r["max"]
        for mode in ("greedy", "beam5"):
            d = record["decode"][arch][mode]
            assert d["chunks"] == 3 and d["attnkit_sentences_per_s"] > 0
            assert d["ratio"]["min"] <= d["ratio"]["median"] <= d["ratio"]["max"]
        assert min(record["rss_mib"][arch].values()) > 50  # torch alone is more
        assert min(record["rss_mib_fixed_mmap_threshold"][arch].values()) > 50
        assert isinstance(record["quality"][arch]["attnkit"]["decode"]["bf16"], bool)
        joey = record["quality"][arch]["joeynmt"]
        assert joey["updates"] == 6 and [h["step"] for h in joey["history"]] == list(range(1, 7))
        for side in ("attnkit", "joeynmt"):
            test = record["quality"][arch][side]["test"]
            assert test["sentences"] == 20 and 0 <= test["bleu"] <= 100 and test["chrf"] >= 0
    # the attnkit row is the same sacrebleu call on the run's own beam-5 output as its eval
    ours = json.loads((tiny_runs / "rnn" / "eval_test.json").read_text())
    assert record["quality"]["rnn"]["attnkit"]["test"]["bleu"] == ours["bleu"]
    out = capsys.readouterr().out
    assert "joeynmt transformer" in out and "attnkit/JoeyNMT rnn" in out

    stamp = (tmp_path / "peers" / "rnn" / "result.json").stat().st_mtime_ns
    assert peers.main([*argv, "--parts", "quality", "--archs", "rnn"]) == 0  # reused
    assert (tmp_path / "peers" / "rnn" / "result.json").stat().st_mtime_ns == stamp


@pytest.mark.parametrize(
    "argv", [["--parts", "speed"], ["--archs", "lstm"], ["--steps", "1"], ["--chunk", "0"]]
)
def test_harness_rejects_bad_arguments(argv, capsys):
    with pytest.raises(SystemExit) as exit_:
        peers.main(argv)
    assert exit_.value.code == 2
    assert "error:" in capsys.readouterr().err


def test_the_transformer_recipe_warms_up_over_a_tenth_of_any_run():
    """JoeyNMT's own warm-up scheduler, its warm-up scaled to the run: lr rises linearly to the
    peak at 10% of the updates and decays as 1/sqrt(step) after (JoeyNMT's formula)."""
    from attnkit.bench.joeynmt_peer import RECIPES, import_joeynmt

    import_joeynmt()
    from joeynmt.builders import build_scheduler

    training = RECIPES["transformer"].training_for(400)
    assert training["learning_rate_warmup"] == 40 and training["validation_freq"] == 40
    assert "learning_rate_warmup" not in RECIPES["rnn"].training_for(400)  # plateau, as before
    opt = torch.optim.AdamW([torch.nn.Parameter(torch.zeros(1))], lr=training["learning_rate"])
    scheduler, step_at = build_scheduler(training, opt, "min", 0)
    rates = []
    for step in range(400):
        scheduler.step(step)
        rates.append(opt.param_groups[0]["lr"])
    peak = training["learning_rate"]
    assert step_at == "step" and rates[19] == pytest.approx(peak * 20 / 40)
    assert max(rates) == pytest.approx(peak) and rates.index(max(rates)) == 39
    assert rates[-1] == pytest.approx(peak * (40 / 400) ** 0.5)
