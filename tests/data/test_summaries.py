"""Summarization data: the Debian Translation-en and ACLSum corpora, the loader, the word
tokenizer, the pointer-generator vocabulary and the Lead baseline (no network: tiny inputs
written here, fetchers monkeypatched)."""

from __future__ import annotations

import gzip
import hashlib
import json
import lzma
import subprocess
from pathlib import Path

import pytest

from attnkit.data import aclsum, registry
from attnkit.data import debian_descriptions as dd
from attnkit.data.summaries import (
    CORPORA,
    SummaryPair,
    WordVocab,
    detokenize,
    lead,
    load_split,
    read_split,
    tokenize,
    write_split,
)
from attnkit.errors import AttnkitError
from attnkit.paths import dataset_dir
from attnkit.specials import BOS_ID, EOS_ID, SPECIAL_TOKENS, UNK_ID

# An excerpt in the format of bookworm's main/i18n/Translation-en (text from the real index;
# `zstd-doc` shares zstd's long description and `0ad` is listed twice, as in the archive).
TRANSLATION = """\
Package: zstd
Description-md5: d2e4d40bb07cc70b5a32d3b4a9b5f53d
Description-en: fast lossless compression algorithm -- CLI tool
 Zstd, short for Zstandard, is a fast lossless compression algorithm, targeting
 real-time compression scenarios at zlib-level compression ratio.
 .
 This package contains the CLI program implementing zstd.

Package: python3-requests
Description-md5: c784619fd7d31bcb61523fcc12d2d199
Description-en: elegant and simple HTTP library for Python3, built for human beings
 Requests allow you to send HTTP/1.1 requests. You can add headers, form data,
 multipart files, and parameters with simple Python dictionaries.
 .
 Features
 .
   - International Domains and URLs
   - Keep-Alive & Connection Pooling

Package: 0ad
Description-md5: d943033bedada21853d2ae54a2578a7b
Description-en: Real-time strategy game of ancient warfare
 0 A.D. (pronounced "zero ey-dee") is a free, open-source, cross-platform
 real-time strategy (RTS) game of ancient warfare.

Package: libempty0
Description-md5: 00000000000000000000000000000000
Description-en: a package with a synopsis only

Package: 0ad
Description-md5: 11111111111111111111111111111111
Description-en: a second description of the same package name
 It is dropped: one pair per package name.

Package: zstd-doc
Description-md5: 22222222222222222222222222222222
Description-en: documentation for zstd
 Zstd, short for Zstandard, is a fast lossless compression algorithm, targeting
 real-time compression scenarios at zlib-level compression ratio.
 .
 This package contains the CLI program implementing zstd.
"""

ZSTD_DOC = (
    "Zstd, short for Zstandard, is a fast lossless compression algorithm, targeting real-time "
    "compression scenarios at zlib-level compression ratio. This package contains the CLI "
    "program implementing zstd."
)


# --------------------------------------------------------------------------- Translation-en


def test_parse_translation_joins_lines_and_paragraphs():
    entries = dd.parse_translation(TRANSLATION)
    assert [e[0] for e in entries] == [
        "zstd",
        "python3-requests",
        "0ad",
        "libempty0",
        "0ad",
        "zstd-doc",
    ]
    by_name = {e[0]: e for e in entries[:4]}
    assert by_name["zstd"] == ("zstd", "fast lossless compression algorithm -- CLI tool", ZSTD_DOC)
    # " ." breaks and verbatim (extra-indented) list lines become plain running text
    assert by_name["python3-requests"][2] == (
        "Requests allow you to send HTTP/1.1 requests. You can add headers, form data, multipart "
        "files, and parameters with simple Python dictionaries. Features - International "
        "Domains and URLs - Keep-Alive & Connection Pooling"
    )
    assert by_name["libempty0"][2] == ""


