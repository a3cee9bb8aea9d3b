"""Training that survives faults: a process killed at any moment (kill -9, even while writing
a checkpoint) resumes to the very weights of an uninterrupted run; non-finite steps are skipped,
too many in a row stop the run with the last good checkpoint kept; corrupt checkpoint,
vocabulary and config files are clear errors naming the file."""

import json
import logging
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest
import torch
from safetensors.torch import load_file

from attnkit.errors import AttnkitError
from attnkit.tasks import open_run
from attnkit.training import TrainConfig, Trainer
from attnkit.training.checkpoint import load_model_state, load_trainer_state, save_model
from attnkit.training.trainer import MetricsLog

WORKER = Path(__file__).with_name("fault_worker.py")
sys.path.insert(0, str(WORKER.parent))
try:
    import ddp_worker
    import fault_worker
finally:
    sys.path.remove(str(WORKER.parent))

CKPT_FILES = ("model.safetensors", "trainer.safetensors")


@pytest.fixture(scope="module")
def full_run(tmp_path_factory):
    """The toy trained without interruption: the reference every resumed run must equal."""
    run = tmp_path_factory.mktemp("full") / "run"
    fault_worker.trainer(run).fit()
    return run


def _tensors(run: Path) -> dict[str, torch.Tensor]:
    """Every tensor of ``last/``: weights, optimizer moments and generator states."""
    return {f"{f}:{k}": v for f in CKPT_FILES for k, v in load_file(run / "last" / f).items()}


def _logged(run: Path) -> list[tuple[str, ...]]:
    """metrics.csv without the measured speeds and seconds: what a resumed run must repeat."""
    rows = [r.split(",")[:5] for r in (run / "metrics.csv").read_text().splitlines()]
    return [tuple(r) for r in rows if not r[3].endswith("_per_s")]


def _kill(run: Path, moment: str, n: int) -> None:
    cmd = [sys.executable, str(WORKER), str(run), moment, str(n)]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120)
    assert proc.returncode == -signal.SIGKILL, proc.stdout + proc.stderr[-3000:]


def _leftovers(run: Path) -> list[str]:
    return sorted(p.name for p in run.iterdir() if p.name.startswith("."))


@pytest.mark.parametrize("moment", ["step", "file", "rename"])
def test_killed_run_resumes_to_the_uninterrupted_weights(full_run, tmp_path, moment):
    """Killed after step 10, halfway through a tensor file of the step-12 ``last/``, or between
    the renames of the step-12 ``last/``: the step-8 checkpoint is what is read, and resuming it
    (in this process) ends bitwise where the uninterrupted run did."""
    run = tmp_path / "run"
    _kill(run, moment, 10 if moment == "step" else 3)
    if moment == "file":  # the half-written folder is there (trainer.json not begun), ignored
        (tmp,) = run.glob(".last.tmp-*")
        assert sorted(p.name for p in tmp.iterdir()) == [
            "meta.json",
            "model.safetensors",
            "trainer.safetensors",
        ]
        half = (tmp / "trainer.safetensors").stat().st_size
        assert 0 < half < (full_run / "last" / "trainer.safetensors").stat().st_size
    if moment == "rename":  # last/ is gone, the step-8 version set aside
        assert not (run / "last").exists() and (run / ".last.old").is_dir()
    assert load_trainer_state(run / "last")["step"] == 8
    load_model_state(run / "last")  # complete and readable
    load_model_state(run / "best")

    resumed = fault_worker.trainer(run, resume=True)
    assert resumed.state["step"] == 8
    assert resumed.fit()["steps"] == 24
    reference, got = _tensors(full_run), _tensors(run)
    assert reference.keys() == got.keys()
    for key, value in reference.items():
        assert torch.equal(got[key], value), key
    assert _logged(run) == _logged(full_run)  # rows after step 8 logged once
    assert _leftovers(run) == []


