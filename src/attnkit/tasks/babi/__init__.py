"""bAbI-style question answering with end-to-end memory networks (Sukhbaatar et al. 2015).

``attnkit train babi`` generates the 20 tasks (:mod:`attnkit.data.babi`: 1k or 10k training
questions per task, 10% of them dev) and trains MemN2N with 3 hops, adjacent tying, position
and temporal encoding, random empty memories and linear start, which ends for each network
when its dev loss stops falling. One run folder holds one network per task (the paper's main
rows) or, with ``data.joint=true``, one for all of them (its joint rows, ``model.embed_dim=50``).
``attnkit eval`` reports each task's test error, the mean, the worst and the tasks failed
(error above 5%); ``attnkit babi`` answers a question about a story of your own and shows the
sentences each hop attended (``--plot``: hops x sentences).

Example:
    $ attnkit train babi --out runs/babi --set data.tasks=[1,2,3]
    $ attnkit babi --model runs/babi --task 1 --story story.txt --question "Where is Mary?"
"""

from attnkit.tasks.babi.config import BabiDataConfig, Config
from attnkit.tasks.babi.model import BabiReader
from attnkit.tasks.babi.task import TASK, BabiTask, error_summary

__all__ = ["TASK", "BabiDataConfig", "BabiReader", "BabiTask", "Config", "error_summary"]
