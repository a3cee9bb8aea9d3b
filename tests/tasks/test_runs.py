"""open_run: the one way to open a run folder (meta, config, which checkpoint, the model)."""

import json
import shutil

import pytest
import torch

from attnkit.errors import AttnkitError
from attnkit.tasks import get_task, open_run, read_meta, task_of_run
from attnkit.tasks.runs import find_checkpoint
from attnkit.training.checkpoint import load_model_state


@pytest.fixture
def run_copy(tiny_translate_run, tmp_path):
    run, _, _ = tiny_translate_run
    copy = tmp_path / "run"
    shutil.copytree(run, copy)
    return copy


def _same_weights(model, folder) -> bool:
    state, _ = load_model_state(folder)
    return all(torch.equal(v, state[k]) for k, v in model.state_dict().items())


def test_best_checkpoint_else_last_else_a_clear_error(run_copy):
    run = open_run(run_copy)
    assert run.task is get_task("translate") and run.checkpoint == run_copy / "best"
    assert _same_weights(run.model, run_copy / "best") and not run.model.training
    assert open_run(run_copy, checkpoint="last").checkpoint == run_copy / "last"
    shutil.rmtree(run_copy / "best")  # a run stopped before its first evaluation
    assert find_checkpoint(run_copy) == run_copy / "last"
    with pytest.raises(AttnkitError, match="no best/ checkpoint"):
        open_run(run_copy, checkpoint="best")
    shutil.rmtree(run_copy / "last")
    with pytest.raises(AttnkitError, match="has no trained model yet"):
        open_run(run_copy)
    with pytest.raises(AttnkitError, match="checkpoint must be one of best, last"):
        find_checkpoint(run_copy, "first")


def test_a_checkpoint_folder_opens_that_checkpoint(run_copy):
    run = open_run(run_copy / "last")
    assert run.path == run_copy and run.checkpoint == run_copy / "last"
    assert _same_weights(run.model, run_copy / "last")
    assert task_of_run(run_copy / "best") == "translate"


def test_the_wrong_task_and_broken_meta_are_clear_errors(run_copy):
    with pytest.raises(AttnkitError, match="holds a 'translate' model, not 'tag'"):
        open_run(run_copy, task="tag")
    meta_path = run_copy / "meta.json"
    for content, message in [
        ("{not json", "is corrupt"),
        ("[1, 2]", "expected a JSON object"),
        ("{}", "lacks 'task'"),
        (json.dumps({"task": 3}), "'task' must be a task name"),
        (json.dumps({"task": "nosuchtask"}), "unknown task 'nosuchtask'"),
    ]:
        meta_path.write_text(content)
        with pytest.raises(AttnkitError, match=message):
            open_run(run_copy)


def test_meta_records_what_rebuilds_the_model(run_copy):
    meta = read_meta(run_copy)
    run = open_run(run_copy)
    assert meta["parameters"] == run.parameters
    assert meta["vocab"] == [run.assets.src_tok.vocab_size, run.assets.tgt_tok.vocab_size]
    (run_copy / "config.yaml").unlink()
    with pytest.raises(AttnkitError, match=r"config\.yaml is missing"):
        open_run(run_copy)


def test_a_resume_whose_config_does_not_fit_keeps_the_runs_config(run_copy, tiny_translate_run):
    """--resume with a model size the checkpoint does not have: a clear error, and the run's
    config.yaml is not replaced (the run still opens)."""
    import dataclasses

    from attnkit.tasks import train

    before = (run_copy / "config.yaml").read_text()
    cfg = open_run(run_copy).config
    wider = dataclasses.replace(cfg, model=dataclasses.replace(cfg.model, hidden_dim=48))
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNKIT_HOME", str(tiny_translate_run[2]))
        with pytest.raises(AttnkitError, match="last"):
            train("translate", wider, run_copy, resume=True)
    assert (run_copy / "config.yaml").read_text() == before
    assert open_run(run_copy).config == cfg