def test_make_pairs_filters_deduplicates_and_sorts():
    splits, counts = dd.make_pairs(dd.parse_translation(TRANSLATION))
    pairs = sorted((p for v in splits.values() for p in v), key=lambda p: p.id)
    # libempty0: no long description; zstd-doc: zstd's description, and zstd sorts first;
    # the second 0ad: a name already taken
    assert [p.id for p in pairs] == ["0ad", "python3-requests", "zstd"]
    assert pairs[2] == SummaryPair(
        "zstd", ZSTD_DOC, "fast lossless compression algorithm -- CLI tool"
    )
    assert pairs[0].summary == "Real-time strategy game of ancient warfare"
    assert counts["descriptions"] == 6
    assert counts["no_long_description"] == 1
    assert counts["duplicate_description"] == 1
    assert counts["repeated_package"] == 1
    for split, items in splits.items():
        assert [p.id for p in items] == sorted(p.id for p in items)
        assert counts[f"{split}_pairs"] == len(items)


def _bucket(text: str) -> int:
    return int(hashlib.sha1(text.encode("utf-8")).hexdigest(), 16) % 20


def _document_in_bucket(bucket: int) -> str:
    return next(
        f"Document number {i}." for i in range(10_000) if _bucket(f"Document number {i}.") == bucket
    )


@pytest.mark.parametrize(
    ("bucket", "split"), [(0, "test"), (1, "dev"), (2, "train"), (19, "train")]
)
def test_split_is_sha1_of_the_document_mod_20(bucket, split):
    doc = _document_in_bucket(bucket)
    assert dd.split_of(doc) == split
    splits, _ = dd.make_pairs([("pkg", "a synopsis", doc)])
    assert [p.id for p in splits[split]] == ["pkg"]


def test_split_fractions_are_about_5_5_90():
    docs = [f"description {i}" for i in range(4000)]
    share = {
        s: sum(dd.split_of(d) == s for d in docs) / len(docs) for s in ("train", "dev", "test")
    }
    assert 0.04 < share["test"] < 0.06 and 0.04 < share["dev"] < 0.06


def test_build_writes_jsonl_and_readme(tmp_path):
    counts = dd.build(TRANSLATION, tmp_path, source="mirror bookworm/main", date="Sat, 1 Jan")
    rows = []
    for split in ("train", "dev", "test"):
        lines = (tmp_path / f"{split}.jsonl").read_text(encoding="utf-8").splitlines()
        rows += [json.loads(line) for line in lines]
        assert len(lines) == counts[f"{split}_pairs"]
    assert sorted(r["id"] for r in rows) == ["0ad", "python3-requests", "zstd"]
    assert set(rows[0]) == {"id", "document", "summary"}
    readme = (tmp_path / "README.txt").read_text()
    assert "mirror bookworm/main" in readme and "Sat, 1 Jan" in readme and "pairs: 3" in readme


def test_build_rejects_an_index_without_long_descriptions(tmp_path):
    with pytest.raises(AttnkitError, match="no package with a long description"):
        dd.build("Package: a\nDescription-en: only a synopsis\n", tmp_path)


# --------------------------------------------------------------------------- apt


def test_machine_source_deb822_main_suite_only(tmp_path):
    (tmp_path / "sources.list.d").mkdir()
    (tmp_path / "sources.list.d" / "debian.sources").write_text(
        "# a comment\n"
        "Types: deb deb-src\n"
        "URIs: http://mirror.example/debian\n"
        "Suites: bookworm-updates bookworm\n"
        "Components: main contrib\n"
        "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg\n"
        "\n"
        "Types: deb\n"
        "URIs: http://mirror.example/debian-security\n"
        "Suites: bookworm-security\n"
        "Components: main\n"
    )
    (tmp_path / "sources.list.d" / "other.list.disabled").write_text(
        "deb http://elsewhere.example/debian sid main\n"
    )
    src = dd.machine_source(tmp_path)
    assert (src.uri, src.suite) == ("http://mirror.example/debian", "bookworm")
    assert "Components: main\n" in src.text and "contrib" not in src.text
    assert "Suites: bookworm\n" in src.text and "updates" not in src.text
    assert "Signed-By: /usr/share/keyrings/debian-archive-keyring.gpg" in src.text
    assert "Types: deb\n" in src.text and "deb-src" not in src.text


