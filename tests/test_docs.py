"""The code the docs quote is the code in the source files they name."""

import re
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
DOCS = [ROOT / "docs" / "EXTENDING.md"]
QUOTE = re.compile(r"```python\n# from (\S+)\n(.*?)```", re.S)


def _quotes():
    for doc in DOCS:
        for path, code in QUOTE.findall(doc.read_text(encoding="utf-8")):
            yield pytest.param(path, code, id=f"{doc.name}:{path}:{code.splitlines()[0].strip()}")


@pytest.mark.parametrize(("path", "code"), list(_quotes()))
def test_quoted_code_is_in_the_named_file(path, code):
    source = (ROOT / path).read_text(encoding="utf-8")
    assert code in source, f"the block quoted from {path} is not in it any more"


def test_the_docs_quote_some_code():
    assert len(list(_quotes())) >= 5