def test_resume_drops_the_rows_logged_after_the_checkpoint_and_a_half_written_one(tmp_path):
    log = MetricsLog(tmp_path / "metrics.csv")
    for step in (4, 8):
        log.write(step, 0, "train", {"loss": 1 / step}, 0.0)
    with (tmp_path / "metrics.csv").open("a") as f:
        f.write("9,0,train,lo")  # the process was killed here
    log.keep_until(8)
    rows = (tmp_path / "metrics.csv").read_text().splitlines()
    assert rows == ["step,epoch,split,name,value,elapsed_s", "4,0,train,loss,0.25,0.0",
                    "8,0,train,loss,0.125,0.0"]  # fmt: skip
    log.keep_until(4)
    assert (tmp_path / "metrics.csv").read_text().splitlines() == rows[:2]


def test_a_set_aside_checkpoint_is_put_back_by_the_next_write(tmp_path):
    """``best/`` moved aside and never replaced (killed between the renames) is read, then put
    back in place before the next version replaces it."""
    first, second = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    save_model(tmp_path / "best", first, {"v": 1})
    (tmp_path / "best").rename(tmp_path / ".best.old")
    (tmp_path / ".best.tmp-x").mkdir()  # a killed writer's temporary folder
    state, meta = load_model_state(tmp_path / "best")
    assert meta == {"v": 1} and torch.equal(state["weight"], first.weight)
    save_model(tmp_path / "best", second, {"v": 2})
    assert load_model_state(tmp_path / "best")[1] == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["best"]


# ----- non-finite steps ---------------------------------------------------------------------
def _batch_of(example: int, epoch: int) -> int:
    return next(k for k, b in enumerate(ddp_worker.batches(epoch)) if example in b)


# an example whose batch goes to rank 1 under two-rank DDP (odd batch index) in both epochs
EXAMPLE = next(i for i in range(96) if all(_batch_of(i, e) % 2 for e in (0, 1)))
STEADY = dict(dropout=0.0, schedule="constant", warmup_steps=0)  # a skip changes nothing else


@pytest.mark.parametrize("kind", ["loss", "grad"])
def test_non_finite_steps_are_skipped_as_if_never_seen(tmp_path, caplog, kind):
    """A NaN loss (or, with a finite loss, an infinite gradient) on the batch holding EXAMPLE
    (once an epoch) skips that step: the run equals one whose batches never held it."""
    with caplog.at_level(logging.WARNING, logger="attnkit"):
        out = fault_worker.trainer(
            tmp_path / "nan", loss=fault_worker.poisoned(EXAMPLE, kind=kind), **STEADY
        ).fit()
    without = fault_worker.trainer(
        tmp_path / "ref",
        batch_fn=lambda epoch: [b for b in ddp_worker.batches(epoch) if EXAMPLE not in b],
        **STEADY,
    )
    reference = without.fit()
    assert out["steps"] == reference["steps"] == 22 and out["skipped_steps"] == 2
    got, _ = load_model_state(tmp_path / "nan" / "last")
    for key, value in without.model.state_dict().items():
        assert torch.equal(got[key], value), key
    assert _logged(tmp_path / "nan") == _logged(tmp_path / "ref")
    what = "loss nan" if kind == "loss" else "gradient norm"
    skipped = [r.getMessage() for r in caplog.records if "step skipped" in r.getMessage()]
    assert len(skipped) == 2
    assert skipped[0].startswith(f"non-finite {what}")
    k = _batch_of(EXAMPLE, 0) + 1  # the first skip: no step was skipped before it
    assert f"at step {k} (epoch 1, batch {k}): step skipped (1 in a row" in skipped[0]


