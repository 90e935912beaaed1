"""ONNX Runtime backend: runs .onnx models anywhere, CPU or CUDA provider.

graph_class_count reads an end-to-end model's class count from its NMS node with the onnx
package (imported when needed: it is no base dependency); `trt-viewer build` uses it too.
"""

from __future__ import annotations

import logging
import os
import queue
import re
import threading
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import Any

import numpy as np

from trt_viewer.backends.base import DEFAULT_INPUT_SIZE, Backend, Done, InputBuffer, Ticket, done_outputs, host_tensor
from trt_viewer.core import layouts, names
from trt_viewer.core.spec import Dim, TensorSpec
from trt_viewer.errors import InputError, RunError, first_line

ORT_DTYPES = {
    "tensor(float)": np.float32,
    "tensor(float16)": np.float16,
    "tensor(double)": np.float64,
    "tensor(uint8)": np.uint8,
    "tensor(int8)": np.int8,
    "tensor(int32)": np.int32,
    "tensor(int64)": np.int64,
    "tensor(bool)": np.bool_,
}
PREFERRED_PROVIDERS = ("CUDAExecutionProvider", "CPUExecutionProvider")
_UNKNOWN_OP = re.compile(
    r"(?:implementation for|Op type not registered|not a registered function/op)\D*?'?([\w.]+)'?",
    re.IGNORECASE,
)
LOGGER = logging.getLogger(__name__)


def _import_ort() -> Any:
    try:
        import onnxruntime
    except ImportError:
        raise InputError("onnxruntime is not installed: pip install onnxruntime") from None
    return onnxruntime


def _dim(d: Any) -> Dim:
    return d if isinstance(d, int) and d >= 0 else (d if isinstance(d, str) else None)


def _spec(arg: Any) -> TensorSpec:
    dtype = ORT_DTYPES.get(arg.type)
    if dtype is None:
        raise InputError(f"tensor {arg.name} has type {arg.type}, which trt_viewer cannot handle")
    return TensorSpec(arg.name, tuple(_dim(d) for d in arg.shape), np.dtype(dtype))


def explain_load_error(path: Path, exc: Exception) -> InputError:
    text = str(exc)
    first = first_line(exc)
    if "_TRT" in text or "TRT:" in text:
        op = re.search(r"(\w+_TRT)", text)
        what = f"a TensorRT plugin op ({op.group(1)})" if op else "a TensorRT plugin op"
        return InputError(
            f"model {path.name} contains {what} that ONNX Runtime cannot run: "
            "it needs the TensorRT backend (build an engine with `trt-viewer build`)"
        )
    unknown = _UNKNOWN_OP.search(text)
    if unknown:
        return InputError(
            f"model {path.name} uses an operator ONNX Runtime cannot run ({unknown.group(1)})"
        )
    if "INVALID_PROTOBUF" in text or "Protobuf parsing failed" in text or "ParseFromString" in text:
        return InputError(f"model {path.name} is not an ONNX model (it cannot be parsed)")
    return InputError(f"cannot load model {path.name}: {first}")


def graph_class_count(path: Path) -> int | None:
    """The classes an ONNX model's NMS node scores (layouts.nms_class_count), by shape
    inference with the onnx package; None where onnx is not installed, the graph has no
    NMS node, or its scores' class axis is not fixed (nodes that disagree: None too)."""
    try:
        import onnx
        from onnx import shape_inference
    except ImportError:
        LOGGER.debug("the onnx package is not installed: the class count of %s cannot be read", path.name)
        return None
    try:
        model = shape_inference.infer_shapes(onnx.load(str(path), load_external_data=False))
    except Exception as exc:  # protobuf and shape inference raise several kinds
        LOGGER.debug("cannot read the graph of %s: %s", path.name, first_line(exc))
        return None
    graph = model.graph
    shapes: dict[str, tuple[int | None, ...]] = {
        t.name: tuple(int(d) for d in t.dims) for t in graph.initializer
    }
    for value in (*graph.input, *graph.value_info, *graph.output):
        tensor = value.type.tensor_type
        if value.type.HasField("tensor_type") and tensor.HasField("shape"):
            shapes[value.name] = tuple(
                int(d.dim_value) if d.HasField("dim_value") and d.dim_value > 0 else None
                for d in tensor.shape.dim
            )
    counts = {
        layouts.nms_class_count(node.op_type, shapes.get(node.input[1]))
        for node in graph.node
        if node.op_type in layouts.NMS_SCORES_CLASS_AXIS and len(node.input) > 1
    } - {None}
    return counts.pop() if len(counts) == 1 else None


class _Running(Ticket):
    def __init__(self, future: Future[dict[str, np.ndarray]]) -> None:
        self.future = future


