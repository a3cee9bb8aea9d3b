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
    return export_graph(
        module,
        (example,),
        path,
        input_names=[input_name],
        output_names=[output_name],
        dynamic_shapes=({0: torch.export.Dim("batch", min=1)},),
        metadata=metadata,
    )


def export_graph(
    module: torch.nn.Module,
    args: tuple[torch.Tensor, ...],
    path: str | Path,
    *,
    input_names: list[str],
    output_names: list[str],
    dynamic_shapes: tuple[object, ...],
    output_axes: dict[str, dict[int, str]] | None = None,
    metadata: dict[str, object] | None = None,
) -> Path:
    """Export ``module(*args)`` to ONNX (``torch.onnx.export(dynamo=True)``) and check it.

    ``dynamic_shapes`` gives, per argument, its dynamic axes (``{axis: torch.export.Dim}``;
    one ``Dim`` object shared by two arguments makes their sizes equal). ``metadata`` values
    are stored as JSON strings in the model's ``metadata_props``. The file is written
    atomically. ``output_axes`` names output axes that are dynamic although the trace fixed
    them (``{output: {axis: name}}``): ``nn.GRU``'s time axis is one, and onnxruntime warns
    at every call whose output shape differs from the declared one.

    Raises:
        AttnkitError: onnx / onnxscript missing, or the module cannot be exported.
    """
    onnx = _require("onnx")
    _require("onnxscript")
    path = Path(path)
    module = module.eval()
    try:
        # the exporter prints its stages, logs missing torchvision ops and warns about
        # torch internals: none of it concerns the user
        with (
            contextlib.redirect_stdout(io.StringIO()),
            warnings.catch_warnings(),
            _quiet_logger("torch.onnx"),
            _quiet_logger("onnxscript"),
        ):
            warnings.simplefilter("ignore")
            program = torch.onnx.export(
                module,
                args,
                dynamo=True,
                input_names=input_names,
                output_names=output_names,
                dynamic_shapes=dynamic_shapes,
                verbose=False,
            )
    except Exception as e:  # torch.export raises many types; name the cause for the user
        raise AttnkitError(f"ONNX export failed: {type(e).__name__}: {e}") from None
    proto = program.model_proto
    # the trace's intermediate shapes are hints onnxruntime infers again; dropping them drops
    # the lengths a trace fixed (nn.GRU's time axis) along with them
    del proto.graph.value_info[:]
    for output in proto.graph.output:
        for axis, name in (output_axes or {}).get(output.name, {}).items():
            output.type.tensor_type.shape.dim[axis].dim_param = name
    for key, value in (metadata or {}).items():
        entry = proto.metadata_props.add()
        entry.key, entry.value = key, json.dumps(value)
    path.parent.mkdir(parents=True, exist_ok=True)
    atomic_write(path, proto.SerializeToString())
    onnx.checker.check_model(str(path))
    return path


def inference_session(path: str | Path, *, threads: int | None = None):
    """An onnxruntime CPU session of ``path`` (``threads``: intra-op threads, None: its default).

    Raises:
        AttnkitError: onnxruntime missing, or the file is not a readable ONNX model.
    """
    ort = _require("onnxruntime")
    options = ort.SessionOptions()
    if threads is not None:
        options.intra_op_num_threads = threads
        options.inter_op_num_threads = 1
    try:
        return ort.InferenceSession(
            str(path), sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as e:  # onnxruntime raises its own Fail / InvalidProtobuf / NoSuchFile
        raise AttnkitError(f"cannot load the ONNX model {path}: {e}") from None


def max_abs_diff(path: str | Path, module: torch.nn.Module, inputs: torch.Tensor) -> float:
    """Largest ``|onnxruntime(path)(inputs) - module(inputs)|`` over all outputs' entries."""
    session = inference_session(path)
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


__all__ = [
    "export_graph",
    "export_onnx",
    "inference_session",
    "max_abs_diff",
    "read_metadata",
    "require_onnx",
]