def test_machine_source_one_line_format_keeps_the_key(tmp_path):
    (tmp_path / "sources.list").write_text(
        "deb http://security.example/debian-security bookworm-security main\n"
        "# deb http://commented.example/debian bookworm main\n"
        "deb [arch=amd64 signed-by=/k.gpg] http://mirror.example/debian stable main non-free\n"
    )
    src = dd.machine_source(tmp_path)
    assert (src.uri, src.suite) == ("http://mirror.example/debian", "stable")
    assert "Signed-By: /k.gpg" in src.text and "Architectures: amd64" in src.text


def test_machine_source_without_a_main_suite(tmp_path):
    (tmp_path / "sources.list").write_text("deb http://x.example/debian bookworm-updates main\n")
    with pytest.raises(AttnkitError, match="no Debian source"):
        dd.machine_source(tmp_path)


@pytest.mark.parametrize("suffix", ["", ".gz", ".xz"])
def test_download_translation_runs_apt_in_its_own_folders(tmp_path, monkeypatch, suffix):
    seen = {}

    def fake_apt(cmd, **kwargs):
        seen["cmd"] = cmd
        opts = dict(cmd[i + 1].split("=", 1) for i, c in enumerate(cmd) if c == "-o")
        lists = Path(opts["Dir::State::Lists"])
        name = lists / f"mirror_debian_dists_bookworm_main_i18n_Translation-en{suffix}"
        data = TRANSLATION.encode()
        name.write_bytes(
            gzip.compress(data) if suffix == ".gz" else lzma.compress(data) if suffix else data
        )
        (lists / "mirror_debian_dists_bookworm_InRelease").write_text("Date: Sat, 1 Jan 2026\n")
        return subprocess.CompletedProcess(cmd, 0, "", "")

    monkeypatch.setattr(dd.subprocess, "run", fake_apt)
    src = dd.AptSource("http://mirror.example/debian", "bookworm", "Types: deb\n")
    text, date = dd.download_translation(src, tmp_path)
    assert text == TRANSLATION and date == "Sat, 1 Jan 2026"
    cmd = seen["cmd"]
    assert cmd[:2] == ["apt-get", "update"]
    assert "Acquire::Languages=en" in cmd
    assert f"Dir::State={tmp_path / 'state'}" in cmd  # never the machine's /var/lib/apt
    assert f"Dir::Etc::SourceParts={tmp_path / 'etc/sources.list.d'}" in cmd
    assert (tmp_path / "etc/sources.list.d/attnkit.sources").read_text() == "Types: deb\n"


def test_download_translation_reports_apt_failure(tmp_path, monkeypatch):
    monkeypatch.setattr(
        dd.subprocess, "run", lambda cmd, **kw: subprocess.CompletedProcess(cmd, 100, "", "E: 404")
    )
    src = dd.AptSource("http://mirror.example/debian", "bookworm", "Types: deb\n")
    with pytest.raises(AttnkitError, match=r"could not fetch bookworm/main Translation-en.*E: 404"):
        dd.download_translation(src, tmp_path)


def test_fetch_through_the_registry_then_load_split(monkeypatch):
    src = dd.AptSource("http://mirror.example/debian", "bookworm", "Types: deb\n")
    monkeypatch.setattr(dd, "machine_source", lambda: src)
    monkeypatch.setattr(dd, "download_translation", lambda s, into: (TRANSLATION, "today"))
    folder = registry.fetch("debian-descriptions")
    assert folder == dataset_dir("debian-descriptions")
    got = {p.id for s in ("train", "dev", "test") for p in load_split("debian-descriptions", s)}
    assert got == {"0ad", "python3-requests", "zstd"}
    assert "http://mirror.example/debian bookworm/main" in (folder / "README.txt").read_text()


# --------------------------------------------------------------------------- ACLSum

PAPER = {
    "id": "P06-1112",
    "title": "Exploring Correlation of Dependency Relation Paths",
    "summary": {
        "challenge": "NER  misses answers.",
        "approach": "They rank answers by path correlation.",
        "outcome": "It beats baselines by 20%.",
    },
    "sentences": {
        "abstract": ["In this paper , we rank answers .", "Results improve by 20 % ."],
        "introduction": ["NER ca n't find all answers ( QA ) ."],
        "conclusion": ['We used the " MUC " NER .'],
    },
    "highlights": {
        "challenge": {"abstract": [0, 0], "introduction": [1], "conclusion": [0]},
        "approach": {"abstract": [1, 0], "introduction": [0], "conclusion": [1]},
        "outcome": {"abstract": [0, 1], "introduction": [0], "conclusion": [0]},
    },
}


