from dataclasses import dataclass, field
from typing import Literal

import pytest

from attnkit.config import load_config, save_config
from attnkit.errors import AttnkitError
from attnkit.training import TrainConfig


@dataclass
class Model:
    hidden: int = 8
    rnn: Literal["gru", "lstm"] = "gru"


@dataclass
class Cfg:
    name: str = "x"
    model: Model = field(default_factory=Model)
    train: TrainConfig = field(default_factory=TrainConfig)


def test_yaml_and_overrides(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("name: run\nmodel:\n  hidden: 16\ntrain:\n  lr: 1\n")
    cfg = load_config(
        Cfg, path, ["model.rnn=lstm", "train.max_steps=5", "train.budget_minutes=null"]
    )
    assert (cfg.name, cfg.model.hidden, cfg.model.rnn) == ("run", 16, "lstm")
    assert cfg.train.lr == 1.0 and isinstance(cfg.train.lr, float)
    assert cfg.train.max_steps == 5 and cfg.train.budget_minutes is None


def test_round_trip(tmp_path):
    cfg = load_config(Cfg, None, ["model.hidden=3"])
    save_config(cfg, tmp_path / "c.yaml")
    assert load_config(Cfg, tmp_path / "c.yaml") == cfg


@pytest.mark.parametrize(
    ("overrides", "message"),
    [
        (["model.hiden=3"], "valid keys: hidden, rnn"),
        (["model.rnn=rnn"], "is not one of 'gru', 'lstm'"),
        (["model.hidden=big"], "expected int"),
        (["hidden"], "key=value"),
        (["name.x=1"], "has no sub-keys"),
    ],
)
def test_bad_overrides_name_the_problem(overrides, message):
    with pytest.raises(AttnkitError, match=message):
        load_config(Cfg, None, overrides)


def test_unknown_key_in_file_and_missing_file(tmp_path):
    path = tmp_path / "c.yaml"
    path.write_text("train:\n  lrr: 1\n")
    with pytest.raises(AttnkitError, match=r"unknown config key 'train\.lrr'"):
        load_config(Cfg, path)
    with pytest.raises(AttnkitError, match="not found"):
        load_config(Cfg, tmp_path / "missing.yaml")
