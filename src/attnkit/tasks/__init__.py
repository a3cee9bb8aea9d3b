"""The tasks: each plugs its data, model and metrics into one contract (:mod:`.base`).

================  =====================================================================
module            what
================  =====================================================================
``base``          :class:`Task` (the contract) and :class:`Prepared`
``runs``          :func:`open_run`: the one way to open a trained run folder
``runner``        :func:`train` and :func:`evaluate` for any task
``translate``     Bahdanau-attention translation (sacrebleu BLEU / chrF)
``tag``           Chinese POS tagging with self-attention + CRF (PKU-1998)
``segtag``        Chinese raw text segmented and tagged by one character-level model
``classify``      Fashion-MNIST with squeeze-and-excitation ResNets
``summarize``     pointer-generator summarization with coverage (Debian descriptions)
``babi``          bAbI-style question answering with end-to-end memory networks (MemN2N)
``correct``       context-aware spelling correction with a memory network (MemN2N hops)
================  =====================================================================

Example:
    >>> sorted(TASKS)
    ['babi', 'classify', 'correct', 'segtag', 'summarize', 'tag', 'translate']
    >>> get_task("tag").default_config
    'tag_pku.yaml'
"""

from __future__ import annotations

import importlib

from attnkit.errors import AttnkitError
from attnkit.tasks.base import Prepared, Task
from attnkit.tasks.runner import evaluate, train
from attnkit.tasks.runs import Run, open_run, read_meta, task_of_run

TASKS: dict[str, str] = {
    "translate": "attnkit.tasks.translate",
    "tag": "attnkit.tasks.tag",
    "segtag": "attnkit.tasks.segtag",
    "classify": "attnkit.tasks.classify",
    "summarize": "attnkit.tasks.summarize",
    "babi": "attnkit.tasks.babi",
    "correct": "attnkit.tasks.correct",
}
"""Task name -> the package whose ``TASK`` object implements it."""


def get_task(name: str) -> Task:
    """The task called ``name``.

    Raises:
        AttnkitError: unknown task name (the valid ones are listed).
    """
    if name not in TASKS:
        raise AttnkitError(f"unknown task {name!r}; choose one of: {', '.join(TASKS)}")
    return importlib.import_module(TASKS[name]).TASK


__all__ = [
    "TASKS",
    "Prepared",
    "Run",
    "Task",
    "evaluate",
    "get_task",
    "open_run",
    "read_meta",
    "task_of_run",
    "train",
]
