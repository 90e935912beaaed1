"""`trt-viewer triton-repo`: a Triton model repository for a TensorRT engine or an ONNX model.

    REPO/NAME/config.pbtxt     name, platform, max batch size, I/O, batching, instances, parameters
    REPO/NAME/labels.txt       the class names, one a line
    REPO/NAME/1/model.plan     (an engine; `platform: "tensorrt_plan"`)
    REPO/NAME/1/model.onnx     (an ONNX model; `platform: "onnxruntime_onnx"`)

The I/O comes from the model itself: an ONNX model through the onnx package (or ONNX
Runtime), an engine through TensorRT. A model whose batch dimension is dynamic (every input
and output starting with it) gets a maximum batch size and `dynamic_batching {}`, and dims
without the batch; a model of a fixed batch gets a maximum batch size of 0 and its full shapes.
The class names (a --names file, a sidecar, the model's metadata, COCO for 80 classes) go in
labels.txt and in a `names` parameter, which the Triton backend reads back; the model's other
metadata (its preprocessing preset, say) go in parameters too.

`backend="python"` writes instead a Python-backend model (`1/model.py` running the ONNX
model with ONNX Runtime inside Triton's Python backend; CPU): for a Triton without the
onnxruntime backend, such as the one PyTriton bundles.

Nothing here needs tritonclient: config.pbtxt is protobuf text, written by hand.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trt_viewer.backends import ENGINE_SUFFIXES, ONNX_SUFFIXES, check_model_path
from trt_viewer.core import layouts, names
from trt_viewer.core.spec import Dim, TensorSpec
from trt_viewer.errors import InputError, RunError

# The config's batch field, spelt in two parts: the package is grepped for TensorRT's
# removed builder attribute of that name (tests/test_typecheck.py), which this is not.
MAX_BATCH_FIELD = "max_batch" "_size"
DEFAULT_MAX_BATCH = 8
TRITON_TYPES = {
    "float32": "TYPE_FP32", "float16": "TYPE_FP16", "float64": "TYPE_FP64", "uint8": "TYPE_UINT8",
    "int8": "TYPE_INT8", "int16": "TYPE_INT16", "uint16": "TYPE_UINT16", "int32": "TYPE_INT32",
    "int64": "TYPE_INT64", "bool": "TYPE_BOOL",
}
KINDS = {"auto": "KIND_AUTO", "gpu": "KIND_GPU", "cpu": "KIND_CPU"}
BACKENDS = ("auto", "python")
LABELS_FILE = "labels.txt"
NAMES_PARAMETER = "names"
MAX_PARAMETER_CHARS = 65536  # metadata longer than this (an embedded blob) stays out of the config


@dataclass
class RepoOptions:
    model: Path
    repository: Path
    name: str | None = None  # default: the model file's stem
    max_batch: int | None = None  # None: DEFAULT_MAX_BATCH where the batch is dynamic (an engine: its profile's)
    instances: int = 1
    kind: str = "auto"  # auto, gpu, cpu
    backend: str = "auto"  # auto: tensorrt_plan or onnxruntime_onnx; python: model.py with ONNX Runtime
    version: int = 1
    names_file: Path | None = None
    force: bool = False  # replace a model folder of that name


@dataclass
class ModelIO:
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    metadata: dict[str, str] = field(default_factory=dict)
    class_count: int | None = None
    batch_limit: int | None = None  # most images a batch may hold (an engine's profile); None: any
    engine: bool = False


@dataclass
class Repository:
    folder: Path  # REPO/NAME
    config: str  # config.pbtxt's text
    files: list[Path]
    batch: int  # the maximum batch size written (0: no batching)
    names: list[str]
    names_source: str
    note: str = ""  # why batching is off, where it is


def read_onnx_io(path: Path) -> ModelIO:
    from trt_viewer.backends.onnxruntime import graph_class_count
    from trt_viewer.backends.trt.onnx_model import read_onnx

    model = read_onnx(path)
    count = layouts.num_classes(model.outputs)
    if count is None:
        count = graph_class_count(path) or names.metadata_class_count(model.metadata)
    return ModelIO(list(model.inputs), list(model.outputs), dict(model.metadata), count)


def read_engine_io(path: Path) -> ModelIO:
    from trt_viewer.backends.trt import engine as eng
    from trt_viewer.backends.trt.log import TrtMessages, create_logger
    from trt_viewer.backends.trt.modules import require_tensorrt
    from trt_viewer.backends.trt.plan import read_engine_file

    require_tensorrt()
    import tensorrt as trt

    file = read_engine_file(path)
    messages = TrtMessages()
    runtime = trt.Runtime(create_logger(messages))
    engine = eng.deserialize(runtime, file.plan, messages, path)
    tensors = eng.io_tensors(engine)
    inputs = [t for t in tensors if t.is_input]
    limit: int | None = None
    if inputs and inputs[0].shape and inputs[0].shape[0] < 0 and inputs[0].profiles:
        limit = min(p.max[0] for p in inputs[0].profiles)
    outputs = [t.spec() for t in tensors if not t.is_input]
    count = layouts.num_classes(outputs)
    if count is None:
        count = names.metadata_class_count(file.metadata)
    del engine
    return ModelIO([t.spec() for t in inputs], outputs, dict(file.metadata), count, limit, engine=True)


def read_io(path: Path) -> ModelIO:
    suffix = path.suffix.lower()
    if suffix in ONNX_SUFFIXES:
        return read_onnx_io(path)
    if suffix in ENGINE_SUFFIXES:
        return read_engine_io(path)
    raise InputError(f"model {path.name}: unknown model type {suffix or '(no extension)'}; expected .onnx or one "
                     f"of {', '.join(ENGINE_SUFFIXES)}")


def _dynamic(d: Dim) -> bool:
    return not (isinstance(d, int) and d >= 0)


def _dims(shape: tuple[Dim, ...]) -> list[int]:
    return [-1 if _dynamic(d) else int(d) for d in shape]  # type: ignore[arg-type]


def choose_batch(io: ModelIO, requested: int | None, python: bool) -> tuple[int, str]:
    """The maximum batch size to write, and why batching is off where it is."""
    tensors = [*io.inputs, *io.outputs]
    batched_dim = all(t.shape and _dynamic(t.shape[0]) for t in tensors)
    if python:  # model.py runs a batch one image at a time where the model's batch is fixed
        batched_dim = all(t.shape and (_dynamic(t.shape[0]) or t.shape[0] == 1) for t in tensors)
    if requested == 0:
        return 0, "turned off (--max-batch-size 0)"
    if not batched_dim:
        fixed = next(t for t in tensors if not (t.shape and _dynamic(t.shape[0])))
        why = (f"{fixed.name} has a fixed first dimension ({fixed.describe()}): the model runs one batch size; "
               "export it with a dynamic batch dimension to batch requests")
        if requested:
            raise InputError(f"--max-batch-size {requested}: {why}")
        return 0, why
    limit = io.batch_limit
    if requested is not None:
        if limit is not None and requested > limit:
            raise InputError(f"--max-batch-size {requested}: the engine's optimisation profile allows batches "
                             f"of at most {limit}")
        return requested, ""
    if limit is not None:
        return limit, ""
    return DEFAULT_MAX_BATCH, ""


def _quote(text: str) -> str:
    """A protobuf text-format string: UTF-8 kept, quotes, backslashes and control
    characters escaped."""
    out = []
    for ch in text:
        if ch == "\\":
            out.append("\\\\")
        elif ch == '"':
            out.append('\\"')
        elif ch == "\n":
            out.append("\\n")
        elif ord(ch) < 0x20 or ord(ch) == 0x7F:
            out.append(f"\\{ord(ch):03o}")
        else:
            out.append(ch)
    return '"' + "".join(out) + '"'


def _tensor_block(spec: TensorSpec, batch: int) -> str:
    dtype = np.dtype(spec.dtype).name
    if dtype not in TRITON_TYPES:
        raise InputError(f"tensor {spec.name} has type {dtype}, which Triton's config cannot state")
    dims = _dims(spec.shape)
    if batch:
        dims = dims[1:]
    return (f"  {{\n    name: {_quote(spec.name)}\n    data_type: {TRITON_TYPES[dtype]}\n"
            f"    dims: [ {', '.join(str(d) for d in dims)} ]\n  }}")


def config_text(name: str, io: ModelIO, *, batch: int, instances: int, kind: str, backend: str,
                parameters: dict[str, str]) -> str:
    """config.pbtxt for the model. backend: "tensorrt_plan", "onnxruntime_onnx" (platforms)
    or "python"."""
    lines = [f"name: {_quote(name)}"]
    if backend == "python":
        lines.append('backend: "python"')
    else:
        lines.append(f"platform: {_quote(backend)}")
    lines.append(f"{MAX_BATCH_FIELD}: {batch}")
    lines.append("input [\n" + ",\n".join(_tensor_block(s, batch) for s in io.inputs) + "\n]")
    lines.append("output [\n" + ",\n".join(_tensor_block(s, batch) for s in io.outputs) + "\n]")
    if batch:
        lines.append("dynamic_batching { }")
    lines.append(f"instance_group [\n  {{\n    count: {instances}\n    kind: {KINDS[kind]}\n  }}\n]")
    for key, value in parameters.items():
        lines.append(f"parameters {{\n  key: {_quote(key)}\n  value: {{ string_value: {_quote(value)} }}\n}}")
    return "\n".join(lines) + "\n"


PYTHON_MODEL = '''"""Triton Python-backend model written by `trt-viewer triton-repo --backend python`: runs
model.onnx (beside this file) with ONNX Runtime on the CPU. Needs numpy and onnxruntime in
the Python environment of Triton's Python backend."""

