"""Context-aware spelling correction with an end-to-end memory network (Sukhbaatar et al. 2015).

``attnkit train correct`` injects errors into real English sentences (WEB Bible, Debian package
descriptions, ACL papers; :mod:`attnkit.data.correction`): codespell misspellings (non-words)
and confusion-set swaps (real words: their/there/they're ...), with codespell's pairs split by
correct word so that test words and their misspellings are in no training sentence and in no
word list. For each token under scrutiny (an unknown word or a confusion-set word) a memory
network attends over its context and its candidates (edit distance 2 over ``wamerican`` and
the training words, or its confusion partners; keeping it is candidate 0) and picks one.
``attnkit eval`` reports detection precision / recall, correction accuracy and clean tokens
changed per kind of error; ``attnkit correct`` corrects text (``--diff``, ``--explain``: the
attention of each hop); ``attnkit bench correct`` compares it with pyspellchecker, symspellpy
and leaving the text as is.

Example:
    $ attnkit train correct --out runs/correct
    $ attnkit correct --model runs/correct "Thier recieved teh letter yesterday"
"""

from attnkit.tasks.correct.config import Config, CorrectDataConfig
from attnkit.tasks.correct.model import CorrectorConfig, MemoryCorrector
from attnkit.tasks.correct.task import TASK, CorrectAssets, CorrectTask

__all__ = [
    "TASK",
    "Config",
    "CorrectAssets",
    "CorrectDataConfig",
    "CorrectTask",
    "CorrectorConfig",
    "MemoryCorrector",
]
