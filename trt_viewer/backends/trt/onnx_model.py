"""What an ONNX file declares (I/O tensors, metadata, opset, Q/DQ), without TensorRT.

The onnx package reads any model, TensorRT plugin ops included; without it, ONNX Runtime
is asked instead, which cannot open models with TensorRT-only ops.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trt_viewer.core.spec import Dim, TensorSpec
from trt_viewer.errors import InputError

QDQ_OPS = frozenset({"QuantizeLinear", "DequantizeLinear"})


@dataclass
class OnnxModel:
    path: Path
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    metadata: dict[str, str] = field(default_factory=dict)
    opset: int | None = None
    quantized: bool | None = None  # has Q/DQ nodes; None where it could not be read
    op_types: frozenset[str] = frozenset()


def _with_onnx(path: Path) -> OnnxModel:
    import onnx
    from onnx import helper

    try:
        model = onnx.load(str(path), load_external_data=False)
    except Exception:  # DecodeError and friends: protobuf raises several kinds
        raise InputError(f"model {path.name} is not an ONNX model (it cannot be parsed)") from None
    graph = model.graph
    if not graph.output:
        raise InputError(f"model {path.name} is not an ONNX model (it has no outputs)")
    initializers = {init.name for init in graph.initializer}

    def spec(value: onnx.ValueInfoProto) -> TensorSpec:
        tt = value.type.tensor_type
        try:
            dtype = np.dtype(helper.tensor_dtype_to_np_dtype(tt.elem_type))
        except (KeyError, TypeError, ValueError):
            raise InputError(f"tensor {value.name} has a type trt_viewer cannot handle") from None
        dims: list[Dim] = []
        for d in tt.shape.dim:
            if d.HasField("dim_value") and d.dim_value > 0:
                dims.append(int(d.dim_value))
            else:
                dims.append(d.dim_param or None)
        return TensorSpec(value.name, tuple(dims), dtype)

    ops = frozenset(n.op_type for n in graph.node)
    opset = next((o.version for o in model.opset_import if o.domain in ("", "ai.onnx")), None)
    return OnnxModel(
        path,
        [spec(v) for v in graph.input if v.name not in initializers],
        [spec(v) for v in graph.output],
        {p.key: p.value for p in model.metadata_props},
        opset,
        bool(ops & QDQ_OPS),
        ops,
    )


def _with_onnxruntime(path: Path) -> OnnxModel:
    from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend

    backend = OnnxRuntimeBackend(path)
    try:
        return OnnxModel(path, list(backend.inputs), list(backend.outputs), dict(backend.metadata))
    finally:
        backend.close()


def read_onnx(path: Path) -> OnnxModel:
    try:
        import onnx  # noqa: F401
    except ImportError:
        return _with_onnxruntime(path)
    return _with_onnx(path)
