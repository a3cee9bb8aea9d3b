"""Tiny trained runs of the text tasks, shared by the task and serve tests."""

import random

import pytest

from attnkit.config import load_config
from attnkit.paths import dataset_dir, repo_configs_dir
from attnkit.tasks import tag, translate

WORDS = ["uno", "dos", "tres", "cuatro", "cinco", "seis"]
EN = {"uno": "one", "dos": "two", "tres": "three", "cuatro": "four", "cinco": "five", "seis": "six"}


def write_tiny_corpus() -> None:
    """A word-for-word 'translation' corpus standing in for jupyterlab-fr (src en, tgt fr),
    written into the current ``$ATTNKIT_HOME``."""
    rng = random.Random(0)
    folder = dataset_dir("jupyterlab-fr")
    folder.mkdir(parents=True)
    for split, n in (("train", 300), ("dev", 20), ("test", 20)):
        src, tgt = [], []
        for _ in range(n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
            src.append(" ".join(words))
            tgt.append(" ".join(EN[w] for w in words))
        (folder / f"{split}.en").write_text("\n".join(src) + "\n")
        (folder / f"{split}.fr").write_text("\n".join(tgt) + "\n")


@pytest.fixture
def tiny_corpus():
    """The tiny word-for-word corpus in this test's cache."""
    write_tiny_corpus()
    return dataset_dir("jupyterlab-fr")


def _tiny_translate_config(**extra) -> translate.Config:
    overrides = [
        "data.corpus=jupyterlab-fr",
        "data.tokenizer=word",
        "data.max_tokens=300",
        "model.emb_dim=32",
        "model.hidden_dim=64",
        "train.epochs=12",
        "train.lr=0.01",
        "train.eval_every=0",
        "train.warmup_steps=0",
        "train.progress=false",
        "decode.beam_size=2",
        *[f"{k}={v}" for k, v in extra.items()],
    ]
    return load_config(translate.Config, None, overrides)


@pytest.fixture
def tiny_config(tiny_corpus):
    """Config factory for a tiny word-level translator on ``tiny_corpus`` (key=value extras)."""
    return _tiny_translate_config


@pytest.fixture(scope="module")
def tiny_translate_run(tmp_path_factory):
    """The tiny translator, trained once per test module (seconds); (run folder, summary).

    The run folder holds its tokenizers, so it outlives the cache it was trained from.
    """
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNKIT_HOME", str(tmp_path_factory.mktemp("translate_home")))
        write_tiny_corpus()
        run = tmp_path_factory.mktemp("translate") / "run"
        return run, translate.train(_tiny_translate_config(), run)


@pytest.fixture
def tiny_tag_run(tmp_path, tiny_pku):
    """Train a tiny tagger on the fixture (train = dev = test) through the real Trainer."""
    overrides = [
        *tiny_pku,
        "model.dropout=0.0",
        "train.epochs=15",
        "train.warmup_steps=0",
        "train.lr=0.03",
    ]
    cfg = load_config(tag.Config, repo_configs_dir() / tag.DEFAULT_CONFIG, overrides)
    run = tmp_path / "tag-run"
    summary = tag.train(cfg, run)
    return run, summary
