"""Every figure in the README comes from benchmarks/measured/ (benchmarks/readme_figures.py)."""

import importlib.util
from pathlib import Path

import pytest

ROOT = Path(__file__).parents[1]
spec = importlib.util.spec_from_file_location(
    "readme_figures", ROOT / "benchmarks" / "readme_figures.py"
)
figures = importlib.util.module_from_spec(spec)
spec.loader.exec_module(figures)


def test_the_readme_agrees_with_the_measured_records():
    text = (ROOT / "README.md").read_text(encoding="utf-8")
    assert figures.MARKED.findall(text), "no measured figure in the README"
    assert figures.check(text) == []


@pytest.mark.parametrize(
    ("snippet", "problem"),
    [
        ("SE: <!--fig classify:summary/se_resnet20/mean-->94.03", "but classify"),
        (
            "SE: <!--fig classify:summary/se_resnet20/nope-->94.02",
            "has no summary/se_resnet20/nope",
        ),
        ("SE: <!--fig nosuch:a/b-->1.0", "no benchmarks/measured/nosuch.json"),
        ("every seed within 0.07 of 94.0", "unmarked figure '0.07'"),
        ("epochs x1.21 (137 vs 113 s)", "unmarked figure 'x1.21'"),
        ("a share of 87% of the weight", "unmarked figure '87%'"),
        ("26,289 verse pairs", "unmarked figure '26,289'"),
    ],
)
def test_a_figure_without_its_record_is_caught(snippet, problem):
    assert any(problem in p for p in figures.check(snippet))


def test_the_same_value_formatted_as_written():
    assert figures._format_like(0.12000203, "+0.12") == "+0.12"
    assert figures._format_like(26289, "26,289") == "26,289"
    assert figures._format_like(5.96e-6, "6.0e-6") == "6.0e-6"
    text = "x <!--fig classify:summary/se_resnet20/mean-->1.00 y"
    assert figures.render(text) == "x <!--fig classify:summary/se_resnet20/mean-->94.02 y"