def test_untokenize_ptb():
    assert aclsum.untokenize_ptb("In this paper , we ca n't use it ( QA ) .") == (
        "In this paper, we can't use it (QA)."
    )
    assert aclsum.untokenize_ptb('the " MUC " NER \'s output , 20 % .') == (
        'the "MUC" NER\'s output, 20%.'
    )


def test_aclsum_one_pair_per_aspect_from_its_highlights():
    pairs = aclsum.paper_pairs(PAPER)
    assert [p.id for p in pairs] == ["P06-1112/challenge", "P06-1112/approach", "P06-1112/outcome"]
    assert pairs[0].document == "NER can't find all answers (QA)."
    assert pairs[1].document == 'In this paper, we rank answers. We used the "MUC" NER.'
    assert pairs[2].document == "Results improve by 20%."
    assert pairs[0].summary == "NER misses answers."  # whitespace collapsed


def test_aclsum_rejects_labels_that_do_not_match_sentences():
    bad = json.loads(json.dumps(PAPER))
    bad["highlights"]["outcome"]["abstract"] = [1]
    with pytest.raises(AttnkitError, match="2 abstract sentences but 1 outcome"):
        aclsum.paper_pairs(bad)
    del bad["summary"]
    with pytest.raises(AttnkitError, match="P06-1112"):
        aclsum.paper_pairs(bad)


def _write_package(root: Path) -> Path:
    data = root / "aclsum" / "dataset"
    data.mkdir(parents=True)
    for name, n in (("train", 2), ("val", 1), ("test", 1)):
        papers = [dict(PAPER, id=f"{name}-{i}") for i in range(n)]
        (data / f"{name}.jsonl").write_text("\n".join(json.dumps(p) for p in papers))
    return root


def test_aclsum_fetch_keeps_the_package_split(monkeypatch):
    import attnkit.data.fetch as fetch_mod

    def fake_pip(requirement, dest):
        assert requirement == "aclsum==0.1.2"
        return _write_package(dest)

    monkeypatch.setattr(fetch_mod, "pip_download_extract", fake_pip)
    train = load_split("aclsum", "train")
    assert [p.id for p in train][:4] == [
        "train-0/challenge",
        "train-0/approach",
        "train-0/outcome",
        "train-1/challenge",
    ]
    assert len(train) == 6
    assert {p.id.split("/")[0] for p in load_split("aclsum", "dev")} == {"val-0"}
    readme = (dataset_dir("aclsum") / "README.txt").read_text()
    assert "train_pairs: 6" in readme and "dev_papers: 1" in readme


def test_aclsum_build_needs_every_split(tmp_path):
    root = _write_package(tmp_path / "pkg")
    (root / "aclsum/dataset/val.jsonl").unlink()
    with pytest.raises(AttnkitError, match=r"no val\.jsonl"):
        aclsum.build(root / "aclsum/dataset", tmp_path)


# --------------------------------------------------------------------------- loading


def test_every_corpus_is_registered():
    assert set(CORPORA) == {"debian-descriptions", "aclsum", "manpages"}
    for name in CORPORA.values():
        assert name in registry.DATASETS


def _no_download(monkeypatch):
    for module in (aclsum, dd):
        monkeypatch.setattr(module, "fetch", lambda dest: pytest.fail("must not download"))


def test_load_split_errors(monkeypatch):
    _no_download(monkeypatch)
    with pytest.raises(
        AttnkitError, match=r"unknown summarization corpus 'cnn'.*debian-descriptions"
    ):
        load_split("cnn", "train")
    with pytest.raises(AttnkitError, match=r"unknown split 'validation'.*train, dev, test"):
        load_split("aclsum", "validation")


