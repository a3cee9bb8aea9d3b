"""Abstractive summarization with a pointer-generator network and coverage (See et al. 2017).

``attnkit train summarize`` trains on Debian package descriptions (long description -> the
one-line synopsis; ``data.corpus=aclsum`` for ACL papers), ``attnkit eval`` reports ROUGE-1/2/L
(rouge-score, stemming) beside the Lead baselines on the same split with the copy, p_gen,
novelty and repetition figures, ``attnkit summarize`` summarises new text and draws the
attention with p_gen per output word. The paper's schedule is two runs: train without
coverage, then fine-tune with it from that run (``train.init_from``).

Example:
    $ attnkit train summarize --out runs/pgn
    $ attnkit train summarize --out runs/pgn-cov --set model.coverage=true \\
          --set train.init_from=runs/pgn --set train.epochs=1 --set train.lr=0.0005
    $ echo "A tool that converts ..." | attnkit summarize --model runs/pgn-cov --plot a.png
"""

from attnkit.tasks.summarize.config import Config, SummaryDataConfig
from attnkit.tasks.summarize.task import TASK, SummarizeTask

__all__ = ["TASK", "Config", "SummarizeTask", "SummaryDataConfig"]
