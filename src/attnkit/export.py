"""ONNX export of a trained model, checked against PyTorch with onnxruntime.

Uses ``torch.onnx.export(dynamo=True)`` (torch.export + onnxscript) with a dynamic batch
axis, writes string metadata (class names, input spec) into the file, and runs the exported
graph on the same inputs as the PyTorch module to report the largest difference. Needs the
``onnx`` extra: ``pip install 'attnkit[onnx]'`` (onnx, onnxscript, onnxruntime).

Example:
    >>> import tempfile, torch
    >>> net = torch.nn.Sequential(torch.nn.Linear(4, 3), torch.nn.Softmax(-1))
    >>> path = export_onnx(net, torch.randn(2, 4), Path(tempfile.mkdtemp()) / "net.onnx")
    >>> max_abs_diff(path, net, torch.randn(5, 4)) < 1e-5  # any batch size
    True
"""

from __future__ import annotations

import contextlib
import io
import json
import logging
import warnings
from pathlib import Path

import torch

from attnkit.errors import AttnkitError
from attnkit.fileio import atomic_write


def _require(module: str):
    try:
        return __import__(module)
    except ImportError:
        raise AttnkitError(
            f"ONNX export needs {module}: pip install 'attnkit[onnx]' (onnx, onnxscript, "
            "onnxruntime)"
        ) from None


def require_onnx() -> None:
    """Fail early, naming the extra to install, if onnx, onnxscript or onnxruntime is missing."""
    for module in ("onnx", "onnxscript", "onnxruntime"):
        _require(module)


@contextlib.contextmanager
def _quiet_logger(name: str):
    logger = logging.getLogger(name)
    level = logger.level
    logger.setLevel(logging.ERROR)
    try:
        yield
    finally:
        logger.setLevel(level)


def export_onnx(
    module: torch.nn.Module,
    example: torch.Tensor,
    path: str | Path,
    *,
    input_name: str = "input",
    output_name: str = "output",
    metadata: dict[str, object] | None = None,
) -> Path:
    """Export ``module`` (one tensor in, one out) to ONNX with a dynamic batch axis 0.

    ``metadata`` values are stored as JSON strings in the model's ``metadata_props``. The
    file is written atomically.

    Raises:
        AttnkitError: onnx / onnxscript missing, or the module cannot be exported.
    """
    onnx = _require("onnx")
    _require("onnxscript")
    path = Path(path)
    module = module.eval()
    batch = torch.export.Dim("batch", min=1)
    try:
        # the exporter prints its stages, logs missing torchvision ops and warns about
        # torch internals: none of it concerns the user
        with (
            contextlib.redirect_stdout(io.StringIO()),
            warnings.catch_warnings(),
            _quiet_logger("torch.onnx"),
        ):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                (example,),
                dynamo=True,
                input_names=[input_name],
                output_names=[output_name],
                dynamic_shapes=({0: batch},),
                verbose=False,
            )
    except Exception as e:  # torch.export raises many types; name the cause for the user
        raise AttnkitError(f"ONNX export failed: {type(e).__name__}: {e}") from None
    proto = program.model_proto
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, proto.SerializeToString())
    onnx.checker.check_model(str(path))
    return path


def max_abs_diff(path: str | Path, module: torch.nn.Module, inputs: torch.Tensor) -> float:
    """Largest ``|onnxruntime(path)(inputs) - module(inputs)|`` over all outputs' entries."""
    ort = _require("onnxruntime")
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    name = session.get_inputs()[0].name
    got = torch.from_numpy(session.run(None, {name: inputs.numpy()})[0])
    with torch.no_grad():
        want = module.eval()(inputs).float()
    return (got - want).abs().max().item()


def read_metadata(path: str | Path) -> dict[str, object]:
    """The JSON metadata :func:`export_onnx` stored in an ONNX file."""
    onnx = _require("onnx")
    proto = onnx.load(str(path), load_external_data=False)
    return {p.key: json.loads(p.value) for p in proto.metadata_props}


__all__ = ["export_onnx", "max_abs_diff", "read_metadata", "require_onnx"]
