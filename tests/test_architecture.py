"""The layering of ARCHITECTURE.md, checked on the imports of every module (read with ast).

data -> models (built from attention) -> training / decoding -> tasks -> cli / serve: a module
never imports one of a higher layer, a model never reads a file (never imports data), and
only the CLI knows typer.
"""

import ast
from pathlib import Path

import pytest

SRC = Path(__file__).parents[1] / "src" / "attnkit"

# lower number = lower layer; a module may import its own layer and the ones below
LAYERS = {
    "errors": 0, "specials": 0, "paths": 0, "fileio": 0, "log": 0,
    "attention": 1,
    "models": 2, "data": 2, "metrics": 2, "config": 2,
    "decoding": 3, "training": 3, "viz": 3, "export": 3,
    "tasks": 4,
    "serve": 5, "bench": 5,
    "cli": 6,
}  # fmt: skip
FORBIDDEN = {("models", "data"), ("attention", "models")}


def _unit(module: str) -> str:
    """``attnkit.data.text`` -> ``data``."""
    return module.split(".")[1] if module.count(".") else module


def _imports(path: Path) -> list[tuple[int, str]]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    found = []
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.module and node.level == 0:
            found.append((node.lineno, node.module))
    return found


MODULES = sorted(p for p in SRC.rglob("*.py"))


def test_every_top_level_unit_has_a_layer():
    units = {p.relative_to(SRC).parts[0].removesuffix(".py") for p in MODULES}
    assert units - {"__init__"} == set(LAYERS)


@pytest.mark.parametrize("path", MODULES, ids=lambda p: str(p.relative_to(SRC)))
def test_imports_flow_downward_only(path):
    unit = path.relative_to(SRC).parts[0].removesuffix(".py")
    if unit == "__init__":
        return
    for line, module in _imports(path):
        if module == "typer" or module.startswith("typer."):
            assert unit == "cli", f"{path}:{line} imports typer outside attnkit.cli"
        if not module.startswith("attnkit.") or module == "attnkit":
            continue
        target = _unit(module)
        assert LAYERS[target] <= LAYERS[unit], f"{path}:{line}: {unit} imports {module}"
        assert (unit, target) not in FORBIDDEN, f"{path}:{line}: {unit} imports {module}"


def test_the_data_registry_names_only_data_modules():
    """Fetchers are ``module:function`` inside attnkit.data, and every one resolves."""
    import importlib

    from attnkit.data.registry import DATASETS

    for name, spec in DATASETS.items():
        module, func = spec.fetcher.split(":")
        assert "." not in module, name
        assert callable(getattr(importlib.import_module(f"attnkit.data.{module}"), func)), name


def test_one_table_of_special_ids():
    """No module but attnkit.specials assigns the ids 0-3 to a special-token name."""
    names = {"PAD", "UNK", "BOS", "EOS", "PAD_ID", "UNK_ID", "BOS_ID", "EOS_ID"}
    offenders = []
    for path in MODULES:
        if path.name == "specials.py":
            continue
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Assign):
                targets = [t.id for t in node.targets if isinstance(t, ast.Name)]
                targets += [
                    e.id
                    for t in node.targets
                    if isinstance(t, ast.Tuple)
                    for e in t.elts
                    if isinstance(e, ast.Name)
                ]
                offenders += [f"{path}:{node.lineno} {t}" for t in targets if t in names]
            literal = isinstance(node, ast.keyword) and isinstance(node.value, ast.Constant)
            if literal and node.arg in ("bos_id", "eos_id"):
                offenders.append(f"{path}:{node.value.lineno} {node.arg}={node.value.value}")
    assert not offenders, offenders
