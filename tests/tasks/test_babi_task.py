"""The bAbI task end to end on two easy generated tasks (seconds): train, evaluate against
answers counted one story at a time, predict on a hand-written story, the CLI, reopening the
run, and linear start ending exactly once per network."""

import json
import logging

import pytest
import torch

from attnkit.cli import main
from attnkit.config import load_config
from attnkit.errors import AttnkitError
from attnkit.models.memn2n import MemN2NConfig
from attnkit.tasks import evaluate, get_task, open_run, train
from attnkit.tasks.babi import BabiReader
from attnkit.tasks.babi.task import load_splits

TASK = get_task("babi")
TASKS = (1, 4)  # single supporting fact, two-argument relations: learned in a few epochs
_TINY = (
    f"data.tasks=[{','.join(map(str, TASKS))}]",
    "data.test_size=100",
    "train.epochs=12",
    "train.progress=false",
    "train.threads=1",
)
STORY = ["Mary went to the kitchen.", "John moved to the garden.", "Mary travelled to the office."]


def tiny_config(*extra: str):
    return load_config(TASK.config_class, None, [*_TINY, *extra])


@pytest.fixture(scope="module")
def babi_run(tmp_path_factory):
    """(run folder, training summary) of a model per task, trained without linear start (it
    learns these tasks in fewer epochs; linear start is tried by its own test)."""
    run = tmp_path_factory.mktemp("babi") / "run"
    return run, train(TASK, tiny_config("model.linear_start=false"), run)


def test_trains_and_evaluates_what_the_stories_answer(babi_run):
    """Per-task test errors equal the wrong answers counted story by story through predict
    (the text path), and mean / worst / failed follow from them."""
    run_dir, summary = babi_run
    saved = json.loads((run_dir / "eval_test.json").read_text())
    run = open_run(run_dir)
    for task, stories in zip(TASKS, load_splits(run.config, "test")[0], strict=True):
        wrong = n = 0
        for story in stories:
            for q in story.questions:
                lines = [" ".join(s) for s in story.sentences[: q.after]]
                item = {"story": lines, "question": " ".join(q.words)}
                wrong += TASK.predict(run, [item], task=task)[0]["answer"] != q.answer
                n += 1
        assert n == 100
        assert saved["per_task_error"][str(task)] == pytest.approx(100 * wrong / n)
    errors = [saved["per_task_error"][str(t)] for t in TASKS]
    assert all(0 <= e <= 100 for e in errors)
    assert saved["mean_error"] == pytest.approx(sum(errors) / 2)
    assert saved["worst_error"] == max(errors)
    assert saved["failed_tasks"] == sum(e > 5 for e in errors) == len(saved["failed"])
    assert saved["questions"] == 200
    assert summary["test_mean_error"] == saved["mean_error"]
    assert saved["mean_error"] < 10  # both tasks are learned, not guessed (~17% / 25% by chance)


def test_predict_answers_a_hand_written_story(babi_run):
    run = open_run(babi_run[0])
    result = TASK.predict(run, [{"story": STORY, "question": "Where is Mary?"}], task=1)[0]
    assert result["answer"] == "office"  # where she went last, as the generator would answer
    assert result["sentences"][2] == "mary travelled to the office" and result["first"] == 0
    weights = torch.tensor(result["attention"])  # (K, M): each hop over the three sentences
    assert weights.shape == (3, 3) and (weights >= 0).all()
    torch.testing.assert_close(weights.sum(-1), torch.ones(3))
    assert any(hop[0]["index"] == 2 for hop in result["hops"])  # a hop found the fact
    for hop, w in zip(result["hops"], weights, strict=True):
        assert [m["weight"] for m in hop] == pytest.approx(sorted(w.tolist(), reverse=True))
    relation = ["The office is north of the garden."]
    (result,) = TASK.predict(run, [{"story": relation, "question": "What is north of the garden?"}],
                             task=4)  # fmt: skip
    assert result["answer"] == "office"


