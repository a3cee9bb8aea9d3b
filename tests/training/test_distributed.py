"""Rank-aware placement: which device each torchrun process takes (no GPU needed to test)."""

import pytest
import torch

from attnkit.errors import AttnkitError
from attnkit.training.distributed import DistEnv, pick_device


def test_environment_of_a_torchrun_worker():
    env = DistEnv.from_environ({"RANK": "5", "LOCAL_RANK": "1", "WORLD_SIZE": "8"})
    assert (env.rank, env.local_rank, env.world_size) == (5, 1, 8)
    assert env.distributed and not env.is_main
    assert DistEnv.from_environ({}) == DistEnv(0, 0, 1)


@pytest.mark.parametrize(
    "environ",
    [{"RANK": "x"}, {"RANK": "2", "WORLD_SIZE": "2"}, {"WORLD_SIZE": "0"}, {"LOCAL_RANK": "-1"}],
)
def test_a_broken_environment_is_a_clear_error(environ):
    with pytest.raises(AttnkitError):
        DistEnv.from_environ(environ)


def test_each_local_rank_takes_its_own_gpu():
    """Two machines x 2 GPUs: global ranks 2 and 3 run on the second machine's cuda:0, cuda:1."""
    for rank, local in ((0, 0), (1, 1), (2, 0), (3, 1)):
        env = DistEnv(rank=rank, local_rank=local, world_size=4)
        assert pick_device("auto", env, cuda_devices=2) == torch.device("cuda", local)
        assert pick_device("cuda", env, cuda_devices=2) == torch.device("cuda", local)
        assert pick_device("cpu", env, cuda_devices=2) == torch.device("cpu")
        assert pick_device("auto", env, cuda_devices=0) == torch.device("cpu")
    assert pick_device("auto", DistEnv(), cuda_devices=4) == torch.device("cuda", 0)


def test_more_processes_than_gpus_or_no_gpu_is_a_clear_error():
    with pytest.raises(AttnkitError, match="LOCAL_RANK 2 has no GPU of its own"):
        pick_device("auto", DistEnv(rank=2, local_rank=2, world_size=3), cuda_devices=2)
    with pytest.raises(AttnkitError, match="no CUDA device"):
        pick_device("cuda", DistEnv(), cuda_devices=0)
    with pytest.raises(AttnkitError, match="auto, cpu or cuda"):
        pick_device("tpu", DistEnv(), cuda_devices=0)


def test_the_tasks_place_the_model_where_the_rank_says(monkeypatch, tmp_path):
    """setup() reads the environment and sets the current CUDA device (faked here)."""
    from attnkit.training import distributed

    monkeypatch.setenv("RANK", "0")
    monkeypatch.setenv("LOCAL_RANK", "1")
    monkeypatch.setenv("WORLD_SIZE", "1")
    monkeypatch.setattr(torch.cuda, "device_count", lambda: 2)
    chosen = []
    monkeypatch.setattr(torch.cuda, "set_device", chosen.append)
    device, _ = distributed.setup("auto")
    assert device == torch.device("cuda", 0) and chosen == [device]  # one process: cuda:0
    monkeypatch.setenv("WORLD_SIZE", "2")
    monkeypatch.setattr(
        distributed.dist, "init_process_group", lambda backend: chosen.append(backend)
    )
    monkeypatch.setattr(distributed.dist, "is_initialized", lambda: False)
    device, _ = distributed.setup("auto", threads=1)
    assert device == torch.device("cuda", 1) and chosen[-2:] == [device, "nccl"]
