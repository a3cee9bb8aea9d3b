"""load_config on random YAML files and ``key=value`` overrides, for every task's config: a
config of the right class, or an AttnkitError; never another exception.

Valid overrides must land: a value of a field's own type is read back as that value.
"""

from __future__ import annotations

import math
from typing import Any

import pytest
import yaml
from hypothesis import event, example, given
from hypothesis import strategies as st

from attnkit.config import _field_types, _nested_dataclass, load_config
from attnkit.errors import AttnkitError
from attnkit.paths import repo_configs_dir
from attnkit.tasks import TASKS, get_task

from .strategies import broken_bytes, nasty_text

TASK_NAMES = sorted(TASKS)


def _leaves(cls: type, prefix: str = "") -> dict[str, Any]:
    """Dotted key -> field type of every leaf of a config dataclass."""
    out: dict[str, Any] = {}
    for key, tp in _field_types(cls).items():
        sub = _nested_dataclass(tp)
        out.update(_leaves(sub, f"{prefix}{key}.") if sub else {f"{prefix}{key}": tp})
    return out


LEAVES = {name: _leaves(get_task(name).config_class) for name in TASK_NAMES}
ALL_KEYS = sorted({k for leaves in LEAVES.values() for k in leaves})
SECTIONS = sorted({k.rpartition(".")[0] for k in ALL_KEYS if "." in k})
NAMES = sorted({part for key in ALL_KEYS for part in key.split(".")})  # "train", "lr", ...

_SCALARS = st.one_of(
    st.none(),
    st.booleans(),
    st.integers(-(2**70), 2**70),
    st.sampled_from([10**400, -(10**400), 2**63]),
    st.floats(allow_nan=True, allow_infinity=True),
    nasty_text(max_size=20, surrogates=False),
)
_VALUES = st.recursive(
    _SCALARS,
    lambda inner: st.lists(inner, max_size=3) | st.dictionaries(st.sampled_from(NAMES), inner),
    max_leaves=6,
)
_ODD_YAML = [
    "", "[", "{", "]", "'", '"', "&a [*a]", "*x", "!!python/object:os.system", "!!binary AA",
    "1" + "0" * 400, "1e400", "-.inf", ".nan", "~", "- x", "a: b", "0x1F", "0o17", "1_000",
    "2001-12-14", "yes", "on", "null", "\t", "[" * 200, "x\ny: [",
]  # fmt: skip
_RAW_VALUES = st.one_of(
    _VALUES.map(lambda v: yaml.safe_dump(v, default_flow_style=True).strip()),
    st.sampled_from(_ODD_YAML),
    nasty_text(max_size=20, surrogates=False),
)
_KEYS = st.one_of(
    st.sampled_from(ALL_KEYS), st.sampled_from(SECTIONS), nasty_text(max_size=15, surrogates=False)
)
_OVERRIDES = st.lists(
    st.one_of(st.tuples(_KEYS, _RAW_VALUES).map("=".join), nasty_text(max_size=15)), max_size=4
)


def _get(cfg: Any, dotted: str) -> Any:
    for part in dotted.split("."):
        cfg = getattr(cfg, part)
    return cfg


def _load(name: str, path, overrides: list[str]) -> Any:
    cls = get_task(name).config_class
    try:
        cfg = load_config(cls, path, overrides)
    except AttnkitError as e:
        assert str(e)
        event("AttnkitError")
        return None
    assert isinstance(cfg, cls)
    event("a config")
    return cfg


@given(name=st.sampled_from(TASK_NAMES), overrides=_OVERRIDES, from_file=st.booleans())
@example(name="translate", overrides=["train.lr=" + "1" * 400], from_file=False)  # > max float
@example(name="translate", overrides=["train.lr=["], from_file=False)  # invalid YAML
def test_random_overrides_give_a_config_or_a_clear_error(name, overrides, from_file):
    path = repo_configs_dir() / get_task(name).default_config if from_file else None
    _load(name, path, overrides)


