"""Numbers and names pass through translation: tiny translators trained with placeholders on a
word-for-word corpus that shares numbers and names verbatim copy ones they never saw, for both
architectures; a run trained without them refuses as before."""

import dataclasses
import json
import random

import pytest
import torch
from fastapi.testclient import TestClient
from test_translate import TINY_TRANSFORMER

from attnkit.bench import passthrough
from attnkit.cli import main
from attnkit.config import load_config
from attnkit.data import parallel
from attnkit.data.placeholders import (
    PLACEHOLDERS,
    SOURCE_WORDS_FILE,
    load_word_forms,
    word_forms,
)
from attnkit.data.text import build_tokenizers, load_tokenizer
from attnkit.decoding.batched import DecodeConfig
from attnkit.errors import AttnkitError
from attnkit.paths import dataset_dir
from attnkit.serve import create_app
from attnkit.specials import UNK_ID
from attnkit.tasks import get_task, open_run, train
from attnkit.tasks.translate.translator import Translator
from conftest import EN, WORDS, tiny_translate_config

TASK = get_task("translate")
NAMES = ["Ana", "Luis", "Marta", "Pablo", "Elena"]


def _item(rng: random.Random) -> str:
    return str(rng.randint(0, 999)) if rng.random() < 0.7 else rng.choice(NAMES)


def _is_item(word: str) -> bool:
    return word[0].isdigit() or word in NAMES


def write_copy_corpus() -> None:
    """The tiny word-for-word corpus (as ``jupyterlab-fr``: src en, tgt fr), where 60% of the
    pairs also hold one or two numbers or names, the same on both sides at the same place."""
    rng = random.Random(0)
    folder = dataset_dir("jupyterlab-fr")
    folder.mkdir(parents=True)
    for split, n in (("train", 300), ("dev", 20), ("test", 20)):
        src, tgt = [], []
        for _ in range(n):
            words = [rng.choice(WORDS) for _ in range(rng.randint(2, 5))]
            out = [EN[w] for w in words]
            for _ in range(rng.choice([0, 0, 1, 1, 1, 2])):
                item, at = _item(rng), rng.randint(0, len(words))
                words.insert(at, item)
                out.insert(at, item)
            src.append(" ".join(words))
            tgt.append(" ".join(out))
        (folder / f"{split}.en").write_text("\n".join(src) + "\n")
        (folder / f"{split}.fr").write_text("\n".join(tgt) + "\n")


# Copying placeholders takes more epochs than the plain tiny corpus (still seconds).
ARCHS = {
    "rnn": lambda: tiny_translate_config(**{"data.placeholder_rate": 1.0, "train.epochs": 40}),
    "transformer": lambda: load_config(
        TASK.config_class,
        None,
        [*TINY_TRANSFORMER, "data.placeholder_rate=1.0", "train.epochs=40"],
    ),
}


@pytest.fixture(scope="module")
def copy_runs(tmp_path_factory):
    """One tiny run per architecture trained with placeholders on the copy corpus (seconds);
    ``({arch: run folder}, {arch: summary}, home)``."""
    home = tmp_path_factory.mktemp("passthrough_home")
    runs, summaries = {}, {}
    with pytest.MonkeyPatch.context() as mp:
        mp.setenv("ATTNKIT_HOME", str(home))
        write_copy_corpus()
        for arch, config in ARCHS.items():
            runs[arch] = tmp_path_factory.mktemp(arch) / "run"
            summaries[arch] = train("translate", config(), runs[arch])
    return runs, summaries, home


def test_prepare_puts_placeholders_in_train_pairs_only(tmp_path):
    write_copy_corpus()
    cfg = tiny_translate_config(**{"data.placeholder_rate": 1.0}).data
    data = parallel.prepare(cfg, tmp_path / "a", reuse=False, seed=0)
    raw_train = parallel.load_split(cfg.corpus, "train")
    words = [[data.src_tok.id_to_piece(i) for i in ids[:-1]] for ids in data.train.src]
    with_items = {i for i, (s, _) in enumerate(raw_train) if any(map(_is_item, s.split()))}
    assert len(with_items) > 100
    for k, i in enumerate(data.train.index):  # every shared number / name is a placeholder
        assert (i in with_items) == any(w in PLACEHOLDERS for w in words[k])
        assert not any(map(_is_item, words[k]))
    assert data.dev.refs == [t for _, t in parallel.load_split(cfg.corpus, "dev")]  # untouched
    assert data.src_tok.id_to_piece(4) == "⟦1⟧"
    again = parallel.prepare(cfg, tmp_path / "b", reuse=False, seed=0)
    assert again.train.src == data.train.src  # deterministic

    off = parallel.prepare(tiny_translate_config().data, tmp_path / "c", reuse=False, seed=0)
    assert off.src_tok.piece_to_id("⟦1⟧") == off.src_tok.unk_id