def test_too_many_bad_steps_in_a_row_stop_with_the_last_good_checkpoint(tmp_path):
    """Steps 1-5 fine (last/ written at 4), then every batch NaN: the 3rd in a row stops the
    run naming step 6 and last/ (step 4), which holds the step-4 weights; the model itself
    keeps the step-5 weights (no bad step changed it)."""
    bad = ddp_worker.batches(0)[5:]

    def nan_from_batch_6(m, idx):
        loss, n = fault_worker.toy_loss(m, idx)
        return (loss * float("nan") if any(torch.equal(idx, b) for b in bad) else loss), n

    run = tmp_path / "run"
    stopped = fault_worker.trainer(run, loss=nan_from_batch_6, max_bad_steps=3, **STEADY)
    with pytest.raises(AttnkitError) as err:
        stopped.fit()
    message = str(err.value)
    assert "training stopped at step 6 (epoch 1, batch 8)" in message
    assert "3 steps in a row" in message and f"{run / 'last'} (step 4) is kept" in message
    assert load_trainer_state(run / "last")["step"] == 4
    clean = {s: fault_worker.trainer(tmp_path / f"clean{s}", max_steps=s, **STEADY) for s in (4, 5)}
    for trainer in clean.values():
        trainer.fit()
    kept, _ = load_model_state(run / "last")
    for key, value in clean[4].model.state_dict().items():
        assert torch.equal(kept[key], value), key
    for key, value in clean[5].model.state_dict().items():
        assert torch.equal(stopped.model.state_dict()[key], value), key


def test_ddp_ranks_agree_to_skip_a_step_only_one_rank_saw_fail(tmp_path):
    """Under torchrun, rank 1 alone gets a NaN loss: both ranks skip the step (no hang, same
    step count) and end where one process skipping the merged batches does."""
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), str(tmp_path / "ddp"), "nan", str(EXAMPLE)]  # fmt: skip
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("rank done, steps 10, skipped 2") == 2  # 2 x 6 steps, 2 skipped
    single = fault_worker.trainer(
        tmp_path / "single", merge=2, dropout=0.0, loss=fault_worker.poisoned(EXAMPLE)
    )
    assert single.fit()["skipped_steps"] == 2
    ddp_state, _ = load_model_state(tmp_path / "ddp" / "last")
    for name, value in single.model.state_dict().items():
        torch.testing.assert_close(ddp_state[name], value, rtol=1e-5, atol=1e-6)


# ----- corrupt files --------------------------------------------------------------------------
def _edit_trainer_json(folder: Path, edit) -> None:
    path = folder / "trainer.json"
    path.write_text(json.dumps(edit(json.loads(path.read_text()))))


def _set_step(skeleton, value):
    for pair in skeleton["__dict__"]:
        if pair[0] == "step":
            pair[1] = value
    return skeleton


def _rename_tensor(skeleton):
    return json.loads(json.dumps(skeleton).replace('"t0"', '"t999"'))


