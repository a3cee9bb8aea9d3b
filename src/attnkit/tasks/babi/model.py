"""The networks of a bAbI run: one MemN2N per task (the paper's main rows) or one shared by
all the tasks (its joint rows), behind one module that routes each question to its network
and remembers, in buffers, which networks are still in linear start and how many dev
evaluations training has made (so checkpoints carry them: ``best/`` may be saved before the
switch, ``last/`` resumes after it).

Notation for tensor shapes: B questions, M memories (slot 0 the latest sentence), J words,
K hops, V vocabulary, N networks.
"""

from __future__ import annotations

from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import Tensor, nn

from attnkit.models.memn2n import MemN2N, MemN2NConfig


class BabiReader(nn.Module):
    """MemN2N networks for a set of bAbI tasks, each question answered by its task's one.

    Args:
        config: the hyperparameters of every network (``linear_start`` is where they begin).
        vocab_size: ``V``, shared by the networks.
        tasks: the bAbI task numbers of the run.
        joint: one network for all ``tasks`` instead of one each.

    Example:
        >>> cfg = MemN2NConfig(embed_dim=8, linear_start=True)
        >>> reader = BabiReader(cfg, vocab_size=20, tasks=[1, 3]).eval()
        >>> story, query = torch.randint(1, 20, (2, 4, 5)), torch.randint(1, 20, (2, 3))
        >>> logits, w = reader(story, query, torch.tensor([1, 3]), return_weights=True)
        >>> logits.shape, w.shape, reader.linear_start.tolist()  # (B, V), (B, K, M), (N,)
        (torch.Size([2, 20]), torch.Size([2, 3, 4]), [True, True])
    """

    def __init__(
        self, config: MemN2NConfig, *, vocab_size: int, tasks: Sequence[int], joint: bool = False
    ) -> None:
        super().__init__()
        self.tasks, self.joint = list(tasks), joint
        names = ["joint"] if joint else [f"task{t}" for t in self.tasks]
        self.nets = nn.ModuleDict({n: MemN2N(config, vocab_size=vocab_size) for n in names})
        self.register_buffer("linear_start", torch.full((len(names),), config.linear_start))
        self.register_buffer("evaluations", torch.tensor(0))  # dev evaluations so far
        net_of_task = torch.full((max(self.tasks) + 1,), -1)  # task number -> network index
        for i, t in enumerate(self.tasks):
            net_of_task[t] = 0 if joint else i
        self.register_buffer("net_of_task", net_of_task, persistent=False)

    def net_index(self, task: int) -> int:
        """The index (in ``nets`` and ``linear_start``) of the network that answers ``task``.

        Raises:
            ValueError: a task this reader was not built for.
        """
        if task not in self.tasks:
            raise ValueError(f"task {task} is not one of this model's tasks {self.tasks}")
        return int(self.net_of_task[task])

    def forward(
        self, story: Tensor, query: Tensor, task: Tensor, *, return_weights: bool = False
    ) -> tuple[Tensor, Tensor | None]:
        """Answer logits ``(B, V)`` and, with ``return_weights``, each hop's attention
        ``(B, K, M)`` (``M' >= M`` slots in training mode, see :class:`MemN2N`).

        Args:
            story: ``(B, M, J)`` word ids; query: ``(B, Lq)``; task: ``(B,)`` task numbers.
        """
        known = (task >= 0) & (task < len(self.net_of_task))
        which = self.net_of_task[task.where(known, 0)]  # (B,) network index, -1: unknown task
        if (which < 0).any():
            raise ValueError(f"questions of tasks {sorted(set(task.tolist()) - set(self.tasks))} "
                             f"for a model of tasks {self.tasks}")  # fmt: skip
        parts = [(i, (which == i).nonzero().squeeze(1)) for i in which.unique().tolist()]
        results = [self._net(i)(story[rows], query[rows], return_weights=return_weights)
                   for i, rows in parts]  # fmt: skip
        if len(parts) == 1:
            return results[0]
        logits = torch.cat([r[0] for r in results])  # (B, V) in the order of ``parts``
        order = torch.cat([rows for _, rows in parts]).argsort()
        if not return_weights:
            return logits[order], None
        width = max(r[1].shape[-1] for r in results)  # training mode spreads memories apart
        weights = torch.cat([F.pad(r[1], (0, width - r[1].shape[-1])) for r in results])
        return logits[order], weights[order]  # (B, V), (B, K, M')

    def _net(self, index: int) -> MemN2N:
        net = list(self.nets.values())[index]
        net.linear_start = bool(self.linear_start[index])
        return net


__all__ = ["BabiReader"]
