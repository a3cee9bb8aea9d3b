"""Translation with Bahdanau attention: data -> Seq2Seq -> Trainer -> beam search -> BLEU.

The flagship task. ``attnkit train translate`` trains on a real parallel corpus (default: the
Spanish RV1909 / English WEB Bible, verse-aligned), ``attnkit eval`` reports sacrebleu BLEU and
chrF on the held-out test split (and how many test pairs occur verbatim in train),
``attnkit translate`` decodes new text and draws where the model attended, ``attnkit demo``
does all of it under a time budget.

Example:
    $ attnkit train translate --set train.budget_minutes=10
    $ attnkit translate --model ~/.cache/attnkit/runs/translate "En el principio" --plot a.png
"""

from attnkit.tasks.translate.config import Config, DecodeConfig
from attnkit.tasks.translate.task import TASK, Assets, TranslateTask
from attnkit.tasks.translate.translator import Translator

__all__ = ["TASK", "Assets", "Config", "DecodeConfig", "TranslateTask", "Translator"]