@pytest.mark.parametrize("arch", list(ARCHS))
def test_numbers_and_names_never_seen_are_copied(copy_runs, use_home, arch):
    runs, summaries, home = copy_runs
    use_home(home)
    run = open_run(runs[arch])
    assert TASK.translator(run).uses_placeholders
    assert summaries[arch]["test_bleu"] > 60, summaries[arch]
    # the test split's numbers (most never seen in training) went through evaluate's masking
    assert summaries[arch]["test_name_recall"] > 0.8, summaries[arch]

    sentences = ["uno 42 dos", "tres Zoë cuatro", "cinco 7 seis 1234"]
    got = [r["translation"] for r in TASK.predict(run, sentences)]
    assert got == ["one 42 two", "three Zoë four", "five 7 six 1234"]

    result = TASK.predict(run, ["uno 42 dos"], attention=True)[0]
    assert result["source_tokens"] == ["uno", "42", "dos", "</s>"]  # the spans, not ⟦1⟧
    assert "42" in result["target_tokens"]


@pytest.mark.parametrize("arch", list(ARCHS))
def test_a_run_keeps_the_word_forms_of_its_raw_training_sources(copy_runs, use_home, arch):
    runs, _, home = copy_runs
    use_home(home)
    words = load_word_forms(runs[arch] / SOURCE_WORDS_FILE)
    assert {"ana", "uno", "dos"} <= words and "zoe" not in words  # before the placeholders
    run = open_run(runs[arch])
    assert TASK.translator(run).source_words == words
    assert TASK.predict(run, ["tres Zoe cuatro"])[0]["translation"] == "three Zoe four"


def test_a_subword_run_masks_the_names_its_training_sources_lack(tmp_path):
    """A subword tokenizer can spell "Madrid" from its pieces: without the word list it would
    reach the model as pieces; with it, it is a placeholder. A capitalised word the sources
    hold in lower case ("Mañana" at a sentence's start) is translated."""
    sources = ["mañana vamos a casa de David", "la casa es grande", "Madre mía", "dos perros"]
    files = build_tokenizers(
        "bpe", sources * 20, sources * 20, tmp_path, joint=True, vocab_size=60,
        symbols=PLACEHOLDERS,
    )  # fmt: skip
    tok = load_tokenizer(files[0])
    tr = Translator(None, tok, tok, DecodeConfig(), torch.device("cpu"))
    text = "Mañana David va a Madrid con 2 perros"
    assert UNK_ID not in tok.encode("Madrid") and tr.mask(text).spans == {"⟦1⟧": "2"}
    named = dataclasses.replace(tr, source_words=frozenset(word_forms(sources)))
    assert named.mask(text).spans == {"⟦1⟧": "Madrid", "⟦2⟧": "2"}


def test_the_cli_and_http_api_pass_numbers_through(copy_runs, capsys):
    runs, _, _ = copy_runs
    assert main(["translate", "--model", str(runs["rnn"]), "uno 42 dos"]) == 0
    assert capsys.readouterr().out.strip() == "one 42 two"
    client = TestClient(create_app(runs["rnn"]))
    reply = client.post("/api/translate", json={"text": "uno 42 dos", "beam": 1})
    assert reply.status_code == 200, reply.text
    assert reply.json()["translation"] == "one 42 two"
    assert reply.json()["source_tokens"] == ["uno", "42", "dos", "</s>"]


