import pytest
import torch

from attnkit import viz


def test_plots_write_png(tmp_path):
    viz.plot_attention(torch.rand(3, 4), list("abcd"), list("xyz"), tmp_path / "a.png")
    viz.plot_confusion(torch.eye(3) * 5, ["c0", "c1", "c2"], tmp_path / "c.png")
    csv = tmp_path / "m.csv"
    csv.write_text(
        "step,epoch,split,name,value,elapsed_s\n1,0,train,loss,2.0,1\n2,0,dev,bleu,3,2\n"
    )
    viz.plot_curves(csv, tmp_path / "curves.png")
    for name in ("a.png", "c.png", "curves.png"):
        assert (tmp_path / name).read_bytes()[:4] == b"\x89PNG"


def test_heatmap_label_mismatch_is_an_error(tmp_path):
    with pytest.raises(ValueError, match="does not match"):
        viz.plot_heatmap(torch.rand(2, 2), ["a"], ["b", "c"], tmp_path / "x.png")


def test_cjk_font_missing_is_a_warning_not_an_error(monkeypatch):
    from attnkit.errors import AttnkitError

    def no_network(name):
        raise AttnkitError(f"could not download {name}")

    monkeypatch.setattr("attnkit.data.registry.ensure", no_network)
    from matplotlib import font_manager

    monkeypatch.setattr(font_manager.fontManager, "ttflist", [])  # as on a machine without it
    with pytest.warns(UserWarning, match="no CJK font"):
        assert viz.use_cjk_font() is False


def test_attention_grid_draws_every_layer_and_head(tmp_path):
    weights = torch.softmax(torch.randn(2, 3, 4, 5), dim=-1)  # (N, H, Lt, Ls)
    path = tmp_path / "grid.png"
    viz.plot_attention_grid(weights, list("abcde"), list("wxyz"), path, "title")
    assert path.read_bytes()[:4] == b"\x89PNG"
    with pytest.raises(ValueError, match="do not match"):
        viz.plot_attention_grid(weights, list("abcd"), list("wxyz"), tmp_path / "bad.png")
