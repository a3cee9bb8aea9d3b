"""bench translate-arch: a time budget becomes each variant's updates from step-time ratios,
measured once and reused by later (or parallel) invocations."""

import json

import pytest

from attnkit.bench import translate_arch


def test_budget_scales_updates_by_the_step_time_ratio():
    seconds = {"rnn": 1.5, "transformer": 3.0, "transformer_gated": 4.5}
    steps = translate_arch.budget_steps(seconds, 15, 1001 / 15)
    assert steps == {"rnn": 1001, "transformer": 500, "transformer_gated": 334}
    assert translate_arch.budget_steps(seconds, 5, 1001 / 15)["rnn"] == 334


def test_timings_are_measured_once_and_a_new_variant_is_scaled_to_the_stored_rnn(
    tmp_path, monkeypatch
):
    calls = []

    def fake(variants, overrides):
        calls.append([v.name for v in variants])
        # this machine runs everything twice as slowly as when the file was written
        return {v.name: {"rnn": 2.0, "transformer_gelu": 3.0}.get(v.name, 4.0) for v in variants}

    monkeypatch.setattr(translate_arch, "step_seconds", fake)
    path = tmp_path / "t.json"
    stored = {name: 1.0 for name in translate_arch.VARIANTS if name != "transformer_gelu"}
    path.write_text(json.dumps({"step_seconds": stored}))
    seconds = translate_arch.measured_once(path, [], 1)
    assert calls == [["rnn", "transformer_gelu"]]  # only what was missing, beside the RNN
    assert seconds["transformer_gelu"] == pytest.approx(1.5)  # 3.0 x (1.0 / 2.0)
    assert seconds["rnn"] == 1.0  # the stored anchor is kept
    assert translate_arch.measured_once(path, [], 1) == seconds and len(calls) == 1


def test_a_seed_trains_in_its_own_folder_with_the_budgets_of_seed_1(tmp_path, monkeypatch):
    runs = []

    def fake_run(task, variant, out, common):
        runs.append((variant.name, out, list(common), variant.overrides))
        return {}

    timing_files = []
    monkeypatch.setattr(
        translate_arch,
        "measured_once",
        lambda path, common, threads: timing_files.append(path) or {"rnn": 1.0, "transformer": 2.0},
    )
    monkeypatch.setattr(translate_arch, "run_variant", fake_run)
    monkeypatch.setattr(translate_arch, "target_tokens_per_step", lambda common: 1.0)
    monkeypatch.setattr(translate_arch, "decode_speed", lambda runs: {})
    monkeypatch.setattr(translate_arch, "table", lambda *a: [])
    monkeypatch.setattr(translate_arch, "report", lambda *a, **record: runs.append(record))
    argv = ["--variants", "transformer", "--rnn-steps-per-minute", "100", "--runs", str(tmp_path)]
    translate_arch.main(argv)
    translate_arch.main([*argv, "--seed", "2"])
    (name1, out1, common1, over1), rec1, (name2, out2, common2, over2), rec2 = runs
    assert timing_files == [tmp_path / "budget15" / "step_seconds.json"] * 2
    assert (name1, out1, name2, out2) == (
        "transformer",
        tmp_path / "budget15",
        "transformer",
        tmp_path / "budget15" / "seed2",
    )
    assert "train.max_steps=750" in over1 and over1 == over2  # 15 x 100 x 1.0 / 2.0
    assert not any(c.startswith("train.seed") for c in common1)
    assert "train.seed=2" in common2 and (rec1["seed"], rec2["seed"]) == (None, 2)
