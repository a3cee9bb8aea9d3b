"""Trainer: learning, best/last checkpoints, early stopping, exact resume after an interrupt."""

import csv

import pytest
import torch

from attnkit.training import TrainConfig, Trainer, seed_everything

DATA_SEED = 123


def make_data():
    g = torch.Generator().manual_seed(DATA_SEED)
    x = torch.randn(96, 4, generator=g)
    y = x @ torch.tensor([1.0, -2.0, 0.5, 3.0]) + 0.1 * torch.randn(96, generator=g)
    return x, y


X, Y = make_data()


def model_factory():
    seed_everything(0)
    return torch.nn.Sequential(
        torch.nn.Linear(4, 16), torch.nn.Dropout(0.2), torch.nn.Linear(16, 1)
    )


def batches(epoch):
    order = torch.randperm(len(X), generator=torch.Generator().manual_seed(epoch))
    return [order[i : i + 8] for i in range(0, len(X), 8)]


def loss_fn(model, idx):
    return torch.nn.functional.mse_loss(model(X[idx]).squeeze(-1), Y[idx]), len(idx)


def evaluate(model):
    return {"loss": torch.nn.functional.mse_loss(model(X).squeeze(-1), Y).item()}


def make(run_dir, resume=False, loss=loss_fn, **cfg):
    cfg = TrainConfig(**{"epochs": 3, "lr": 0.01, "progress": False, "log_every": 1, **cfg})
    return Trainer(
        model_factory(),
        cfg,
        run_dir,
        loss_fn=loss,
        batches=batches,
        evaluate=evaluate,
        resume=resume,
        meta={"task": "toy"},
    )


def train_losses(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return [
            (int(r["step"]), float(r["value"]))
            for r in csv.DictReader(f)
            if r["split"] == "train" and r["name"] == "loss"
        ]


def test_learns_and_writes_run(tmp_path):
    before = evaluate(model_factory())["loss"]
    out = make(tmp_path).fit()
    assert out["steps"] == 36 and out["epochs"] == 3
    assert out["best_loss"] < 0.5 * before
    for name in ("best/model.safetensors", "last/trainer.json", "metrics.csv", "meta.json"):
        assert (tmp_path / name).exists(), name


@pytest.mark.parametrize("stop_at", [5, 12, 30])
def test_resume_after_interrupt_equals_uninterrupted(tmp_path, stop_at):
    full = make(tmp_path / "full")
    full.fit()
    calls = {"n": 0}

    def interrupting(model, batch):
        calls["n"] += 1
        if calls["n"] == stop_at + 1:
            model(X[:2])  # consume dropout randomness mid-step, as a real Ctrl-C would
            raise KeyboardInterrupt
        return loss_fn(model, batch)

    with pytest.raises(KeyboardInterrupt):
        make(tmp_path / "cut", loss=interrupting).fit()
    resumed = make(tmp_path / "cut", resume=True)
    assert resumed.state["step"] == stop_at
    resumed.fit()
    for a, b in zip(
        full.model.state_dict().values(), resumed.model.state_dict().values(), strict=True
    ):
        assert torch.equal(a, b)
    assert train_losses(tmp_path / "full") == train_losses(tmp_path / "cut")


def test_early_stopping_and_max_steps(tmp_path):
    out = make(tmp_path / "a", max_steps=7, eval_every=2).fit()
    assert out["steps"] == 7
    # lr 0 never improves after the first evaluation: patience 2 stops at the 3rd.
    out = make(tmp_path / "b", lr=0.0, eval_every=2, patience=2, epochs=50).fit()
    assert out["steps"] == 6


def test_checkpoint_averaging_reports_averaged_metric(tmp_path):
    out = make(tmp_path, eval_every=6, average_last=3).fit()
    assert "averaged_loss" in out
    assert len(list((tmp_path / "snapshots").iterdir())) == 3


def test_resume_without_checkpoint_is_a_clear_error(tmp_path):
    from attnkit.errors import AttnkitError

    with pytest.raises(AttnkitError, match="nothing to resume"):
        make(tmp_path, resume=True)


def test_bf16_auto_follows_the_hardware():
    from attnkit.training import bf16_is_fast, resolve_bf16

    cpu = torch.device("cpu")
    assert resolve_bf16(True, cpu) is True and resolve_bf16(False, cpu) is False
    expected = torch.cpu._is_avx512_bf16_supported() or torch.cpu._is_amx_tile_supported()
    assert resolve_bf16("auto", cpu) is bf16_is_fast(cpu) is expected


def test_accumulating_two_batches_equals_one_merged_batch(tmp_path):
    """accumulate=2 over batches of 8 = one step on the 16 examples (the loss is a mean)."""

    def halves(epoch):
        return [b[i : i + 4] for b in batches(epoch) for i in (0, 4)]

    def make_with(run_dir, batch_fn, **cfg):
        cfg = TrainConfig(epochs=2, lr=0.05, progress=False, **cfg)
        model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Tanh(), torch.nn.Linear(16, 1))
        torch.manual_seed(0)
        for p in model.parameters():
            torch.nn.init.normal_(p, std=0.3)
        return Trainer(model, cfg, run_dir, loss_fn=loss_fn, batches=batch_fn)

    merged = make_with(tmp_path / "merged", batches)
    merged.fit()
    accumulated = make_with(tmp_path / "acc", halves, accumulate=2)
    out = accumulated.fit()
    assert out["steps"] == merged.state["step"] == 24
    for a, b in zip(merged.model.parameters(), accumulated.model.parameters(), strict=True):
        torch.testing.assert_close(a, b, rtol=1e-5, atol=1e-6)


