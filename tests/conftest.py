"""Shared test setup: one thread per worker (pytest-xdist runs two), fixed seeds."""

import os

import pytest
import torch

torch.set_num_threads(1)


@pytest.fixture(autouse=True)
def _isolated_home(tmp_path_factory, monkeypatch):
    """Keep every test's cache under a temporary ATTNKIT_HOME, never the user's."""
    monkeypatch.setenv("ATTNKIT_HOME", str(tmp_path_factory.mktemp("attnkit_home")))
    torch.manual_seed(0)
    yield


os.environ.setdefault("MPLBACKEND", "Agg")