class OnnxRuntimeBackend(Backend):
    """workers: inference sessions side by side, each single-threaded (None: 2 on a CPU
    of two or more cores, 1 elsewhere; TRT_VIEWER_ORT_LANES overrides the default)."""

    name = "onnxruntime"

    def __init__(self, path: Path, input_size: tuple[int, int] | None = None, workers: int | None = None) -> None:
        ort = _import_ort()
        self.path = Path(path)
        options = ort.SessionOptions()
        options.log_severity_level = 3  # warnings about unused initialisers are not the user's
        available = set(ort.get_available_providers())
        providers = [p for p in PREFERRED_PROVIDERS if p in available]
        try:
            self.session = ort.InferenceSession(str(self.path), options, providers=providers)
        except Exception as exc:  # ORT raises several unrelated exception types
            raise explain_load_error(self.path, exc) from None
        self.inputs = [_spec(a) for a in self.session.get_inputs()]
        self.outputs = [_spec(a) for a in self.session.get_outputs()]
        meta = self.session.get_modelmeta()
        self.metadata = dict(meta.custom_metadata_map or {})
        if layouts.num_classes(self.outputs) is None:  # end-to-end: ask the graph, then the metadata
            self.class_count_hint = graph_class_count(self.path) or names.metadata_class_count(self.metadata)
        self._input_hw = self._resolve_input_hw(input_size)
        self.provider = self.session.get_providers()[0]
        self._ort = ort
        self.workers = max(1, workers) if workers else default_workers(self.provider)
        # One frame more than workers in flight: a worker that finishes early finds the next
        # frame already queued instead of idling until the older frame is collected in order.
        self.lanes = self.workers + 1 if self.workers > 1 else 1
        self._spare_sessions: queue.SimpleQueue[Any] = queue.SimpleQueue()
        self._local = threading.local()
        self._pool: ThreadPoolExecutor | None = None

    def _resolve_input_hw(self, requested: tuple[int, int] | None) -> tuple[int, int]:
        if len(self.inputs) != 1:
            names = ", ".join(s.describe() for s in self.inputs)
            raise InputError(f"model {self.path.name} has {len(self.inputs)} inputs ({names}); YOLOX has one")
        shape = self.input.shape
        if len(shape) != 4 or (shape[1] not in (3, None) and not isinstance(shape[1], str)):
            raise InputError(
                f"model {self.path.name} input is {self.input.describe()}; expected [1, 3, H, W]"
            )
        h, w = shape[2], shape[3]
        if isinstance(h, int) and isinstance(w, int):
            if requested and tuple(requested) != (h, w):
                raise InputError(
                    f"model {self.path.name} has a fixed {h}x{w} input; it cannot run at "
                    f"{requested[0]}x{requested[1]}"
                )
            return h, w
        return tuple(requested) if requested else DEFAULT_INPUT_SIZE  # type: ignore[return-value]

    @property
    def input_hw(self) -> tuple[int, int]:
        return self._input_hw

    @property
    def precision(self) -> str:
        kind = np.dtype(self.input.dtype).name
        return f"{kind} ({self.provider.replace('ExecutionProvider', '')})"

    def submit(self, buffer: InputBuffer) -> Ticket:
        """Start one frame; with several workers, on a worker thread of its own.

        A small model cannot keep all cores busy with one inference, so each worker thread
        runs its own single-threaded session and the run keeps `lanes` frames in flight
        (docs/performance.md has the figures). The buffer must not be filled again until
        the frame is collected.
        """
        tensor = host_tensor(buffer, self.name)
        if self.lanes == 1:
            return Done(self._run(self.session, tensor))
        if self._pool is None:
            self._start_workers()
        assert self._pool is not None
        return _Running(self._pool.submit(self._run_on_worker, tensor))

    def collect(self, ticket: Ticket, copy: bool = True) -> dict[str, np.ndarray]:
        # ONNX Runtime returns fresh arrays: nothing to copy.
        return ticket.future.result() if isinstance(ticket, _Running) else done_outputs(ticket)

    def _start_workers(self) -> None:
        options = self._ort.SessionOptions()
        options.log_severity_level = 3
        options.intra_op_num_threads = max(1, (os.cpu_count() or 1) // self.workers)
        providers = self.session.get_providers()
        for _ in range(self.workers):
            self._spare_sessions.put(self._ort.InferenceSession(str(self.path), options, providers=providers))
        self._pool = ThreadPoolExecutor(self.workers, thread_name_prefix="trt-viewer-ort")

    def _run_on_worker(self, image: np.ndarray) -> dict[str, np.ndarray]:
        session = getattr(self._local, "session", None)
        if session is None:  # this worker's first frame: it keeps one session for good
            session = self._local.session = self._spare_sessions.get()
        return self._run(session, image)

    def _run(self, session: Any, image: np.ndarray) -> dict[str, np.ndarray]:
        try:
            results = session.run(None, {self.input.name: image})
        except Exception as exc:
            raise RunError(f"ONNX Runtime failed: {first_line(exc)}") from None
        return {spec.name: np.asarray(r) for spec, r in zip(self.outputs, results)}

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)
            self._pool = None
        self._local = threading.local()
        self._spare_sessions = queue.SimpleQueue()
        self.__dict__.pop("session", None)


def default_workers(provider: str) -> int:
    """Inference threads, each with its own session: 2 on a CPU of 2 or more cores, else 1.
    TRT_VIEWER_ORT_LANES overrides the default (1 turns frames in flight off)."""
    stated = os.environ.get("TRT_VIEWER_ORT_LANES", "").strip()
    if stated.isdigit() and int(stated) > 0:
        return int(stated)
    return 2 if provider == "CPUExecutionProvider" and (os.cpu_count() or 1) >= 2 else 1