def test_load_split_reads_the_cache_without_fetching(monkeypatch):
    folder = dataset_dir("aclsum")
    folder.mkdir(parents=True)
    pairs = [SummaryPair("a/challenge", "Doc \u00e9 one.", "Sum one."), SummaryPair("b", "D", "S")]
    assert write_split(folder, "test", pairs) == 2
    _no_download(monkeypatch)
    assert load_split("aclsum", "test") == pairs
    with pytest.raises(AttnkitError, match="split missing"):
        read_split(folder, "dev")
    (folder / "dev.jsonl").write_text('{"id": "x", "document": "d"}\n')
    with pytest.raises(AttnkitError, match=r"dev\.jsonl:1 is not a summary pair"):
        read_split(folder, "dev")


# --------------------------------------------------------------------------- tokenize


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        (
            "libfoo-dev 2.0.1: the C++ API (v3), it's fast.",
            [
                "libfoo-dev",
                "2.0.1",
                ":",
                "the",
                "C++",
                "API",
                "(",
                "v3",
                ")",
                ",",
                "it's",
                "fast",
                ".",
            ],
        ),
        (
            "Perl's Foo::Bar and GTK+ for C#.",
            ["Perl's", "Foo::Bar", "and", "GTK+", "for", "C#", "."],
        ),
        ("see /usr/share/doc/ or ~/.config", ["see", "/usr/share/doc/", "or", "~/.config"]),
        ("a .deb file; use --help", ["a", ".deb", "file", ";", "use", "--help"]),
        (
            "Home: <https://example.org/a_b?x=1>.",
            ["Home", ":", "<", "https://example.org/a_b?x=1", ">", "."],
        ),
        ("libstdc++-v3 and C++11, TCP/IP", ["libstdc++-v3", "and", "C++11", ",", "TCP/IP"]),
        ("Microsoft(R) file(s) in O(1)", ["Microsoft(R)", "file(s)", "in", "O(1)"]),
        ("32- and 64-bit R&D", ["32-", "and", "64-bit", "R&D"]),
        ("wait... x -> y -- z", ["wait", "...", "x", "->", "y", "--", "z"]),
        ("Ünïcode wörds 12:30", ["Ünïcode", "wörds", "12:30"]),
        ("", []),
    ],
)
def test_tokenize(text, tokens):
    assert tokenize(text) == tokens


@pytest.mark.parametrize(
    "text",
    [
        "libfoo-dev 2.0.1: the C++ API (v3), it's fast.",
        '0 A.D. (pronounced "zero ey-dee") is a free, open-source, cross-platform game.',
        "Requests allow you to send HTTP/1.1 requests; see https://requests.readthedocs.io!",
        "It supports [optional] {braces}, 100% coverage and e.g. Python 3.11 -> 3.12?",
        "Features: Keep-Alive & Connection Pooling, Sessions with Cookie Persistence.",
    ],
)
def test_detokenize_inverts_tokenize(text):
    assert detokenize(tokenize(text)) == text


def test_detokenize_spacing_rules():
    assert detokenize(["a", ",", "b", ".", "c", ";", "d", ":", "e", "!", "f", "?"]) == (
        "a, b. c; d: e! f?"
    )
    assert detokenize(["(", "x", ")", "[", "y", "]"]) == "(x) [y]"
    assert detokenize(["say", '"', "hi", '"', "and", '"', "bye", '"', "."]) == 'say "hi" and "bye".'
    assert detokenize([]) == ""


# --------------------------------------------------------------------------- vocabulary

DOCS = [
    ["the", "cat", "sat", "on", "the", "mat"],
    ["the", "dog", "sat"],
    ["a", "cat", "ran"],
]


def test_vocab_build_order_is_count_then_alphabetical():
    vocab = WordVocab.build(DOCS, max_size=100)
    assert vocab.words[:4] == list(SPECIAL_TOKENS)
    assert vocab.words[4:] == ["the", "cat", "sat", "a", "dog", "mat", "on", "ran"]
    assert WordVocab.build(reversed(DOCS), max_size=100) == vocab  # input order does not matter


def test_vocab_build_max_size_and_min_count():
    assert WordVocab.build(DOCS, max_size=6).words[4:] == ["the", "cat"]
    assert len(WordVocab.build(DOCS, max_size=6)) == 6
    assert WordVocab.build(DOCS, max_size=100, min_count=2).words[4:] == ["the", "cat", "sat"]
    with pytest.raises(ValueError, match="max_size"):
        WordVocab.build(DOCS, max_size=4)
    with pytest.raises(ValueError, match="min_count"):
        WordVocab.build(DOCS, max_size=10, min_count=0)


