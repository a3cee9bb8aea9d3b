"""Every real task under torchrun: 2 gloo ranks give the model that 1 process gives on the
same global batches (1 process accumulating the 2 batches the ranks share out).

Each rank takes every other batch and DDP averages the gradients; the Trainer then rescales
them to the mean over all the tokens (or images) of the step. One process with
``train.accumulate=2`` takes the same two batches per step. If a task computed its loss
outside DDP's forward (no gradient averaging), or the normalisation were per rank, the weights
would part after the first step. Dropout is off so both sides draw nothing at random.
"""

import os
import subprocess
import sys

import pytest
import torch

from attnkit.config import load_config
from attnkit.paths import repo_configs_dir
from attnkit.tasks import get_task, train
from attnkit.training import seed_everything
from attnkit.training.checkpoint import load_model_state

COMMON = ["train.bf16=false", "train.progress=false", "train.threads=1", "train.warmup_steps=0"]

CASES = {
    "translate": [
        "data.corpus=jupyterlab-fr",
        "data.tokenizer=word",
        "data.max_tokens=300",
        "data.min_batches_per_epoch=0",
        "train.min_steps=0",
        "model.emb_dim=32",
        "model.hidden_dim=64",
        "model.dropout=0.0",
        "train.epochs=2",
        "train.eval_every=0",
        "decode.beam_size=1",
    ],
    "translate_transformer": [
        "data.corpus=jupyterlab-fr",
        "data.tokenizer=word",
        "data.max_tokens=300",
        "data.min_batches_per_epoch=0",
        "train.min_steps=0",
        "arch=transformer",
        "transformer.dim=32",
        "transformer.heads=2",
        "transformer.ff_dim=48",
        "transformer.enc_layers=1",
        "transformer.dec_layers=1",
        "transformer.residual=gated",
        "transformer.dropout=0.0",
        "train.epochs=2",
        "train.eval_every=0",
        "decode.beam_size=1",
    ],
    "tag": [
        "model.word_dim=16",
        "model.char_dim=8",
        "model.char_channels=16",
        "model.lstm_hidden=16",
        "model.num_heads=2",
        "model.ffn_dim=32",
        "model.dropout=0.0",
        "data.min_word_count=1",
        "data.batch_tokens=300",
        "train.epochs=1",
    ],
    "segtag": [
        "model.word_dim=16",
        "model.char_dim=8",
        "model.lstm_hidden=16",
        "model.num_heads=2",
        "model.ffn_dim=32",
        "model.dropout=0.0",
        "data.batch_tokens=600",
        "data.min_bigram_count=1",
        "train.epochs=1",
    ],
    "summarize": [
        "data.max_tokens=400",
        "data.min_count=1",
        "data.dev_limit=10",
        "model.emb_dim=32",
        "model.hidden_dim=64",
        "model.dropout=0.0",
        "model.coverage=true",
        "train.epochs=1",
        "train.eval_every=0",
        "train.budget_minutes=null",
        "decode.beam_size=1",
    ],
    "classify": [
        "data.validation_per_class=2",
        "data.batch_size=8",
        "data.eval_batch_size=20",
        "train.epochs=3",
    ],
    "correct": [
        "data.dev=0.2",
        "data.test=0.2",
        "data.pair_dev=0.25",
        "data.pair_test=0.25",
        "data.frequent=0.3",
        "data.buckets=512",
        "data.batch_size=16",
        "data.max_train_sentences=60",
        "model.embed_dim=16",
        "model.window=2",
        "train.epochs=1",
    ],
}


def _torchrun(task: str, overrides: list[str], out) -> subprocess.CompletedProcess:
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           "-m", "attnkit.cli", "train", task, "--out", str(out)]  # fmt: skip
    for item in overrides:
        cmd += ["--set", item]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    return subprocess.run(cmd, capture_output=True, text=True, timeout=600, env=env)


DATA = {"translate": "tiny_corpus", "tag": "pku_heldout", "segtag": "pku_heldout",
        "summarize": "tiny_summaries", "classify": "fmnist_root",
        "correct": "tiny_correction"}  # fmt: skip
"""The fixture with each task's data (the summaries' and the corrector's Debian texts differ)."""


@pytest.mark.parametrize("case", sorted(CASES))
def test_two_ranks_equal_one_process_accumulating_their_batches(case, tmp_path, request):
    task = case.removesuffix("_transformer")
    data = request.getfixturevalue(DATA[task])
    overrides = [*COMMON, *CASES[case]]
    if task == "classify":
        overrides.append(f"data.root={data}")
    ddp = _torchrun(task, overrides, tmp_path / "ddp")
    assert ddp.returncode == 0, ddp.stderr[-3000:]

    spec = get_task(task)
    cfg = load_config(
        spec.config_class,
        repo_configs_dir() / spec.default_config,
        [*overrides, "train.accumulate=2"],
    )
    single = train(spec, cfg, tmp_path / "single")
    ddp_state, ddp_meta = load_model_state(tmp_path / "ddp" / "last")
    one_state, _ = load_model_state(tmp_path / "single" / "last")
    assert ddp_meta["parameters"] == single["parameters"]
    steps = [int(line.split(",")[0]) for line in (tmp_path / "ddp" / "metrics.csv").read_text()
             .splitlines()[1:] if ",dev," in line]  # fmt: skip
    assert steps[-1] == single["steps"] >= 3

    seed_everything(cfg.train.seed)  # the initial weights both runs started from
    model = spec.build_model(cfg, spec.load_assets(tmp_path / "single", ddp_meta))
    params = [name for name, _ in model.named_parameters()]  # BatchNorm statistics are per rank
    moved = 0
    for name in params:
        torch.testing.assert_close(ddp_state[name], one_state[name], rtol=1e-4, atol=2e-5)
        moved += not torch.allclose(model.state_dict()[name], one_state[name])
    assert moved > len(params) // 2  # training changed the weights (not two untrained copies)
