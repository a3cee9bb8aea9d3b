"""Shared test setup (one thread per worker: pytest-xdist runs two; fixed seeds) and the tiny
trained runs of the tasks on small real or synthetic fixtures."""

import json
import os
import random
import shutil
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import numpy as np
import pytest
import torch

from attnkit.config import load_config
from attnkit.data import fashion_mnist
from attnkit.data.summaries import SummaryPair, write_split
from attnkit.paths import dataset_dir, repo_configs_dir
from attnkit.tasks import get_task, train

torch.set_num_threads(1)

FIXTURES = Path(__file__).parent / "data" / "fixtures"


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test's cache under a temporary ATTNKIT_HOME, never the user's."""
    monkeypatch.setenv("ATTNKIT_HOME", str(tmp_path_factory.mktemp("attnkit_home")))
    torch.manual_seed(0)
    yield


@pytest.fixture(scope="session")
def fmnist_root(tmp_path_factory):
    """A tiny Fashion-MNIST in IDX files: 60 train + 20 test images, a class-coded bright bar."""
    from attnkit.data import fashion_mnist as fm

    root = tmp_path_factory.mktemp("fmnist")
    rng = np.random.default_rng(0)
    for split, n in (("train", 60), ("test", 20)):
        labels = (np.arange(n) % 10).astype(np.uint8)
        images = rng.integers(0, 40, (n, 28, 28), dtype=np.uint8)
        for i, c in enumerate(labels):  # a bright bar whose row depends on the class
            images[i, 2 + 2 * c : 4 + 2 * c, 4:24] = 220
        fm.write_idx(root / fm.FILES[split][0], images)
        fm.write_idx(root / fm.FILES[split][1], labels)
    return root


os.environ.setdefault("MPLBACKEND", "Agg")


@pytest.fixture(scope="session")
def digits_root(tmp_path_factory):
    """Real handwritten digits as a tiny Fashion-MNIST: 1,397 train + 400 test IDX images.

    The 8x8 UCI digits shipped by scikit-learn (``tests/data/fixtures/digits.csv.gz``), each
    pixel repeated 3x3 (24x24), zero-padded to 28x28 and scaled from 0..16 to 0..255.
    """
    from attnkit.data import fashion_mnist as fm

    raw = np.loadtxt(FIXTURES / "digits.csv.gz", delimiter=",", dtype=np.int64)  # (1797, 65)
    images = np.kron(raw[:, :64].reshape(-1, 8, 8), np.ones((3, 3), dtype=np.int64))
    images = np.pad(images * 255 // 16, ((0, 0), (2, 2), (2, 2))).astype(np.uint8)  # (N, 28, 28)
    labels = raw[:, 64].astype(np.uint8)
    root = tmp_path_factory.mktemp("digits")
    for split, rows in (("train", slice(0, 1397)), ("test", slice(1397, None))):
        fm.write_idx(root / fm.FILES[split][0], images[rows])
        fm.write_idx(root / fm.FILES[split][1], labels[rows])
    return root


WORDS = ["uno", "dos", "tres", "cuatro", "cinco", "seis"]
EN = {"uno": "one", "dos": "two", "tres": "three", "cuatro": "four", "cinco": "five", "seis": "six"}
PKU_HELDOUT = Path(__file__).parent / "data" / "fixtures" / "pku_heldout.txt"

TINY_TAGGER = [
    "model.word_dim=32",
    "model.char_dim=16",
    "model.char_channels=32",
    "model.lstm_hidden=32",
    "model.num_heads=2",
    "model.ffn_dim=64",
    "data.min_word_count=1",
    "data.batch_tokens=200",
    "train.warmup_steps=0",
    "train.progress=false",
]


NOUNS = ["library", "tool", "daemon", "font", "plugin", "editor"]
TOPICS = ["images", "music", "mail", "maps", "chess", "email"]
VERBS = ["reads", "writes", "converts", "shows"]


def _pair(rng: random.Random, i: int) -> SummaryPair:
    name = "".join(rng.choice("bcdfgkmpstvz") for _ in range(5)) + str(i)  # never repeats
    noun, topic, verb = rng.choice(NOUNS), rng.choice(TOPICS), rng.choice(VERBS)
    doc = f"{name} is a small {noun} for {topic} . It {verb} {topic} files quickly ."
    return SummaryPair(name, doc, f"{noun} to handle {topic} , {name}")  # "handle": generated


def write_tiny_summaries() -> None:
    """A synthetic ``debian-descriptions`` in this cache: 400/30/40 pairs whose summaries must
    copy a made-up package name (a word no vocabulary holds); five test pairs form a
    "templated family"."""
    rng = random.Random(0)
    folder = dataset_dir("debian-descriptions")
    folder.mkdir(parents=True)
    for split, n, start in (("train", 400, 0), ("dev", 30, 1000), ("test", 40, 2000)):
        pairs = [_pair(rng, start + i) for i in range(n)]
        write_split(folder, split, pairs)
        if split == "test":  # a "templated family" of five test pages, reported apart
            family = {"fam": [p.id for p in pairs[:5]]}
            (folder / "families.json").write_text(json.dumps(family))


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


def write_pku_heldout() -> None:
    """120 real People's Daily paragraphs in 20 documents as the cached ``pku-1998``: its split
    gives 250 train, 21 dev and 29 test sentences (6,679 / 550 / 744 tokens), no overlap."""
    folder = dataset_dir("pku-1998")
    folder.mkdir(parents=True)
    (folder / "199801.txt").write_bytes(PKU_HELDOUT.read_bytes())


CORRECT_FIXTURE = FIXTURES / "correct"  # folder -> the registry dataset it stands in for
CORRECT_DATASETS = {"bible": "bible-es-en", "debian": "debian-descriptions", "aclsum": "aclsum",
                    "codespell": "codespell", "wamerican": "wamerican",
                    "frequencies": "word-frequencies"}  # fmt: skip


def write_tiny_correction() -> None:
    """The spelling-correction corpora of ``tests/data/fixtures/correct`` in this cache: 420
    templated sentences (Bible, Debian, ACL stand-ins), a small codespell, ``wamerican`` and
    frequency list."""
    for folder, name in CORRECT_DATASETS.items():
        shutil.copytree(CORRECT_FIXTURE / folder, dataset_dir(name))


@pytest.fixture
def tiny_correction():
    """The spelling-correction fixture corpora in this test's cache."""
    write_tiny_correction()