def _cut_in_half(path: Path) -> None:
    path.write_bytes(path.read_bytes()[: path.stat().st_size // 2])


CORRUPTIONS = {
    "model half": (
        lambda d: _cut_in_half(d / "model.safetensors"),
        r"model\.safetensors is corrupt",
    ),
    "tensors half": (
        lambda d: _cut_in_half(d / "trainer.safetensors"),
        r"trainer\.safetensors is corrupt",
    ),
    "tensors garbage": (
        lambda d: (d / "trainer.safetensors").write_bytes(b"\x08" + b"\x00" * 7 + b"garbage!"),
        r"trainer\.safetensors is corrupt",
    ),
    "json syntax": (
        lambda d: (d / "trainer.json").write_text('{"__dict__": [['),
        r"trainer\.json is corrupt",
    ),
    "json list": (lambda d: (d / "trainer.json").write_text("[1, 2]"), "holds no optimizer state"),
    "json tensor": (lambda d: _edit_trainer_json(d, _rename_tensor), "no tensor 't999'"),
    "json step": (
        lambda d: _edit_trainer_json(d, lambda s: _set_step(s, "many")),
        r"trainer\.json is corrupt or from another run: step is 'many'",
    ),
    "meta": (lambda d: (d / "meta.json").write_text("{not json"), r"last/meta\.json is corrupt"),
}


@pytest.mark.parametrize("corruption", CORRUPTIONS)
def test_resuming_a_corrupt_checkpoint_is_a_clear_error_naming_the_file(
    full_run, tmp_path, corruption
):
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    corrupt, message = CORRUPTIONS[corruption]
    corrupt(run / "last")
    with pytest.raises(AttnkitError, match=message) as err:
        fault_worker.trainer(run, resume=True)
    assert str(run / "last") in str(err.value)


def test_a_trainer_state_from_another_model_is_refused(full_run, tmp_path):
    """Optimizer moments of other shapes (the trainer files of a 8-unit model grafted into the
    16-unit run) would crash at the first step; resuming refuses them instead."""
    other = tmp_path / "other"
    narrow = torch.nn.Sequential(torch.nn.Linear(4, 8), torch.nn.Tanh(), torch.nn.Linear(8, 1))
    cfg = TrainConfig(max_steps=2, progress=False)
    Trainer(narrow, cfg, other, loss_fn=fault_worker.toy_loss, batches=ddp_worker.batches).fit()
    run = tmp_path / "run"
    shutil.copytree(full_run, run)
    for name in ("trainer.json", "trainer.safetensors"):
        shutil.copy(other / "last" / name, run / "last" / name)
    shapes = r"optimizer exp_avg of shape \[8, 4\] for a weight of shape \[16, 4\]"
    with pytest.raises(
        AttnkitError, match=rf"trainer\.json is corrupt or from another run: {shapes}"
    ):
        fault_worker.trainer(run, resume=True)


@pytest.fixture
def run_copy(tiny_translate_run, tmp_path):
    run, _, _ = tiny_translate_run
    shutil.copytree(run, tmp_path / "run")
    return tmp_path / "run"


TOKENIZER_DAMAGE = {
    "cut": b'{"type": "word", "tokens": ["<pad>", "<u',
    "binary": b"\xff\xfe garbage",
    "tokens not a list": b'{"type": "word", "tokens": 5}',
    "no specials": b'{"type": "word", "tokens": ["a", "b"]}',
}


@pytest.mark.parametrize("damage", TOKENIZER_DAMAGE)
def test_a_corrupt_tokenizer_file_is_a_clear_error_naming_it(run_copy, damage):
    tokenizer = json.loads((run_copy / "meta.json").read_text())["tokenizers"][0]
    (run_copy / tokenizer).write_bytes(TOKENIZER_DAMAGE[damage])
    with pytest.raises(AttnkitError, match="vocabulary") as err:
        open_run(run_copy)
    assert str(run_copy / tokenizer) in str(err.value)


def test_a_config_that_does_not_match_the_checkpoint_names_config_yaml(run_copy):
    config = run_copy / "config.yaml"
    text = config.read_text()
    assert "hidden_dim: 64" in text
    config.write_text(text.replace("hidden_dim: 64", "hidden_dim: 80"))
    with pytest.raises(AttnkitError) as err:
        open_run(run_copy)
    message = str(err.value)
    assert (
        f"checkpoint {run_copy / 'best'} does not fit the model that {config} describes" in message
    )
    assert "attention.key_proj.bias is [64] in the checkpoint, [80] in the model" in message
    config.write_text(text.replace("hidden_dim: 64", "hidden_dim: big"))
    with pytest.raises(AttnkitError, match=re.escape(f"{config}: model.hidden_dim: expected int")):
        open_run(run_copy)


def test_a_run_killed_between_the_renames_of_best_still_opens(run_copy):
    (run_copy / "best").rename(run_copy / ".best.old")
    run = open_run(run_copy)
    assert run.checkpoint == run_copy / "best"
    state, _ = load_model_state(run_copy / ".best.old")
    assert all(torch.equal(v, state[k]) for k, v in run.model.state_dict().items())
