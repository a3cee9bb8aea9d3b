"""Where a training process runs: its rank under ``torchrun``, its device, its process group.

``torchrun`` starts one process per device and tells each its place through the environment:
``RANK`` (0 .. WORLD_SIZE-1 over all machines), ``LOCAL_RANK`` (0 .. processes on this
machine - 1) and ``WORLD_SIZE``. A process then takes *its own* GPU, ``cuda:LOCAL_RANK``, and
joins the process group (NCCL between GPUs, gloo between CPU processes). Without torchrun the
world is one process of rank 0.

Example:
    >>> env = DistEnv.from_environ({"RANK": "3", "LOCAL_RANK": "1", "WORLD_SIZE": "4"})
    >>> env.is_main, pick_device("auto", env, cuda_devices=2)
    (False, device(type='cuda', index=1))
    >>> pick_device("auto", env, cuda_devices=0)
    device(type='cpu')
"""

from __future__ import annotations

import contextlib
import os
from collections.abc import Iterator, Mapping
from dataclasses import dataclass

import torch
import torch.distributed as dist

from attnkit.errors import AttnkitError


@dataclass(frozen=True)
class DistEnv:
    """This process's place in a (possibly one-process) training job."""

    rank: int = 0
    local_rank: int = 0
    world_size: int = 1

    @classmethod
    def from_environ(cls, environ: Mapping[str, str] | None = None) -> DistEnv:
        """Read ``RANK``, ``LOCAL_RANK`` and ``WORLD_SIZE`` (as torchrun sets them).

        Raises:
            AttnkitError: values that are not integers or are out of range.
        """
        env = os.environ if environ is None else environ
        try:
            world = int(env.get("WORLD_SIZE", "1"))
            rank = int(env.get("RANK", "0"))
            local = int(env.get("LOCAL_RANK", str(rank)))
        except ValueError:
            raise AttnkitError(
                "RANK, LOCAL_RANK and WORLD_SIZE must be integers (start with torchrun)"
            ) from None
        if world < 1 or not 0 <= rank < world or local < 0:
            raise AttnkitError(f"bad torchrun environment: RANK={rank} WORLD_SIZE={world}")
        return cls(rank=rank, local_rank=local, world_size=world)

    @property
    def is_main(self) -> bool:
        """Rank 0: the process that writes checkpoints and logs."""
        return self.rank == 0

    @property
    def distributed(self) -> bool:
        return self.world_size > 1


def pick_device(name: str, env: DistEnv, *, cuda_devices: int | None = None) -> torch.device:
    """The device of this process: ``cuda:LOCAL_RANK`` on a GPU machine, else the CPU.

    Args:
        name: ``"auto"`` (a GPU when there is one), ``"cuda"`` or ``"cpu"``.
        env: this process's ranks.
        cuda_devices: GPUs visible here (default: ``torch.cuda.device_count()``).

    Raises:
        AttnkitError: ``cuda`` asked for without a GPU, or more processes on this machine
            than GPUs (each process needs its own).
    """
    if name not in ("auto", "cpu", "cuda"):
        raise AttnkitError(f"device must be auto, cpu or cuda, got {name!r}")
    count = torch.cuda.device_count() if cuda_devices is None else cuda_devices
    if name == "cpu" or (name == "auto" and count == 0):
        return torch.device("cpu")
    if count == 0:
        raise AttnkitError("train.device is cuda but no CUDA device is visible")
    if env.distributed and env.local_rank >= count:
        raise AttnkitError(
            f"LOCAL_RANK {env.local_rank} has no GPU of its own ({count} visible): start at "
            f"most {count} processes per machine (torchrun --nproc_per_node {count})"
        )
    return torch.device("cuda", env.local_rank if env.distributed else 0)


def setup(device_name: str, threads: int | None = None) -> tuple[torch.device, DistEnv]:
    """Prepare this process for training: threads, its device, and the process group.

    Call it before building the model. Returns ``(device, env)``.
    """
    env = DistEnv.from_environ()
    if threads:
        torch.set_num_threads(threads)
    device = pick_device(device_name, env)
    if device.type == "cuda":
        torch.cuda.set_device(device)
    if env.distributed and not dist.is_initialized():
        dist.init_process_group("nccl" if device.type == "cuda" else "gloo")
    return device, env


def barrier(env: DistEnv) -> None:
    """Wait for every rank (nothing to wait for in a one-process job)."""
    if env.distributed and dist.is_initialized():
        dist.barrier()


@contextlib.contextmanager
def main_first(env: DistEnv) -> Iterator[bool]:
    """Run a block on rank 0 first, then on the others (which may reuse what it wrote).

    Yields whether this process is rank 0. Use it for work that writes shared files, such as
    training a tokenizer into the run folder: rank 0 builds it, the others load it.
    """
    if not env.is_main:
        barrier(env)
    yield env.is_main
    if env.is_main:
        barrier(env)


__all__ = ["DistEnv", "barrier", "main_first", "pick_device", "setup"]