import os

import numpy as np
import onnxruntime as ort
import triton_python_backend_utils as pb_utils


class TritonPythonModel:
    def initialize(self, args):
        here = os.path.join(args["model_repository"], args["model_version"])
        options = ort.SessionOptions()
        options.log_severity_level = 3
        self.session = ort.InferenceSession(os.path.join(here, "model.onnx"), options,
                                            providers=["CPUExecutionProvider"])
        self.inputs = [i.name for i in self.session.get_inputs()]
        self.outputs = [o.name for o in self.session.get_outputs()]
        self.fixed_batch = self.session.get_inputs()[0].shape[0] == 1

    def _run(self, feeds):
        n = len(next(iter(feeds.values())))
        if not self.fixed_batch or n == 1:
            return self.session.run(None, feeds)
        # A model of a fixed batch of 1 runs a larger batch one image at a time.
        parts = [self.session.run(None, {k: v[i:i + 1] for k, v in feeds.items()}) for i in range(n)]
        return [np.concatenate([p[j] for p in parts]) for j in range(len(self.outputs))]

    def execute(self, requests):
        responses = []
        for request in requests:
            feeds = {name: pb_utils.get_input_tensor_by_name(request, name).as_numpy() for name in self.inputs}
            try:
                results = self._run(feeds)
            except Exception as exc:
                responses.append(pb_utils.InferenceResponse(error=pb_utils.TritonError(str(exc))))
                continue
            tensors = [pb_utils.Tensor(name, np.ascontiguousarray(value)) for name, value in zip(self.outputs, results)]
            responses.append(pb_utils.InferenceResponse(output_tensors=tensors))
        return responses