def _slow_loss(seconds):
    import time

    def loss(model, batch):
        time.sleep(seconds)
        return loss_fn(model, batch)

    return loss


def _lrs(run_dir):
    with open(run_dir / "metrics.csv") as f:
        return {
            int(r["step"]): float(r["value"])
            for r in csv.DictReader(f)
            if r["split"] == "train" and r["name"] == "lr"
        }


def test_a_time_budget_becomes_a_stored_plan_that_resume_follows(tmp_path):
    """The budget is turned into steps once (a quarter in); resuming on a slower machine keeps
    the plan: the learning rate at step s stays cosine(s / planned) and the run ends at it."""
    import math

    budget = dict(budget_minutes=0.02, epochs=100, schedule="cosine")  # 1.2 s
    calls = {"n": 0}

    def interrupting(model, batch):
        calls["n"] += 1
        if calls["n"] == 40:
            raise KeyboardInterrupt
        return _slow_loss(0.01)(model, batch)

    with pytest.raises(KeyboardInterrupt):
        make(tmp_path, loss=interrupting, **budget).fit()
    cut = make(tmp_path, resume=True, loss=_slow_loss(0.012), **budget)
    planned = cut.state["planned_steps"]
    assert planned is not None and cut.state["step"] == 39 < planned
    out = cut.fit()
    assert out["steps"] == out["planned_steps"] == planned
    lrs = _lrs(tmp_path)
    after_plan = [s for s in lrs if s > 39]  # the steps of the resumed run
    assert len(after_plan) > 20
    for s in after_plan:  # the lr of step s was set before it, at progress (s - 1) / planned
        want = 0.01 * 0.5 * (1 + math.cos(math.pi * (s - 1) / planned))
        assert lrs[s] == pytest.approx(want, rel=1e-5)  # metrics.csv keeps 6 digits


def test_min_steps_adds_epochs_and_the_plan_says_so(tmp_path, caplog):
    import logging

    with caplog.at_level(logging.INFO, logger="attnkit"):
        out = make(tmp_path, epochs=2, min_steps=50).fit()
    assert out["steps"] == 60 and out["epochs"] == 5  # 12 batches an epoch: 5 epochs >= 50
    assert "plan: 5 epochs x 12 steps = 60 updates (train.min_steps 50)" in caplog.text