@given(name=st.sampled_from(TASK_NAMES), data=st.data())
def test_mutated_config_files_give_a_config_or_a_clear_error(tmp_path, name, data):
    valid = (repo_configs_dir() / get_task(name).default_config).read_bytes()
    path = tmp_path / "config.yaml"
    path.write_bytes(data.draw(broken_bytes(valid)))
    _load(name, path, data.draw(_OVERRIDES))


@pytest.mark.parametrize(
    ("content", "overrides", "message"),
    [
        (b"- a list\n- not a mapping\n", ["train.lr=0.1"], "expected a mapping of keys"),
        (b"train: 5\n", ["train.lr=0.1"], "'train' is 5, not a section"),
        (b"train: {lr: \xff}\n", [], "is not UTF-8 text"),
        (b"[" * 1000, [], "invalid YAML"),  # deeper than the YAML parser recurses
        (b"train: {lr: 1" + b"0" * 400 + b"}\n", [], "train.lr: an integer too large"),
        (b"train: {}\n", ["train.lr=["], "invalid YAML in override 'train.lr=\\['"),
    ],
)
def test_inputs_that_crashed_load_config_are_clear_errors(tmp_path, content, overrides, message):
    path = tmp_path / "config.yaml"
    path.write_bytes(content)
    with pytest.raises(AttnkitError, match=message):
        load_config(get_task("translate").config_class, path, overrides)


def test_an_empty_section_in_the_file_takes_overrides(tmp_path):
    path = tmp_path / "config.yaml"
    path.write_text("train:\n")
    cfg = load_config(get_task("translate").config_class, path, ["train.lr=0.5"])
    assert cfg.train.lr == 0.5


@given(
    name=st.sampled_from(TASK_NAMES),
    content=st.one_of(_VALUES, st.dictionaries(st.sampled_from(SECTIONS), _VALUES, max_size=4)),
    overrides=_OVERRIDES,
)
def test_random_yaml_documents_give_a_config_or_a_clear_error(tmp_path, name, content, overrides):
    path = tmp_path / "config.yaml"
    path.write_text(yaml.safe_dump(content), encoding="utf-8")
    _load(name, path, overrides)


def _typed_values(tp: Any) -> st.SearchStrategy[Any]:
    """Values a field of type ``tp`` holds (for the simple types configs use)."""
    options = {
        bool: st.booleans(),
        int: st.integers(-(10**12), 10**12),
        float: st.floats(allow_nan=False, allow_infinity=False, width=32),
        str: st.from_regex(r"[A-Za-z][A-Za-z0-9_-]{0,10}", fullmatch=True),
    }
    args = [a for a in getattr(tp, "__args__", (tp,)) if a is not type(None)]
    if getattr(tp, "__origin__", None) is not None and all(isinstance(a, str) for a in args):
        return st.sampled_from(args)  # a Literal
    return st.one_of(*[_typed_values(a) if hasattr(a, "__args__") else options[a] for a in args])


@given(data=st.data(), name=st.sampled_from(TASK_NAMES))
def test_a_value_of_the_fields_type_is_read_back(data, name):
    key, tp = data.draw(st.sampled_from(sorted(LEAVES[name].items())))
    value = data.draw(_typed_values(tp))
    raw = yaml.safe_dump(value, default_flow_style=True).removesuffix("\n...\n").strip()
    cfg = _load(name, None, [f"{key}={raw}"])
    if cfg is None:  # a value the config's own checks refuse (a negative size, say)
        return
    got = _get(cfg, key)
    assert got == value or (isinstance(value, float) and math.isclose(got, value)), (got, value)


@pytest.mark.parametrize("name", TASK_NAMES)
def test_each_default_config_loads(name):
    task = get_task(name)
    cfg = load_config(task.config_class, repo_configs_dir() / task.default_config)
    assert isinstance(cfg, task.config_class)