def test_the_memory_keeps_the_last_sentences(babi_run):
    run = open_run(babi_run[0])
    story = ["John moved to the garden."] * 60 + STORY[:1]
    (result,) = TASK.predict(run, [{"story": story, "question": "Where is Mary?"}], task=1)
    assert result["first"] == 61 - 50 and len(result["sentences"]) == 50
    assert result["sentences"][-1] == "mary went to the kitchen"


def test_the_run_reopens(babi_run):
    run_dir, summary = babi_run
    run = open_run(run_dir)
    assert run.task.name == "babi" and run.checkpoint.name == "best"
    assert isinstance(run.model, BabiReader) and list(run.model.nets) == ["task1", "task4"]
    assert run.meta["tasks"] == list(TASKS) and not run.meta["joint"]
    dev = evaluate(run, "dev")
    assert set(dev["per_task_error"]) == {"1", "4"} and dev["questions"] == 200
    assert summary["best_accuracy"] == pytest.approx(1 - dev["mean_error"] / 100)
    with pytest.raises(AttnkitError, match="unknown split 'valid'"):
        evaluate(run, "valid")


def test_linear_start_ends_once_per_network_in_training(tmp_path):
    """Each network leaves linear start at one evaluation (when its dev loss rises, by the
    8th at the latest) and never returns to it; the checkpoints carry the switch."""
    states = []
    after_eval = TASK.after_eval

    def spy(cfg, model, metrics, previous):
        after_eval(cfg, model, metrics, previous)
        states.append(model.linear_start.tolist())

    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(TASK, "after_eval", spy)
        train(TASK, tiny_config("train.epochs=10", "data.test_size=20", "linear_start_evals=8"),
              tmp_path)  # fmt: skip
    assert len(states) == 10 and states[0] == [True, True]  # nothing to compare with at first
    for net in range(2):
        flags = [s[net] for s in states]
        ended = flags.index(False)
        assert flags[:ended] == [True] * ended and flags[ended:] == [False] * (10 - ended)
    assert open_run(tmp_path, checkpoint="last").model.linear_start.tolist() == [False, False]


def _hook_states(cfg, losses):
    """Feed ``after_eval`` (task 1's dev loss, task 4's) per evaluation; the flags after each."""
    model = BabiReader(MemN2NConfig(embed_dim=4, linear_start=True), vocab_size=9, tasks=[1, 4])
    previous, seen = {}, []
    for l1, l4 in losses:
        metrics = {"loss_t1": l1, "loss_t4": l4, "loss": (l1 + l4) / 2}
        TASK.after_eval(cfg, model, metrics, previous)
        previous = metrics
        seen.append(model.linear_start.tolist())
    assert model.evaluations == len(losses)
    return seen


def test_linear_start_hook_follows_the_dev_loss(caplog):
    losses = [
        (2.0, 3.0),
        (1.5, 3.1),  # task 4 stopped falling
        (1.6, 2.0),  # task 1 stopped falling
        (1.7, 1.9),
        (1.4, 2.5),
    ]
    with caplog.at_level(logging.INFO, logger="attnkit"):
        seen = _hook_states(tiny_config(), losses)
    assert seen == [[True, True], [True, False], [False, False], [False, False], [False, False]]
    ends = [r.getMessage() for r in caplog.records if "linear start ends" in r.getMessage()]
    assert len(ends) == 2 and ends[0].startswith("task4: dev loss 3.1000 >= 3.0000")
    assert ends[1].startswith("task1")


def test_linear_start_ends_after_linear_start_evals_at_the_latest():
    falling = [(2.0, 3.0), (1.9, 2.9), (1.8, 2.8), (1.7, 2.7)]
    seen = _hook_states(tiny_config("linear_start_evals=3"), falling)
    assert seen == [[True, True], [True, True], [False, False], [False, False]]


def test_a_joint_model_answers_every_task(tmp_path):
    run_dir = tmp_path / "joint"
    train(TASK, tiny_config("data.joint=true", "train.epochs=2", "model.embed_dim=8"), run_dir)
    run = open_run(run_dir)
    assert list(run.model.nets) == ["joint"] and run.model.linear_start.shape == (1,)
    (result,) = TASK.predict(run, [{"story": "\n".join(STORY), "question": "where is john"}])
    assert result["answer"] in run.assets.words and len(result["hops"][0]) == 3
    saved = json.loads((run_dir / "eval_test.json").read_text())
    assert set(saved["per_task_error"]) == {"1", "4"}