TINY_CORRECT = [  # a corrector on the fixture corpus in seconds
    "data.dev=0.2",
    "data.test=0.2",
    "data.pair_dev=0.25",
    "data.pair_test=0.25",
    "data.frequent=0.3",
    "data.buckets=2048",
    "data.batch_size=16",
    "data.max_eval_sentences=0",
    "data.train_copies=4",
    "model.embed_dim=24",
    "model.window=3",
    "train.epochs=6",
    "train.seed=2",  # seed 0 (this recipe's first) turns a clean "There" into "They're"
    "train.lr=0.01",
    "train.progress=false",
    "train.threads=1",
]


@pytest.fixture(scope="module")
def tiny_correct_run(tmp_path_factory):
    """A tiny corrector trained on the fixture corpus: (run folder, training summary, home)."""
    task = get_task("correct")
    home = tmp_path_factory.mktemp("correct_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNKIT_HOME", str(home))
        write_tiny_correction()
        run = tmp_path_factory.mktemp("correct") / "run"
        summary = train(task, load_config(task.config_class, None, TINY_CORRECT), run)
    return run, summary, home


@pytest.fixture
def tiny_summaries():
    """The synthetic summarization corpus in this test's cache."""
    write_tiny_summaries()
    return dataset_dir("debian-descriptions")


@pytest.fixture
def tiny_corpus():
    """The tiny word-for-word corpus in this test's cache."""
    write_tiny_corpus()
    return dataset_dir("jupyterlab-fr")


def tiny_translate_config(**extra):
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
        "train.bf16=false",
        "train.progress=false",
        "decode.beam_size=2",
        *[f"{k}={v}" for k, v in extra.items()],
    ]
    return load_config(get_task("translate").config_class, None, overrides)


def tiny_tag_config(*extra: str):
    task = get_task("tag")
    return load_config(
        task.config_class, repo_configs_dir() / task.default_config, [*TINY_TAGGER, *extra]
    )


@pytest.fixture
def tiny_config(tiny_corpus):
    """Config factory for a tiny word-level translator on ``tiny_corpus`` (key=value extras)."""
    return tiny_translate_config


@pytest.fixture
def tag_config():
    """Config factory for the tiny tagger (``key=value`` extras)."""
    return tiny_tag_config


@pytest.fixture
def pku_heldout():
    """The held-out PKU fixture as this test's cached corpus; returns tiny-tagger overrides."""
    write_pku_heldout()
    return list(TINY_TAGGER)


@pytest.fixture(scope="module")
def tiny_translate_run(tmp_path_factory):
    """The tiny translator, trained once per test module (seconds); (run folder, summary).

    The run folder holds its tokenizers; the cache it was trained from stays set.
    """
    home = tmp_path_factory.mktemp("translate_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNKIT_HOME", str(home))
        write_tiny_corpus()
        run = tmp_path_factory.mktemp("translate") / "run"
        summary = train("translate", tiny_translate_config(), run)
    return run, summary, home


