"""Bible corpus: alignment, cleaning and the chapter split, on small synthetic modules."""

from __future__ import annotations

import random
from pathlib import Path

import pytest

from attnkit.data import bible
from attnkit.data.sword import write_ztext
from attnkit.errors import AttnkitError

BOOKS = {"Gen": 12, "Exod": 10, "Matt": 8}  # book -> chapters
SHIFTED = "Exod.4"  # the Spanish side of this chapter is one verse off


def make_texts(seed: int = 0) -> tuple[dict[str, str], dict[str, str]]:
    """Verse texts whose lengths vary a lot between verses but match across languages."""
    rng = random.Random(seed)
    es: dict[str, str] = {}
    en: dict[str, str] = {}
    for book, chapters in BOOKS.items():
        for c in range(1, chapters + 1):
            n_verses = rng.randint(6, 14)
            words = [rng.randint(3, 45) for _ in range(n_verses + 1)]
            for v in range(1, n_verses + 1):
                key = f"{book}.{c}.{v}"
                en[key] = " ".join(f"e{v}w{i}" for i in range(words[v - 1]))
                n_es = words[v] if f"{book}.{c}" == SHIFTED else words[v - 1]
                es[key] = " ".join(f"s{v}p{i}" for i in range(n_es))
    es["Gen.1.2"] = "   "  # empty on one side
    del en["Gen.2.3"]  # missing on one side
    es["Matt.1.1"] = "x" * 5000  # one verse far too long on one side
    return es, en


def test_align_drops_one_sided_shifted_and_outliers() -> None:
    es, en = make_texts()
    aligned = bible.align(es, en)
    keys = [k for k, _, _ in aligned.triples]
    assert "Gen.1.2" not in keys and "Gen.2.3" not in keys and "Matt.1.1" not in keys
    assert aligned.shifted_chapters == [SHIFTED]
    assert not any(bible.chapter_of(k) == SHIFTED for k in keys)
    assert aligned.stats["length_outliers"] == 1
    assert aligned.stats["common_verses"] == len(keys) + 1 + aligned.stats["shifted_pairs"]
    assert keys == [k for k in es if k in keys]  # source order kept
    for k, s, t in aligned.triples:
        assert (s, t) == (es[k], en[k])


def test_align_with_nothing_in_common() -> None:
    assert bible.align({"Gen.1.1": "a"}, {"Gen.1.2": "b"}).triples == []


def test_split_is_by_whole_chapter_and_deterministic() -> None:
    es, en = make_texts()
    triples = bible.align(es, en).triples
    splits = bible.split_pairs(triples, dev=0.15, test=0.15)
    where: dict[str, str] = {}
    for name, items in splits.items():
        for key, _, _ in items:
            assert key not in where, "a verse in two splits"
            where[key] = name
    assert len(where) == len(triples)
    by_chapter: dict[str, set[str]] = {}
    for key, name in where.items():
        by_chapter.setdefault(bible.chapter_of(key), set()).add(name)
    assert all(len(names) == 1 for names in by_chapter.values())
    assert all(splits[s] for s in ("train", "dev", "test"))
    # the same verses in another order (or a subset) land in the same splits
    shuffled = list(triples)
    random.Random(1).shuffle(shuffled)
    again = bible.split_pairs(shuffled[: len(shuffled) // 2], dev=0.15, test=0.15)
    for name, items in again.items():
        assert all(where[k] == name for k, _, _ in items)


def test_build_writes_loadable_files(tmp_path: Path) -> None:
    es, en = make_texts()
    counts = bible.build(es, en, tmp_path)
    total = 0
    for split in ("train", "dev", "test"):
        pairs = bible.load_pairs(tmp_path, split)
        keys = bible.load_keys(tmp_path, split)
        assert len(pairs) == len(keys) == counts[f"{split}_pairs"]
        for key, (s, t) in zip(keys, pairs, strict=True):
            assert (s, t) == (es[key], en[key])
        total += len(pairs)
    assert total == counts["pairs"]
    readme = (tmp_path / "README").read_text()
    assert f"pairs: {total}" in readme and SHIFTED in readme
    with pytest.raises(AttnkitError, match="unknown split"):
        bible.load_pairs(tmp_path, "validation")


def module_slots(texts: dict[str, str], books: list[str]) -> list[str]:
    """The slots of one testament, osis2mod style, from key -> plain text."""
    slots = ["", '<milestone type="x-importer"/>']
    for book in books:
        slots.append(f'<div osisID="{book}" sID="b{book}" type="book"/><title>{book}</title>')
        for c in range(1, BOOKS[book] + 1):
            slots.append(f'<chapter n="{c}" osisID="{book}.{c}" sID="{book}.{c}"/>')
            v = 1
            while f"{book}.{c}.{v}" in texts or f"{book}.{c}.{v + 1}" in texts:
                text = texts.get(f"{book}.{c}.{v}", "")
                slots.append(f'<w lemma="strong:H1">{text}</w><note>n</note>' if text else "")
                v += 1
    return slots


def fake_apt_download_extract(packages: list[str], dest: Path) -> Path:
    """Stands in for apt-get: unpacks two small modules where the packages would."""
    assert packages == ["sword-text-sparv", "sword-text-web"]
    es, en = make_texts()
    root = dest / "usr/share/sword"
    for name, texts in (("spaRV1909eb", es), ("engWEB2015eb", en)):
        data = root / f"modules/texts/ztext/{name.lower()}"
        write_ztext(data, "ot", module_slots(texts, ["Gen", "Exod"]), slots_per_block=7)
        write_ztext(data, "nt", module_slots(texts, ["Matt"]), slots_per_block=7)
        (root / "mods.d").mkdir(parents=True, exist_ok=True)
        (root / f"mods.d/{name.lower()}.conf").write_text(
            f"[{name}]\nDataPath=./modules/texts/ztext/{name.lower()}/\nModDrv=zText\n"
            "CompressType=ZIP\nEncoding=UTF-8\n",
            encoding="utf-8",
        )
    return dest


def test_fetch_end_to_end_without_network(tmp_path: Path, monkeypatch) -> None:
    import attnkit.data.fetch

    monkeypatch.setattr(attnkit.data.fetch, "apt_download_extract", fake_apt_download_extract)
    bible.fetch(tmp_path / "out")
    es, en = make_texts()
    expected = bible.align(es, en)
    got = [p for s in ("train", "dev", "test") for p in bible.load_pairs(tmp_path / "out", s)]
    assert sorted(got) == sorted((s, t) for _, s, t in expected.triples)
    assert f"pairs: {len(got)}" in (tmp_path / "out/README").read_text()


def test_restore_drop_caps_only_touches_chapter_openings() -> None:
    texts = {
        "Gen.1.1": "EN el principio crió Dios",
        "Gen.1.2": "Y la tierra: en Samuel",
        "Gen.2.1": "Y SAMUEL dijo",
        "Gen.3.1": "¡OH Jehová!",
        "Gen.4.1": "Y dijo Dios",  # a one-letter capital is not a drop cap
        "Gen.4.2": "ALEPH. JAH reina",  # not a chapter opening: unchanged
        "Gen.5.1": "ALEPH. Bienaventurados",
    }
    assert bible.restore_drop_caps(texts) == {
        "Gen.1.1": "En el principio crió Dios",
        "Gen.1.2": "Y la tierra: en Samuel",
        "Gen.2.1": "Y Samuel dijo",
        "Gen.3.1": "¡Oh Jehová!",
        "Gen.4.1": "Y dijo Dios",
        "Gen.4.2": "ALEPH. JAH reina",
        "Gen.5.1": "Aleph. Bienaventurados",
    }
