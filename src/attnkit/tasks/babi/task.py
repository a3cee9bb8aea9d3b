"""bAbI question answering: generated stories -> MemN2N (one per task, or joint) -> per-task
test error, and for a story of your own the answer with what each hop attended.

Notation for tensor shapes: N questions, M memories (slot 0 the latest sentence), J words,
K hops, V vocabulary.
"""

from __future__ import annotations

import bisect
import re
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F

from attnkit import log
from attnkit.data.babi import BabiTensors, BabiVocab, Question, Story, splits, vectorize
from attnkit.data.batching import CollatedBatches
from attnkit.errors import AttnkitError
from attnkit.specials import SPECIAL_TOKENS
from attnkit.tasks.babi.config import Config
from attnkit.tasks.babi.model import BabiReader
from attnkit.tasks.base import Prepared, Task
from attnkit.tasks.runs import Run

VOCAB_FILE = "vocab.json"
FAILED_ABOVE = 5.0  # a task whose test error (%) is above this has failed (the paper's rule)
SPLITS = ("train", "dev", "test")
EVAL_BATCH = 500  # questions scored at once
_LINE_NUMBER = re.compile(r"^\s*\d+\s+")  # bAbI files number their lines
_PUNCTUATION = re.compile(r"[.,;:!?\"]")


def words_of(text: str) -> tuple[str, ...]:
    """A sentence or question as the generator's words: lower case, no punctuation, no
    leading line number.

    Example:
        >>> words_of("3 Mary went to the Kitchen.")
        ('mary', 'went', 'to', 'the', 'kitchen')
    """
    return tuple(_PUNCTUATION.sub(" ", _LINE_NUMBER.sub("", text.lower())).split())


def load_splits(cfg: Config, *names: str) -> list[list[list[Story]]]:
    """For each split named (train, dev, test): the stories of each of ``cfg.data.tasks``.

    Raises:
        AttnkitError: an unknown split.
    """
    for name in names:
        if name not in SPLITS:
            raise AttnkitError(f"unknown split {name!r}; choose one of: {', '.join(SPLITS)}")
    d = cfg.data
    parts = [splits(t, train=d.train_size, test=d.test_size, seed=d.seed) for t in d.tasks]
    return [[{"train": p.train, "dev": p.valid, "test": p.test}[n] for p in parts] for n in names]


def error_summary(errors: Mapping[int, float]) -> dict[str, Any]:
    """Mean and worst test error (%) over tasks, and the tasks failed (error above 5%).

    Example:
        >>> error_summary({1: 0.0, 2: 12.5, 3: 30.0})["failed"]
        [2, 3]
    """
    worst = max(errors, key=lambda t: errors[t])
    failed = sorted(t for t, e in errors.items() if e > FAILED_ABOVE)
    return {
        "mean_error": sum(errors.values()) / len(errors),
        "worst_error": errors[worst],
        "worst_task": worst,
        "failed_tasks": len(failed),
        "failed": failed,
        "per_task_error": {str(t): errors[t] for t in sorted(errors)},
    }


@torch.no_grad()
def answer_scores(
    model: BabiReader, data: BabiTensors, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor]:
    """Logits ``(N, V)`` and hop weights ``(N, K, M)`` of every question (model in eval mode)."""
    logits, weights = [], []
    for start in range(0, len(data), EVAL_BATCH):
        b = data[start : start + EVAL_BATCH]
        out, w = model(
            b.memory.to(device), b.query.to(device), b.task.to(device), return_weights=True
        )
        logits.append(out.float().cpu())
        weights.append(w.float().cpu())
    return torch.cat(logits), torch.cat(weights)


