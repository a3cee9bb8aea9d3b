"""Chinese part-of-speech tagging (PKU tag set) with a BiLSTM + self-attention + CRF tagger.

Example:
    $ attnkit data get pku-1998
    $ attnkit train tag --config configs/tag_pku.yaml
    $ attnkit eval --model ~/.cache/attnkit/runs/tag
    $ attnkit tag "今天天气很好"            # 今天/t 天气/n 很/d 好/a
    $ attnkit tag --segmented "我 爱 北京" --json
"""

from attnkit.tasks.tag.config import Config
from attnkit.tasks.tag.segment import (
    JIEBA_TO_PKU,
    check_input,
    jieba_baseline,
    jieba_words,
    segment,
)
from attnkit.tasks.tag.task import TASK, TagTask, predict_ids, tag_words, token_accuracy

__all__ = [
    "JIEBA_TO_PKU",
    "TASK",
    "Config",
    "TagTask",
    "check_input",
    "jieba_baseline",
    "jieba_words",
    "predict_ids",
    "segment",
    "tag_words",
    "token_accuracy",
]