def test_more_spans_than_placeholders_fall_back_to_the_old_check(copy_runs):
    runs, _, _ = copy_runs
    run = open_run(runs["rnn"])
    text = "uno 11 12 13 14 15 16 17 18 19 dos"  # nine numbers: the ninth is not masked
    with pytest.raises(AttnkitError, match="never seen '19' in"):
        TASK.predict(run, [text])
    (result,) = TASK.predict(run, [text], allow_unknown=True)  # 19 as <unk>, the rest masked
    assert result["translation"].startswith("one ") and "⟦" not in result["translation"]


def test_a_run_without_placeholders_refuses_as_before(tiny_translate_run):
    """The conftest run (placeholder_rate 0): its tokenizer has no placeholder symbols."""
    run = open_run(tiny_translate_run[0])
    tr = TASK.translator(run).with_search(beam=1)
    assert not tr.uses_placeholders
    with pytest.raises(AttnkitError, match="never seen '42' in 'uno 42 dos'"):
        TASK.predict(run, ["uno 42 dos"])
    # allowed: translated exactly as the plain encode -> decode path does, 42 as <unk>
    (result,) = TASK.predict(run, ["uno 42 dos"], beam=1, allow_unknown=True)
    (hyp,) = tr.translate_ids([tr.src_tok.encode("uno 42 dos", add_eos=True)])
    assert result["translation"] == tr.tgt_tok.decode(hyp[0].tokens)
    assert "42" not in result["translation"]


def test_passthrough_bench_scores_each_run(copy_runs, tiny_translate_run, tmp_path, capsys):
    runs, _, _ = copy_runs
    pairs = tmp_path / "pairs.tsv"
    pairs.write_text("# two pairs\nuno 42 dos\tone 42 two\ntres Zoë 7\tthree Zoë 7\n")
    old = tiny_translate_run[0]
    argv = ["--model", str(runs["rnn"]), "--model", str(old), "--pairs", str(pairs)]
    assert main(["bench", "passthrough", *argv, "--out", str(tmp_path / "out")]) == 0
    record = json.loads((tmp_path / "out" / "passthrough-latest.json").read_text())
    by_model = {r["model"]: r for r in record["runs"].values()}  # keyed by folder name
    assert len(by_model) == 2 and set(record["runs"]) in (
        {runs["rnn"].name, old.name},
        set(by_model),
    )
    new, before = by_model[str(runs["rnn"])], by_model[str(old)]
    assert new["translations"] == ["one 42 two", "three Zoë 7"]
    assert (new["refused"], new["numbers"], new["number_share"]) == (0, 2, 1.0)
    assert (new["names"], new["name_share"], new["chrf"]) == (1, 1.0, 100.0)  # 3 words: no 4-gram
    assert new["placeholders"] and not before["placeholders"]
    assert (before["refused"], before["number_share"], before["translations"]) == (2, 0.0, ["", ""])
    assert "passthrough" in capsys.readouterr().out


def test_the_modern_set_keeps_its_numbers_in_the_references():
    pairs = passthrough.modern_pairs()
    assert len(pairs) >= 60
    sources, refs = [s for s, _ in pairs], [r for _, r in pairs]
    assert all(any(c.isdigit() for c in s) for s in sources)
    numbers, share = passthrough.number_share(sources, refs)
    assert numbers > 100 and share == 1.0  # a perfect translation keeps every number
    names, share = passthrough.name_share(sources, refs, refs)
    assert names >= 20 and share == 1.0


def test_bench_shares_against_hand_counts():
    assert passthrough.number_share(["3 y 30", "9:30"], ["3 and 3", "9.30"]) == (4, 0.75)
    src, ref, hyp = "Ana y Luis en 2020", "Ana and Luis in 2020", "Ana and Louis in 2020"
    assert passthrough.name_share([src], [ref], [hyp]) == (2, 0.5)  # 2020 is a number


def test_bench_bad_pairs_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.tsv"
    bad.write_text("no tab here\n")
    assert main(["bench", "passthrough", "--model", str(tmp_path), "--pairs", str(bad)]) == 1
    assert "bad.tsv line 1: expected source<TAB>reference" in capsys.readouterr().err


def test_a_bad_placeholder_rate_is_a_config_error():
    with pytest.raises(AttnkitError, match=r"data\.placeholder_rate must be in \[0, 1\], got 1\.5"):
        load_config(TASK.config_class, None, ["data.placeholder_rate=1.5"])
