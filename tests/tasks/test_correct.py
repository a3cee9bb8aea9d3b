"""The correct task end to end on the templated fixture corpus (seconds): train, evaluate against
corrections counted one sentence at a time through predict, hop weights that are
distributions, clean text left as it is, the CLI and its bad inputs."""

import io
import json

import pytest
import torch

from attnkit.cli import main
from attnkit.data.correction import split_text
from attnkit.errors import AttnkitError
from attnkit.tasks import evaluate, get_task, open_run
from attnkit.tasks.correct import CorrectorConfig, MemoryCorrector
from attnkit.tasks.correct.scoring import score
from attnkit.tasks.correct.task import load_corpus, split_examples

TASK = get_task("correct")
CLEAN = [  # new sentences in the fixture's style, an unseen name among them ("Hose", "Rover")
    "Sarah wrote two letters to the family.",
    "There is a green boat behind the tree.",
    "The field is bigger than the road.",
    "We were in the city where the river was.",
    "It's a simple door, and its name is old.",
    "Rover opened the window, and then Mary went to the house.",
    "Hose and Mary went to the field.",
]


def test_evaluation_counts_what_predict_corrects(tiny_correct_run, use_home):
    """The test metrics equal the scores of predict's texts, sentence by sentence; the model
    learned both kinds of error (far above leaving the text as is, which scores 0)."""
    run_dir, summary, home = tiny_correct_run
    use_home(home)
    saved = json.loads((run_dir / "eval_test.json").read_text())
    run = open_run(run_dir)
    examples = split_examples(run.config, load_corpus(run.config.data), "test")
    results = TASK.predict(run, [ex.text for ex in examples], attention=False)
    predictions = [split_text(r["text"])[0] for r in results]
    again = score(examples, predictions)
    for kind in ("nonword", "realword"):
        for key in ("errors", "flagged", "corrected", "false_alarms", "clean"):
            assert saved[kind][key] == again[kind][key], (kind, key)
        assert saved[kind]["errors"] > 5
        assert (
            saved[f"{kind}_accuracy"] == saved[kind]["accuracy"] == summary[f"test_{kind}_accuracy"]
        )
    assert saved["clean_changed"] == again["clean_changed"] < 0.02
    assert saved["realword"]["accuracy"] > 0.5 and saved["nonword"]["recall"] > 0.5
    assert saved["tokens_per_second"] > 0 and saved["tokens"] == again["tokens"]


def test_hop_weights_are_distributions(tiny_correct_run):
    run = open_run(tiny_correct_run[0])
    (result,) = TASK.predict(run, ["Mary recieved teh letter over their."])
    checked = [h["index"] for h in result["hops"]]
    assert checked == [1, 2, 5]  # two unknown words and a confusion-set word
    for hop in result["hops"]:
        weights = torch.tensor(hop["attention"])  # (K, slots)
        assert weights.shape == (3, len(hop["memory"])) and (weights >= 0).all()
        torch.testing.assert_close(weights.sum(-1), torch.ones(3))
        probs = [c["probability"] for c in hop["candidates"]]
        assert sum(probs) == pytest.approx(1.0) and hop["candidates"][0]["keep"]
        context = [m for m in hop["memory"] if m["kind"] == "context"]
        tokens = result["tokens"]
        assert all(tokens[hop["index"] + m["offset"]] == m["label"] for m in context)
        assert len(context) == sum(
            0 <= hop["index"] + o < len(tokens) for o in (-3, -2, -1, 1, 2, 3)
        )


def test_memory_corrector_masks_candidates_and_normalises_hops():
    cfg = CorrectorConfig(embed_dim=8, hops=2, window=2, candidates=3)
    model = MemoryCorrector(cfg, vocab_size=40, features=5)
    memory = torch.randint(1, 40, (4, 7, 6))
    memory[:, 0] = 0  # an empty context slot (before the sentence)
    mask = torch.tensor([[True, True, False]] * 4)
    logits, w = model(memory, torch.randint(1, 40, (4, 5)), torch.rand(4, 3, 5), mask,
                      return_weights=True)  # fmt: skip
    assert torch.isinf(logits[:, 2]).all() and torch.isfinite(logits[:, :2]).all()
    torch.testing.assert_close(w.sum(-1), torch.ones(4, 2))
    assert (w[:, :, 0] == 0).all()
    logits.log_softmax(-1)[:, 0].sum().backward()  # gradients reach the hops' tables
    assert model.memory.word_embeddings[0].weight.grad.abs().sum() > 0


def test_clean_text_is_left_untouched(tiny_correct_run):
    run = open_run(tiny_correct_run[0])
    results = TASK.predict(run, CLEAN, attention=False)
    assert [r["text"] for r in results] == CLEAN
    assert all(not r["changes"] for r in results)