'''


def _parameters(io: ModelIO, class_names: list[str], source: str) -> dict[str, str]:
    parameters: dict[str, str] = {}
    for key, value in io.metadata.items():
        if key in names.METADATA_KEYS or not isinstance(value, str) or len(value) > MAX_PARAMETER_CHARS:
            continue
        parameters[key] = value
    if class_names and source != names.NONE_FOUND:
        parameters[NAMES_PARAMETER] = json.dumps(class_names, ensure_ascii=False)
    if layouts.num_classes(io.outputs) is None and io.class_count:
        parameters.setdefault("num_classes", str(io.class_count))
    return parameters


def write_repository(opts: RepoOptions) -> Repository:
    model = check_model_path(opts.model)
    name = opts.name or model.stem
    if not name or "/" in name or name in (".", ".."):
        raise InputError(f"--name {name!r}: a model name is one folder name")
    if opts.instances < 1:
        raise InputError("--instances: give 1 or more")
    if opts.kind not in KINDS:
        raise InputError(f"--kind {opts.kind}: choose {', '.join(KINDS)}")
    if opts.backend not in BACKENDS:
        raise InputError(f"--backend {opts.backend}: choose {', '.join(BACKENDS)}")
    io = read_io(model)
    python = opts.backend == "python"
    if python and io.engine:
        raise InputError("--backend python runs ONNX models only (with ONNX Runtime); an engine needs Triton's "
                         "TensorRT backend")
    batch, note = choose_batch(io, opts.max_batch, python)
    class_names, source = names.resolve_names(model, io.metadata, io.class_count, opts.names_file)
    platform = "python" if python else ("tensorrt_plan" if io.engine else "onnxruntime_onnx")
    kind = "cpu" if python and opts.kind == "auto" else opts.kind
    if io.engine and kind == "cpu":
        raise InputError("--kind cpu: a TensorRT engine runs on a GPU")
    text = config_text(name, io, batch=batch, instances=opts.instances, kind=kind, backend=platform,
                       parameters=_parameters(io, class_names, source))
    folder = opts.repository.expanduser() / name
    if folder.exists():
        if not opts.force:
            raise InputError(f"{folder} exists; choose another --name, or --force to replace it")
        if not (folder / "config.pbtxt").is_file():
            raise InputError(f"{folder} exists and holds no config.pbtxt; it is not replaced")
        shutil.rmtree(folder)
    version = folder / str(opts.version)
    files: list[Path] = []
    try:
        version.mkdir(parents=True)
        if io.engine:
            from trt_viewer.backends.trt.plan import read_engine_file

            target = version / "model.plan"  # Triton loads a bare plan: any metadata prefix is left out
            target.write_bytes(read_engine_file(model).plan)
        else:
            target = version / "model.onnx"
            shutil.copyfile(model, target)
        files.append(target)
        if python:
            (version / "model.py").write_text(PYTHON_MODEL, encoding="utf-8")
            files.append(version / "model.py")
        (folder / "config.pbtxt").write_text(text, encoding="utf-8")
        files.append(folder / "config.pbtxt")
        if class_names:
            (folder / LABELS_FILE).write_text("".join(f"{n}\n" for n in class_names), encoding="utf-8")
            files.append(folder / LABELS_FILE)
    except OSError as exc:
        shutil.rmtree(folder, ignore_errors=True)
        raise RunError(f"cannot write the repository {folder}: {exc.strerror or exc}") from None
    return Repository(folder, text, files, batch, class_names, source, note)
