"""The README's Python example runs as written (its assert checks the KV cache too)."""

import re
from pathlib import Path

README = Path(__file__).parents[2] / "README.md"


def test_readme_python_blocks_run():
    blocks = re.findall(r"```python\n(.*?)```", README.read_text(), re.S)
    assert blocks, "the README has no python example"
    for block in blocks:
        exec(compile(block, str(README), "exec"), {})