def test_cli_answers_and_draws_the_hops(babi_run, tmp_path, capsys):
    story = tmp_path / "story.txt"
    story.write_text("1 " + STORY[0] + "\n\n" + "\n".join(STORY[1:]) + "\n")
    png = tmp_path / "hops.png"
    argv = ["babi", "--model", str(babi_run[0]), "--story", str(story), "--task", "1"]
    assert main([*argv, "--question", "Where is Mary?", "--plot", str(png)]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0].split("\t")[0] == "office" and len(out) == 4
    assert out[1].startswith("hop 1: ") and out[1].count("[") == 3  # the top 3 memories
    assert "mary travelled to the office" in "".join(out[1:])
    assert png.read_bytes()[:4] == b"\x89PNG"


@pytest.mark.parametrize(
    ("story", "extra", "message"),
    [
        (" \n\n", ["--task", "1"], "empty story"),
        ("Mary went to the kitchen.", ["--task", "1", "--question", " ? "], "empty question"),
        ("Zorro went to the kitchen.", ["--task", "1"], "unknown words: 'zorro'"),
        ("Mary went to the kitchen.", [], "one model per bAbI task (1, 4): say which"),
        ("Mary went to the kitchen.", ["--task", "7"], "no model for task 7"),
        (None, ["--task", "1"], "no such file"),
    ],
)
def test_cli_bad_input_is_a_clear_error(babi_run, tmp_path, capsys, story, extra, message):
    path = tmp_path / "story.txt"
    if story is not None:
        path.write_text(story)
    argv = ["babi", "--model", str(babi_run[0]), "--story", str(path)]
    if "--question" not in extra:
        argv += ["--question", "Where is Mary?"]
    assert main([*argv, *extra]) == 1
    assert message in capsys.readouterr().err


def test_cli_refuses_a_run_of_another_task(tmp_path, capsys):
    (tmp_path / "meta.json").write_text(json.dumps({"task": "classify"}))
    (tmp_path / "story.txt").write_text("Mary went to the kitchen.")
    argv = ["babi", "--model", str(tmp_path), "--story", str(tmp_path / "story.txt")]
    assert main([*argv, "--question", "Where is Mary?"]) == 1
    assert "holds a 'classify' model, not 'babi'" in capsys.readouterr().err


@pytest.mark.parametrize(
    ("override", "message"),
    [
        ("data.tasks=[0,21]", "data.tasks must be distinct bAbI task numbers 1..20"),
        ("data.tasks=[]", "data.tasks must be distinct"),
        ("data.train_size=10", "data.train_size must be >= 20"),
        ("linear_start_evals=0", "linear_start_evals must be >= 1"),
    ],
)
def test_bad_config_is_a_clear_error(override, message):
    with pytest.raises(AttnkitError, match=message):
        tiny_config(override)


def test_a_mixed_batch_is_answered_as_each_task_alone():
    torch.manual_seed(0)
    reader = BabiReader(MemN2NConfig(embed_dim=6), vocab_size=15, tasks=[2, 5, 9]).eval()
    story, query = torch.randint(0, 15, (5, 4, 3)), torch.randint(1, 15, (5, 2))  # (B, M, J)
    task = torch.tensor([9, 2, 9, 5, 2])
    logits, weights = reader(story, query, task, return_weights=True)
    for i, t in enumerate(task.tolist()):
        net = reader.nets[f"task{t}"]
        alone, w = net(story[i : i + 1], query[i : i + 1], return_weights=True)
        torch.testing.assert_close(logits[i : i + 1], alone)
        torch.testing.assert_close(weights[i : i + 1], w)
    with pytest.raises(ValueError, match=r"questions of tasks \[3\]"):
        reader(story, query, torch.tensor([2, 3, 9, 5, 2]))
