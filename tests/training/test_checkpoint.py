import pytest
import torch

from attnkit.errors import AttnkitError
from attnkit.training.checkpoint import (
    average_states,
    load_into,
    load_model_state,
    save_model,
)
from attnkit.training.state import flatten, unflatten


class Tied(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.emb = torch.nn.Embedding(5, 3)
        self.out = torch.nn.Linear(3, 5, bias=False)
        self.out.weight = self.emb.weight  # shared storage, refused by plain safetensors


def test_save_load_tied_weights(tmp_path):
    model = Tied()
    save_model(tmp_path / "c", model, {"task": "t", "vocab": ["a", "b"]})
    other = Tied()
    meta = load_into(other, tmp_path / "c")
    assert meta == {"task": "t", "vocab": ["a", "b"]}
    torch.testing.assert_close(other.emb.weight, model.emb.weight)
    assert other.out.weight is other.emb.weight


def test_overwrite_is_atomic_and_leaves_no_temp(tmp_path):
    model = torch.nn.Linear(2, 2)
    save_model(tmp_path / "c", model, {"v": 1})
    save_model(tmp_path / "c", model, {"v": 2})
    assert load_model_state(tmp_path / "c")[1] == {"v": 2}
    assert sorted(p.name for p in tmp_path.iterdir()) == ["c"]


def test_corrupt_and_missing_checkpoints_are_clear(tmp_path):
    with pytest.raises(AttnkitError, match="no checkpoint"):
        load_model_state(tmp_path / "nope")
    save_model(tmp_path / "c", torch.nn.Linear(2, 2), {})
    (tmp_path / "c" / "model.safetensors").write_bytes(b"garbage")
    with pytest.raises(AttnkitError, match="corrupt"):
        load_model_state(tmp_path / "c")
    save_model(tmp_path / "d", torch.nn.Linear(2, 2), {})
    (tmp_path / "d" / "meta.json").write_text("{not json")
    with pytest.raises(AttnkitError, match="corrupt"):
        load_model_state(tmp_path / "d")
    save_model(tmp_path / "e", torch.nn.Linear(2, 3), {})
    with pytest.raises(AttnkitError, match="does not fit"):
        load_into(torch.nn.Linear(2, 2), tmp_path / "e")


def test_average_states(tmp_path):
    a, b = torch.nn.Linear(2, 2), torch.nn.Linear(2, 2)
    save_model(tmp_path / "a", a, {})
    save_model(tmp_path / "b", b, {})
    avg = average_states([tmp_path / "a", tmp_path / "b"])
    torch.testing.assert_close(avg["weight"], (a.weight + b.weight).detach() / 2)


def test_state_flatten_round_trip_optimizer_state():
    model = torch.nn.Linear(3, 2)
    opt = torch.optim.AdamW(model.parameters(), lr=0.1)
    model(torch.randn(4, 3)).sum().backward()
    opt.step()
    nested = {"optimizer": opt.state_dict(), "rng": torch.get_rng_state(), "t": (1, [2.5, None])}
    tensors, skeleton = flatten(nested)
    back = unflatten(tensors, skeleton)
    assert back["t"] == (1, [2.5, None])
    assert set(back["optimizer"]["state"]) == {0, 1}
    torch.testing.assert_close(
        back["optimizer"]["state"][0]["exp_avg"], opt.state_dict()["state"][0]["exp_avg"]
    )
    assert torch.equal(back["rng"], nested["rng"])