class BabiTask(Task):
    """The ``babi`` task (see :mod:`attnkit.tasks.base` for the contract)."""

    name = "babi"
    config_class = Config
    default_config = "babi.yaml"
    unit = "q"

    # ----- training ---------------------------------------------------------------------------
    def prepare(self, cfg: Config, run_dir: Path, *, reuse: bool) -> Prepared:
        d, memory = cfg.data, cfg.model.memory_size
        train_stories, dev_stories = load_splits(cfg, "train", "dev")
        vocab = BabiVocab.load_or_build(
            Path(run_dir) / VOCAB_FILE,
            reuse=reuse,
            build=lambda: BabiVocab.build(s for part in train_stories + dev_stories for s in part),
        )
        train = [vectorize(part, vocab, memory_size=memory) for part in train_stories]
        dev = [vectorize(part, vocab, memory_size=memory) for part in dev_stories]
        starts = np.cumsum([0] + [len(part) for part in train]).tolist()

        def collate(idx: list[int]) -> dict[str, torch.Tensor]:
            t = bisect.bisect_right(starts, idx[0]) - 1  # a batch holds one task's questions
            b = train[t][torch.tensor(idx) - starts[t]]
            return {"story": b.memory, "query": b.query, "answer": b.answer, "task": b.task}

        def batches(epoch: int) -> CollatedBatches:
            rng = np.random.default_rng([cfg.train.seed, epoch])
            groups = []
            for start, part in zip(starts[:-1], train, strict=True):
                order = (rng.permutation(len(part)) + start).tolist()
                groups += [order[i : i + d.batch_size] for i in range(0, len(order), d.batch_size)]
            return CollatedBatches([groups[i] for i in rng.permutation(len(groups))], collate)

        mode = "one joint model" if d.joint else "one model per task"
        return Prepared(
            assets=vocab,
            meta={
                "vocab_file": VOCAB_FILE,
                "vocab": len(vocab.words),
                "tasks": d.tasks,
                "joint": d.joint,
            },
            batches=batches,
            dev=dev,
            description=(
                f"bAbI tasks {','.join(map(str, d.tasks))}: {starts[-1]:,} training questions, "
                f"{sum(map(len, dev)):,} dev; vocabulary {len(vocab.words)} words; {mode}"
            ),
        )

    def build_model(self, cfg: Config, assets: BabiVocab) -> BabiReader:
        return BabiReader(
            cfg.model, vocab_size=len(assets.words), tasks=cfg.data.tasks, joint=cfg.data.joint
        )

    def loss(self, cfg: Config, model: torch.nn.Module, batch: dict) -> tuple[torch.Tensor, int]:
        logits, _ = model(batch["story"], batch["query"], batch["task"])  # (B, V)
        return F.cross_entropy(logits.float(), batch["answer"]), len(batch["answer"])

    def validate(self, cfg: Config, model: torch.nn.Module, prepared: Prepared) -> dict[str, float]:
        """Dev accuracy and loss, the means over tasks and each task's (``accuracy_t3``...)."""
        device = next(model.parameters()).device
        out: dict[str, float] = {}
        for t, data in zip(cfg.data.tasks, prepared.dev, strict=True):
            logits, _ = answer_scores(model, data, device)
            out[f"accuracy_t{t}"] = (logits.argmax(-1) == data.answer).float().mean().item()
            out[f"loss_t{t}"] = F.cross_entropy(logits, data.answer).item()
        n = len(cfg.data.tasks)
        return {
            "accuracy": sum(out[f"accuracy_t{t}"] for t in cfg.data.tasks) / n,
            "loss": sum(out[f"loss_t{t}"] for t in cfg.data.tasks) / n,
            **out,
        }

    def after_eval(
        self,
        cfg: Config,
        model: torch.nn.Module,
        metrics: dict[str, float],
        previous: dict[str, float],
    ) -> None:
        """Linear start ends, network by network, at the first evaluation whose dev loss
        (its task's, or the mean for a joint model) did not fall below the previous one's, or
        at the ``linear_start_evals``-th evaluation, leaving the rest of the run to train with
        the softmax (the switch costs accuracy that takes epochs to win back)."""
        assert isinstance(model, BabiReader)
        model.evaluations += 1
        for i, name in enumerate(model.nets):
            key = "loss" if model.joint else f"loss_t{model.tasks[i]}"
            if not model.linear_start[i]:
                continue
            if key in previous and metrics[key] >= previous[key]:
                why = f"dev loss {metrics[key]:.4f} >= {previous[key]:.4f}"
            elif model.evaluations >= cfg.linear_start_evals:
                why = f"{cfg.linear_start_evals} evaluations (linear_start_evals)"
            else:
                continue
            model.linear_start[i] = False
            log.info(f"{name}: {why}: linear start ends (softmax back in the hops)")

    # ----- runs -------------------------------------------------------------------------------
    def load_assets(self, run_dir: Path, meta: dict[str, Any]) -> BabiVocab:
        return BabiVocab.load(Path(run_dir) / meta.get("vocab_file", VOCAB_FILE))

    def evaluate(self, run: Run, split: str) -> dict[str, Any]:
        """Each task's error (%) on ``split`` (1,000 test questions per task by default), the
        mean, the worst and the tasks failed (error above 5%)."""
        cfg: Config = run.config
        errors, questions = {}, 0
        (stories_of,) = load_splits(cfg, split)
        for t, stories in zip(cfg.data.tasks, stories_of, strict=True):
            data = vectorize(stories, run.assets, memory_size=cfg.model.memory_size)
            logits, _ = answer_scores(run.model, data, run.device)
            errors[t] = 100 * (logits.argmax(-1) != data.answer).sum().item() / len(data)
            questions += len(data)
        return {**error_summary(errors), "questions": questions}

    # ----- use --------------------------------------------------------------------------------
    def predict(
        self,
        run: Run,
        inputs: Sequence[Mapping[str, Any]],
        *,
        task: int | None = None,
        top: int = 3,
    ) -> list[dict[str, Any]]:
        """Answer questions about stories: each input is ``{"story": lines (a list, or one
        text), "question": text}``. Each result has ``answer``, its ``probability``, the
        ``sentences`` in the memory (the last ``model.memory_size``, in story order, ``first``
        the index of the first), ``attention`` ``(K, M)`` of each hop over them and ``hops``:
        the ``top`` sentences of each hop with their weights.

        Args:
            task: the bAbI task whose model answers (needed when the run has one per task).

        Raises:
            AttnkitError: no input, an empty story or question, unknown words (named), a task
                the run has no model for.
        """
        cfg: Config = run.config
        model: BabiReader = run.model
        task = self._pick_task(run, task)
        if not inputs:
            raise AttnkitError("empty input: give a story and a question")
        results = []
        for item in inputs:
            sentences, question = self._read(run.assets, item)
            story = Story(task, sentences, (Question(question, "", (), len(sentences)),))
            data = vectorize([story], run.assets, memory_size=cfg.model.memory_size)
            logits, w = answer_scores(model, data, run.device)  # (1, V), (1, K, M)
            M = w.shape[-1]
            weights = w[0].flip(-1)  # (K, M) story order: slot 0 is the latest sentence
            first = len(sentences) - M
            probs = logits[0].softmax(-1)
            best = int(probs.argmax())
            kept = [" ".join(s) for s in sentences[first:]]
            results.append(
                {
                    "answer": run.assets.words[best],
                    "probability": probs[best].item(),
                    "task": task,
                    "question": " ".join(question),
                    "sentences": kept,
                    "first": first,
                    "attention": weights.tolist(),
                    "linear_start": bool(model.linear_start[model.net_index(task)]),
                    "hops": [self._top(hop, kept, first, top) for hop in weights],
                }
            )
        return results

    @staticmethod
    def _top(weights: torch.Tensor, kept: list[str], first: int, k: int) -> list[dict[str, Any]]:
        """The ``k`` sentences one hop weighted most: index in the story, text, weight."""
        order = weights.argsort(descending=True, stable=True)[:k].tolist()
        return [
            {"index": first + j, "sentence": kept[j], "weight": weights[j].item()} for j in order
        ]

    @staticmethod
    def _pick_task(run: Run, task: int | None) -> int:
        """The task whose network answers: ``task``, or the run's only network."""
        tasks: list[int] = run.config.data.tasks
        listed = ", ".join(map(str, tasks))
        if task is None and (run.config.data.joint or len(tasks) == 1):
            return tasks[0]
        if task is None:
            raise AttnkitError(
                f"{run.path} has one model per bAbI task ({listed}): say which answers (--task N)"
            )
        if task not in tasks:
            raise AttnkitError(f"{run.path} has no model for task {task}; its tasks: {listed}")
        return task

    @staticmethod
    def _read(
        vocab: BabiVocab, item: Mapping[str, Any]
    ) -> tuple[tuple[tuple[str, ...], ...], tuple[str, ...]]:
        """The story's sentences and the question as words, checked against the vocabulary."""
        story = item.get("story") if isinstance(item, Mapping) else None
        question = item.get("question") if isinstance(item, Mapping) else None
        lines = story.splitlines() if isinstance(story, str) else story
        if not isinstance(lines, list | tuple) or not all(isinstance(x, str) for x in lines):
            raise AttnkitError("each input needs a 'story' (lines of text) and a 'question'")
        sentences = tuple(w for w in map(words_of, lines) if w)
        words = words_of(question) if isinstance(question, str) else ()
        if not sentences:
            raise AttnkitError("empty story: give at least one sentence")
        if not words:
            raise AttnkitError("empty question: ask something about the story")
        known = set(vocab.words)
        unknown = sorted({w for s in (*sentences, words) for w in s} - known)
        if unknown:
            raise AttnkitError(
                f"unknown words: {', '.join(map(repr, unknown))}; the model knows the "
                f"{len(known) - len(SPECIAL_TOKENS)} words of its training stories"
            )
        return sentences, words

    def plot(self, result: dict[str, Any], path: Path) -> None:
        """Heatmap of a :meth:`predict` result: hops down, the story's sentences across."""
        from attnkit.viz import plot_heatmap

        labels = [f"{result['first'] + j + 1}. {s}" for j, s in enumerate(result["sentences"])]
        hops = [f"hop {k + 1}" for k in range(len(result["attention"]))]
        title = f"{result['question']}? {result['answer']}"
        plot_heatmap(
            result["attention"],
            hops,
            labels,
            path,
            title,
            xlabel="memory (story order)",
            ylabel="hop",
        )


TASK = BabiTask()

__all__ = [
    "FAILED_ABOVE",
    "TASK",
    "BabiTask",
    "answer_scores",
    "error_summary",
    "load_splits",
    "words_of",
]
