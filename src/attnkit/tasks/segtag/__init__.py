"""Chinese raw text segmented and tagged the PKU way by one character-level model.

Example:
    $ attnkit train segtag
    $ attnkit eval --model ~/.cache/attnkit/runs/segtag   # segmentation / joint F1 vs jieba
    $ attnkit tag --model ~/.cache/attnkit/runs/segtag "2024年3月15日发布新款手机"
"""

from attnkit.tasks.segtag.config import Config
from attnkit.tasks.segtag.task import TASK, SegTagTask, jieba_scores, score_sentences

__all__ = ["TASK", "Config", "SegTagTask", "jieba_scores", "score_sentences"]