def test_warmup_fraction_follows_the_planned_updates(tmp_path):
    """25% of 36 planned steps = 9 warm-up steps, then the cosine over the whole run."""
    import math

    make(tmp_path, epochs=3, warmup_fraction=0.25, schedule="cosine").fit()
    lrs = _lrs(tmp_path)
    for s, lr in lrs.items():  # the lr of step s was set before it, for step index s - 1
        want = s / 9 if s <= 9 else 0.5 * (1 + math.cos(math.pi * (s - 1) / 36))
        assert lr == pytest.approx(0.01 * want, rel=1e-5), s


def test_a_budget_plan_is_logged_when_it_is_made(tmp_path, caplog):
    import logging
    import math

    with caplog.at_level(logging.INFO, logger="attnkit"):
        out = make(
            tmp_path, loss=_slow_loss(0.01), budget_minutes=0.01, epochs=100, warmup_fraction=0.1
        ).fit()
    first, planned = (line for line in caplog.text.splitlines() if "plan:" in line)
    assert "0.01-minute budget (turned into steps after 25% of it)" in first
    assert "warm-up 10.0% (of the planned updates)" in first
    warm = math.ceil(0.1 * out["planned_steps"])  # schedule.warmup_steps rounds up
    assert f"is {out['planned_steps']:,} updates, warm-up {warm:,} steps" in planned


def test_after_eval_sees_each_evaluation_and_the_one_before(tmp_path):
    """The hook runs once per evaluation with the previous one's metrics (none at first, the
    stored ones after a resume); what it writes into a buffer is saved in last/."""
    from attnkit.training.checkpoint import load_model_state

    calls = []

    def after_eval(model, metrics, previous):
        calls.append((metrics, previous))
        model.evals.fill_(len(calls))

    def trainer(epochs, resume=False):
        model = model_factory()
        model.register_buffer("evals", torch.tensor(0))
        cfg = TrainConfig(epochs=epochs, lr=0.01, progress=False)
        return Trainer(model, cfg, tmp_path, loss_fn=loss_fn, batches=batches,
                       evaluate=evaluate, after_eval=after_eval, resume=resume)  # fmt: skip

    trainer(2).fit()
    assert int(load_model_state(tmp_path / "last")[0]["evals"]) == 2
    trainer(3, resume=True).fit()  # one more epoch
    assert len(calls) == 3 and calls[0][1] == {}
    assert [previous for _, previous in calls[1:]] == [metrics for metrics, _ in calls[:-1]]
    assert int(load_model_state(tmp_path / "last")[0]["evals"]) == 3


def test_plain_sgd_without_momentum_is_one_gradient_step(tmp_path):
    """optimizer sgd, momentum 0 (the MemN2N paper's recipe): w <- w - lr * grad exactly."""
    torch.manual_seed(0)
    model = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Linear(16, 1))  # no dropout
    before = [p.detach().clone() for p in model.parameters()]
    cfg = TrainConfig(optimizer="sgd", momentum=0.0, lr=0.1, max_steps=1, grad_clip=0.0,
                      schedule="constant", warmup_steps=0, progress=False)  # fmt: skip
    reference = torch.nn.Sequential(torch.nn.Linear(4, 16), torch.nn.Linear(16, 1))
    reference.load_state_dict(model.state_dict())
    loss, _ = loss_fn(reference, next(iter(batches(0))))
    loss.backward()
    Trainer(model, cfg, tmp_path, loss_fn=loss_fn, batches=batches, evaluate=evaluate).fit()
    for w0, p, r in zip(before, model.parameters(), reference.parameters(), strict=True):
        torch.testing.assert_close(p.detach(), w0 - 0.1 * r.grad)