@pytest.fixture(scope="module")
def tiny_tag_run(tmp_path_factory):
    """A tiny tagger trained on the held-out PKU fixture (its train split); (run, summary, home)."""
    home = tmp_path_factory.mktemp("tag_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNKIT_HOME", str(home))
        write_pku_heldout()
        run = tmp_path_factory.mktemp("tag") / "run"
        summary = train("tag", tiny_tag_config("train.epochs=15", "train.lr=0.01"), run)
    return run, summary, home


TINY_SEGTAG = [
    "model.word_dim=32",
    "model.char_dim=16",
    "model.lstm_hidden=32",
    "model.num_heads=2",
    "model.ffn_dim=64",
    "data.batch_tokens=400",
    "data.min_bigram_count=1",
    "train.warmup_fraction=0",
    "train.progress=false",
]


def tiny_segtag_config(*extra: str):
    task = get_task("segtag")
    return load_config(
        task.config_class, repo_configs_dir() / task.default_config, [*TINY_SEGTAG, *extra]
    )


@pytest.fixture(scope="module")
def tiny_segtag_run(tmp_path_factory):
    """A tiny joint segmenter-tagger on the held-out PKU fixture; (run, summary, home)."""
    home = tmp_path_factory.mktemp("segtag_home")
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNKIT_HOME", str(home))
        write_pku_heldout()
        run = tmp_path_factory.mktemp("segtag") / "run"
        summary = train("segtag", tiny_segtag_config("train.epochs=15", "train.lr=0.01"), run)
    return run, summary, home


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


@pytest.fixture(scope="module")
def live_server(tmp_path_factory):
    """Start ``attnkit serve --model RUN`` in its own process (real uvicorn over TCP).

    ``start(run, home=None)`` returns the base URL once ``/api/info`` answers (at most 120 s);
    ``home`` sets the server's ``ATTNKIT_HOME``. Every server started is stopped after the
    module; its stderr is in a file, shown when it dies before answering.
    Example: ``url = live_server(run)`` then ``urllib.request.urlopen(f"{url}/api/info")``.
    """
    servers = []

    def start(run: Path, home: Path | None = None) -> str:
        port, log = _free_port(), tmp_path_factory.mktemp("server") / "stderr.txt"
        env = {"OMP_NUM_THREADS": "1", **os.environ}
        if home is not None:
            env["ATTNKIT_HOME"] = str(home)
        cmd = [sys.executable, "-m", "attnkit.cli", "serve", "--model", str(run)]
        cmd += ["--port", str(port)]
        with log.open("w") as err:  # a file, not a pipe: nobody reads it while the server runs
            servers.append(subprocess.Popen(cmd, env=env, stderr=err))
        url, deadline = f"http://127.0.0.1:{port}", time.monotonic() + 120
        while True:
            try:
                with urllib.request.urlopen(f"{url}/api/info", timeout=5):
                    return url
            except (urllib.error.URLError, ConnectionError):
                assert servers[-1].poll() is None, log.read_text()
                assert time.monotonic() < deadline, "the server did not come up in 120 s"
                time.sleep(0.3)

    yield start
    for server in servers:
        server.terminate()
        server.wait(timeout=30)


@pytest.fixture
def use_home(monkeypatch):
    """Point ``ATTNKIT_HOME`` at a module fixture's cache (for runs that read their corpus)."""

    def use(home):
        monkeypatch.setenv("ATTNKIT_HOME", str(home))

    return use


@pytest.fixture(scope="session")
def tiny_classify_run(tmp_path_factory, fmnist_root) -> Path:
    """An SE-ResNet-20 trained for 2 steps on the tiny Fashion-MNIST fixture (seconds)."""
    task = get_task("classify")
    overrides = [
        f"data.root={fmnist_root}",
        "data.validation_per_class=2",
        "data.batch_size=16",
        "data.eval_batch_size=16",
        "train.epochs=1",
        "train.warmup_steps=0",
        "train.progress=false",
    ]
    cfg = load_config(task.config_class, repo_configs_dir() / task.default_config, overrides)
    run = tmp_path_factory.mktemp("classify_run")
    torch.manual_seed(0)
    train("classify", cfg, run)
    return run


@pytest.fixture(scope="session")
def fixture_images(fmnist_root) -> torch.Tensor:
    """The fixture's 20 test images, uint8 ``(20, 28, 28)``."""
    images, _ = fashion_mnist.load_split("test", fmnist_root)
    return torch.from_numpy(images)