def test_vocab_never_holds_specials_twice_and_checks_its_words():
    vocab = WordVocab.build([["<unk>", "<s>", "x"]], max_size=10)
    assert vocab.words == [*SPECIAL_TOKENS, "x"]
    with pytest.raises(ValueError, match="start with"):
        WordVocab(["x", "y"])
    with pytest.raises(ValueError, match="twice"):
        WordVocab([*SPECIAL_TOKENS, "x", "x"])


def test_vocab_save_load(tmp_path):
    vocab = WordVocab.build(DOCS, max_size=100)
    vocab.save(tmp_path / "vocab.json")
    back = WordVocab.load(tmp_path / "vocab.json")
    assert back == vocab and back.id("cat") == vocab.id("cat") == 5


def test_vocab_ids():
    vocab = WordVocab.build(DOCS, max_size=100)
    assert vocab.id("the") == 4 and vocab.id("zebra") == UNK_ID
    assert vocab.encode_plain(["the", "zebra", "cat", "ran"], max_len=3) == [4, UNK_ID, 5]


def test_encode_source_extended_ids():
    vocab = WordVocab.build(DOCS, max_size=100)
    n = len(vocab)  # 12
    ids, oovs = vocab.encode_source(["the", "zebra", "sat", "libfoo", "zebra", "cat"], max_len=10)
    assert oovs == ["zebra", "libfoo"]
    assert ids == [4, n, 6, n + 1, n, 5]  # a repeated OOV keeps its id
    ids, oovs = vocab.encode_source(["the", "zebra", "sat", "libfoo"], max_len=2)
    assert (ids, oovs) == ([4, n], ["zebra"])  # truncated before libfoo: not an OOV


def test_encode_target_points_at_source_oovs_only():
    vocab = WordVocab.build(DOCS, max_size=100)
    n = len(vocab)
    _, oovs = vocab.encode_source(["zebra", "the", "libfoo"], max_len=10)
    target = vocab.encode_target(["libfoo", "cat", "unicorn", "zebra", "the"], oovs, max_len=4)
    assert target == [n + 1, 5, UNK_ID, n]


def test_decode_round_trip_and_out_of_range_ids():
    vocab = WordVocab.build(DOCS, max_size=100)
    source = ["the", "zebra", "sat", "on", "libfoo-dev"]
    ids, oovs = vocab.encode_source(source, max_len=10)
    assert vocab.decode(ids, oovs) == source
    target = ["libfoo-dev", "sat", "zebra", "unicorn"]
    assert vocab.decode(vocab.encode_target(target, oovs, 10), oovs) == [
        "libfoo-dev",
        "sat",
        "zebra",
        "<unk>",
    ]
    n = len(vocab)
    assert vocab.decode([BOS_ID, n + 2, -1, EOS_ID], oovs) == ["<s>", "<unk>", "<unk>", "</s>"]


# --------------------------------------------------------------------------- Lead


@pytest.mark.parametrize(
    ("document", "first"),
    [
        ("A tool for X. It is fast.", "A tool for X."),
        (
            "Version 2.0 of libfoo. e.g. lower case. Then more.",
            "Version 2.0 of libfoo. e.g. lower case.",
        ),
        ("Is it fast? Yes! Very.", "Is it fast?"),
        ("No sentence end here", "No sentence end here"),
        ("Ends at the end.", "Ends at the end."),
        ("0 A.D. (pronounced zero) is a game.  It is free.", "0 A.D. (pronounced zero) is a game."),
        ("Wow!   Great.", "Wow!"),
    ],
)
def test_lead_first_sentence(document, first):
    assert lead(document) == first


def test_lead_n_words():
    doc = "libfoo-dev (v3) is the C++ API, version 2.0.1."
    assert lead(doc, n_words=4) == "libfoo-dev (v3)"
    assert lead(doc, n_words=100) == doc
    assert lead(doc, n_words=0) == ""
    with pytest.raises(ValueError, match="n_words"):
        lead(doc, n_words=-1)
