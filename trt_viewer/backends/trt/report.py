"""`trt-viewer inspect`: what an engine or ONNX model holds, as a dict for text or JSON.

Engines need TensorRT (not pycuda: TensorRT uses the device's primary context itself);
ONNX models need neither.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

from trt_viewer.backends import ENGINE_SUFFIXES, ONNX_SUFFIXES, check_model_path
from trt_viewer.backends.base import DEFAULT_INPUT_SIZE
from trt_viewer.backends.onnxruntime import graph_class_count
from trt_viewer.backends.trt import engine as eng
from trt_viewer.core import layouts, names
from trt_viewer.core.spec import TensorSpec
from trt_viewer.errors import InputError, TrtViewerError

NAMES_SHOWN = 10


def installed_tensorrt() -> str | None:
    from trt_viewer.backends.trt.modules import require_tensorrt

    try:
        return require_tensorrt()
    except InputError:
        return None


def _spec_info(spec: TensorSpec, mode: str) -> dict[str, Any]:
    return {
        "name": spec.name,
        "mode": mode,
        "shape": [d if isinstance(d, int) else -1 if d is None else d for d in spec.shape],
        "dtype": spec.dtype.name,
    }


def _detection_info(path: Path, outputs: list[TensorSpec], input_hw: tuple[int, int],
                    metadata: dict[str, str], class_count_hint: int | None = None) -> dict[str, Any]:
    try:
        post = layouts.Postprocessor(outputs, input_hw)
        layout = post.layout or "raw or decoded (settled from the first frame's values)"
    except TrtViewerError as exc:
        layout = f"none: {exc}"
    count = layouts.num_classes(outputs)
    class_names, source = names.resolve_names(path, metadata, class_count_hint if count is None else count)
    return {
        "layout": layout,
        "classes": {"count": len(class_names), "source": source, "names": class_names},
    }


def inspect_onnx(path: Path, input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    from trt_viewer.backends.trt.onnx_model import read_onnx

    model = read_onnx(path)
    report: dict[str, Any] = {
        "file": str(path),
        "kind": "onnx",
        "size_bytes": path.stat().st_size,
        "tensorrt": installed_tensorrt(),
        "opset": model.opset,
        "quantized": model.quantized,
        "inputs": [_spec_info(s, "input") for s in model.inputs],
        "outputs": [_spec_info(s, "output") for s in model.outputs],
        "metadata": model.metadata,
    }
    hw = DEFAULT_INPUT_SIZE
    if len(model.inputs) == 1 and len(model.inputs[0].shape) == 4:
        h, w = model.inputs[0].shape[2:]
        if isinstance(h, int) and isinstance(w, int):
            hw = (h, w)
        elif input_size:
            hw = (int(input_size[0]), int(input_size[1]))
    report["input_size"] = list(hw)
    hint = graph_class_count(path) if layouts.num_classes(model.outputs) is None else None
    report.update(_detection_info(path, model.outputs, hw, model.metadata, hint))
    return report


def inspect_engine(path: Path, input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    from trt_viewer.backends.trt.log import TrtMessages, create_logger
    from trt_viewer.backends.trt.modules import require_tensorrt
    from trt_viewer.backends.trt.plan import read_engine_file

    version = require_tensorrt()
    import tensorrt as trt

    file = read_engine_file(path)
    messages = TrtMessages()
    logger = create_logger(messages)
    runtime = trt.Runtime(logger)
    engine = eng.deserialize(runtime, file.plan, messages, path)
    tensors = eng.io_tensors(engine)
    report: dict[str, Any] = {
        "file": str(path),
        "kind": "tensorrt engine",
        "size_bytes": path.stat().st_size,
        "tensorrt": version,
        "metadata_prefix": file.prefixed,
        "inputs": [t.describe() for t in tensors if t.is_input],
        "outputs": [t.describe() for t in tensors if not t.is_input],
        "profiles": engine.num_optimization_profiles,
        "device_memory_bytes": eng.device_memory_size(engine),
        "metadata": file.metadata,
    }
    try:
        image = eng.one_image_input(tensors, path.name)
        shape = eng.choose_input_shape(image, path.name, input_size, file.input_hw)
    except InputError as exc:  # still worth showing what the engine holds
        report.update(input_size=None, layout=f"none: {exc}", classes=None)
        return report
    report["input_size"] = [shape[2], shape[3]]
    outputs = [t.spec() for t in tensors if not t.is_input]
    if any(not s.is_static for s in outputs):
        # Output shapes of a dynamic engine are known once an input shape is set.
        with messages.capturing():
            context = engine.create_execution_context()
            if context is None:
                raise InputError(f"cannot create an execution context for {path.name}: {messages.reason()}")
            context.set_input_shape(image.name, shape)
            outputs = [t.spec(eng.dims(context.get_tensor_shape(t.name))) for t in tensors if not t.is_input]
        del context
    report["outputs_at_input_size"] = [_spec_info(s, "output") for s in outputs]
    report.update(_detection_info(path, outputs, (shape[2], shape[3]), file.metadata))
    return report


def inspect_file(path: Path, input_size: tuple[int, int] | None = None) -> dict[str, Any]:
    p = check_model_path(path)
    suffix = p.suffix.lower()
    if suffix in ONNX_SUFFIXES:
        return inspect_onnx(p, input_size)
    if suffix in ENGINE_SUFFIXES:
        return inspect_engine(p, input_size)
    raise InputError(f"{p.name}: unknown model type; expected .onnx or one of {', '.join(ENGINE_SUFFIXES)}")