def test_only_the_corrected_words_change(tiny_correct_run):
    run = open_run(tiny_correct_run[0])
    text = "  Mary  recieved\tthe letter yesterday , then  Peter went too the house. "
    (result,) = TASK.predict(run, [text], attention=False)
    tokens, gaps = split_text(text)
    new_tokens, new_gaps = split_text(result["text"])
    assert new_gaps == gaps and result["tokens"] == tokens
    changed = {i for i, (a, b) in enumerate(zip(tokens, new_tokens, strict=True)) if a != b}
    assert changed == {c["index"] for c in result["changes"]}
    for c in result["changes"]:
        assert tokens[c["index"]] == c["from"] and new_tokens[c["index"]] == c["to"]
        assert c["kind"] in ("nonword", "realword") and 0 < c["score"] <= 1
    assert {c["from"] for c in result["changes"]} >= {"recieved", "too"}


def test_the_run_reopens(tiny_correct_run, use_home):
    run_dir, _, home = tiny_correct_run
    use_home(home)
    run = open_run(run_dir)
    assert run.task.name == "correct" and isinstance(run.model, MemoryCorrector)
    assert run.meta["window"] == 3 and run.meta["corpus"]["test_correct_words"] > 0
    dev = evaluate(run, "dev")
    assert dev["sentences"] == run.meta["corpus"]["dev_sentences"]
    with pytest.raises(AttnkitError, match="unknown split 'valid'"):
        evaluate(run, "valid")


def test_cli_corrects_shows_the_diff_and_the_hops(tiny_correct_run, capsys):
    model = str(tiny_correct_run[0])
    assert main(["correct", "--model", model, "They left their house over there."]) == 0
    assert capsys.readouterr().out == "They left their house over there.\n"
    text = "The river is bigger then the city."
    assert main(["correct", "--model", model, "--diff", "--explain", "--top", "2", text]) == 0
    out = capsys.readouterr().out.splitlines()
    assert out[0] == "The river is bigger than the city."
    assert out[1].strip().startswith("then -> than  (realword, ")
    assert out[2].strip().startswith("then (token 4): then ")
    hops = [line.strip() for line in out[3:6]]
    assert [h.split(":")[0] for h in hops] == ["hop 1", "hop 2", "hop 3"]
    assert all(h.count("(") == 2 for h in hops)  # the top 2 slots of each hop


def test_cli_reads_lines_from_stdin(tiny_correct_run, capsys, monkeypatch):
    lines = "The river is bigger then the city.\n\n" + CLEAN[0] + "\n"
    monkeypatch.setattr("sys.stdin", io.StringIO(lines))
    assert main(["correct", "--model", str(tiny_correct_run[0])]) == 0
    assert capsys.readouterr().out == lines.replace(" then ", " than ")


@pytest.mark.parametrize(
    ("args", "stdin", "message"),
    [
        (["  "], None, "empty text"),
        (["word " * 500], None, "text too long: 2,500 characters, the limit is 2,000"),
        ([], " \n\n", "empty input"),
        (["fine", "--top", "0"], None, "--top must be >= 1"),
    ],
)
def test_cli_bad_input_is_a_clear_error(
    tiny_correct_run, capsys, monkeypatch, args, stdin, message
):
    if stdin is not None:
        monkeypatch.setattr("sys.stdin", io.StringIO(stdin))
    assert main(["correct", "--model", str(tiny_correct_run[0]), *args]) == 1
    assert message in capsys.readouterr().err


def test_cli_refuses_a_run_of_another_task(tmp_path, capsys):
    (tmp_path / "meta.json").write_text(json.dumps({"task": "babi"}))
    assert main(["correct", "--model", str(tmp_path), "Some text."]) == 1
    assert "holds a 'babi' model, not 'correct'" in capsys.readouterr().err


def test_the_keep_bias_moves_only_the_decision_on_unknown_words(tiny_correct_run):
    """A large negative ``unknown_keep_bias`` corrects every unknown word that has a
    candidate, a large positive one keeps them all; confusion-set words are decided alike."""
    run = open_run(tiny_correct_run[0])
    text = "Mary recieved teh lettr over their house, then went too the feild."
    data = run.assets.encoder().encode([split_text(text)])
    unknown = {data.checked[r][1] for r, c in enumerate(data.candidates)
               if not run.assets.generator.known(c[0].word) and len(c) > 1}  # fmt: skip
    assert len(unknown) >= 3
    changed = {}
    for bias in (-1e4, 0.0, 1e4):
        run.model.config.unknown_keep_bias = bias
        (result,) = TASK.predict(run, [text], attention=False)
        changed[bias] = {c["index"]: c["to"] for c in result["changes"]}
    run.model.config.unknown_keep_bias = 0.0
    assert set(changed[-1e4]) & unknown == unknown and not set(changed[1e4]) & unknown
    for bias in (-1e4, 1e4):
        assert {i: w for i, w in changed[bias].items() if i not in unknown} == {
            i: w for i, w in changed[0.0].items() if i not in unknown
        }
