"""Multi-process training: torchrun + DDP (gloo) gives the same model as one process."""

import subprocess
import sys
from pathlib import Path

import torch

from attnkit.training.checkpoint import load_model_state

WORKER = Path(__file__).with_name("ddp_worker.py")


def test_torchrun_two_ranks_equal_one_process_with_merged_batches(tmp_path):
    sys.path.insert(0, str(WORKER.parent))
    try:
        import ddp_worker
    finally:
        sys.path.remove(str(WORKER.parent))
    cmd = [sys.executable, "-m", "torch.distributed.run", "--standalone", "--nproc_per_node=2",
           str(WORKER), str(tmp_path / "ddp")]  # fmt: skip
    env = {"OMP_NUM_THREADS": "1", "PATH": "/usr/bin:/bin"}
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    assert proc.stdout.count("rank done, steps 12") == 2  # 2 epochs x 12 batches / 2 ranks

    reference = ddp_worker.trainer(tmp_path / "single", merge=2)
    summary = reference.fit()
    assert summary["steps"] == 12
    ddp_state, _ = load_model_state(tmp_path / "ddp" / "last")
    for name, value in reference.model.state_dict().items():
        torch.testing.assert_close(ddp_state[name], value, rtol=1e-5, atol=1e-6)
    # and training did something: the weights moved away from the initialisation
    init = ddp_worker.model().state_dict()
    assert any(not torch.allclose(init[k], v) for k, v in ddp_state.items())
