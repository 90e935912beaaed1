"""`trt-viewer build`: an ONNX model to a TensorRT engine.

Precision follows what the installed TensorRT offers, asked by feature, not version:
- FP16: the FP16 builder flag where it exists (up to 10); TensorRT 11 has only strongly
  typed networks, so the model is converted to FP16 first (fp16.py), I/O kept float32.
- INT8: a model with Q/DQ nodes builds as it is (with the INT8 flag where it exists);
  otherwise calibration images are needed and a TensorRT that calibrates (up to 10).
"""

from __future__ import annotations

import os
import signal
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from trt_viewer import __version__
from trt_viewer.backends import ENGINE_SUFFIXES, check_model_path
from trt_viewer.backends.base import DEFAULT_INPUT_SIZE
from trt_viewer.backends.onnxruntime import graph_class_count
from trt_viewer.backends.trt.calibrator import CalibrationData, can_calibrate, entropy_calibrator
from trt_viewer.backends.trt.cuda import CudaContext
from trt_viewer.backends.trt.log import TrtMessages, create_logger
from trt_viewer.backends.trt.modules import import_pycuda, require_tensorrt
from trt_viewer.backends.trt.onnx_model import OnnxModel, read_onnx
from trt_viewer.backends.trt.plan import with_prefix
from trt_viewer.backends.trt.progress import BuildProgress, progress_monitor
from trt_viewer.core import layouts, names, preprocess
from trt_viewer.core.outputs import check_output_path
from trt_viewer.core.sources import open_source
from trt_viewer.errors import InputError, RunError

if TYPE_CHECKING:
    import tensorrt as trt

GIB = 1 << 30
Shape = tuple[int, int, int, int]


@dataclass
class BuildOptions:
    onnx: Path
    output: Path
    fp16: bool = False
    int8: bool = False
    calib_images: Path | None = None
    workspace_gib: float | None = None
    input_size: tuple[int, int] | None = None
    batch: tuple[int, int, int] | None = None  # min, opt, max
    timing_cache: Path | None = None
    names_file: Path | None = None
    preprocess: str = "auto"
    embed_metadata: bool = False
    device: int = 0


@dataclass
class BuildResult:
    output: Path
    size_bytes: int
    precision: str
    profile: tuple[Shape, Shape, Shape]
    tensorrt: str
    seconds: float
    names_file: Path | None = None
    names_source: str = ""
    notes: list[str] = field(default_factory=list)


def plan_profile(model: OnnxModel, opts: BuildOptions, notes: list[str]) -> tuple[str, Shape, Shape, Shape]:
    """The input's name and its min/opt/max shapes: fixed dims as the model has them."""
    name = model.path.name
    if len(model.inputs) != 1:
        listed = ", ".join(s.describe() for s in model.inputs) or "none"
        raise InputError(f"model {name} has {len(model.inputs)} inputs ({listed}); YOLOX has one")
    spec = model.inputs[0]
    if len(spec.shape) != 4 or (isinstance(spec.shape[1], int) and spec.shape[1] != 3):
        raise InputError(f"model {name} input is {spec.describe()}; expected [1, 3, H, W]")
    n, _, h, w = spec.shape
    if isinstance(n, int):
        if opts.batch and set(opts.batch) != {n}:
            raise InputError(
                f"model {name} has a fixed batch of {n}; --min/--opt/--max-batch need a model "
                "exported with a dynamic batch"
            )
        batch = (n, n, n)
    else:
        batch = opts.batch or (1, 1, 1)
    if not 1 <= batch[0] <= batch[1] <= batch[2]:
        raise InputError(f"batch sizes must satisfy 1 <= min <= opt <= max, got {batch[0]}/{batch[1]}/{batch[2]}")
    if batch[0] != 1:
        raise InputError("the batch range must include 1: trt-viewer runs one image at a time")
    if isinstance(h, int) and isinstance(w, int):
        if opts.input_size and tuple(opts.input_size) != (h, w):
            raise InputError(
                f"model {name} has a fixed {h}x{w} input; --input-size {opts.input_size[0]} "
                f"{opts.input_size[1]} needs a model exported with a dynamic input"
            )
        hw = (h, w)
    elif opts.input_size:
        hw = (int(opts.input_size[0]), int(opts.input_size[1]))
        if (isinstance(h, int) and h != hw[0]) or (isinstance(w, int) and w != hw[1]):
            raise InputError(f"model {name} input is {spec.describe()}; --input-size must keep its fixed side")
    else:
        hw = DEFAULT_INPUT_SIZE
        notes.append(f"the model's input size is dynamic; built for {hw[0]}x{hw[1]} (choose with --input-size H W)")
    shapes = tuple((b, 3, hw[0], hw[1]) for b in batch)
    return spec.name, shapes[0], shapes[1], shapes[2]


def _network_flags() -> int:
    import tensorrt as trt

    # Explicit batch must be asked for before TensorRT 10, which made it the only mode
    # (and deprecated the flag, which it ignores).
    flag = getattr(trt.NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
    return 1 << int(flag) if flag is not None else 0


def _parse(parser: trt.OnnxParser, path: Path, shown: str, messages: TrtMessages) -> None:
    with messages.capturing():
        if parser.parse_from_file(str(path)):
            return
        errors = []
        for i in range(parser.num_errors):
            err = parser.get_error(i)
            where = ""
            with suppress(Exception):  # node details are missing in older parsers
                where = f"node {err.node()} ({err.node_operator()}): " if err.node() >= 0 else ""
            errors.append(f"{where}{err.desc()}")
        reason = "; ".join(errors[:3]) or messages.reason("the parser gave no reason")
    raise InputError(f"TensorRT cannot parse {shown}: {reason}")


@contextmanager
def _cancel_on_interrupt(progress: BuildProgress, enabled: bool) -> Iterator[None]:
    """Ctrl+C asks TensorRT to stop at its next step, instead of killing it mid-build."""
    if not enabled or threading.current_thread() is not threading.main_thread():
        yield
        return

    def handler(signum: int, frame: Any) -> None:
        if progress.cancelled.is_set():
            raise KeyboardInterrupt
        progress.cancelled.set()
        progress.note("stopping the build at TensorRT's next step (Ctrl+C again to force)...")

    previous = signal.signal(signal.SIGINT, handler)
    try:
        yield
    finally:
        signal.signal(signal.SIGINT, previous)


def _write_atomically(path: Path, data: bytes) -> None:
    tmp = path.with_name(path.name + ".part")
    try:
        tmp.write_bytes(data)
        os.replace(tmp, path)
    except OSError as exc:
        tmp.unlink(missing_ok=True)
        raise RunError(f"cannot write {path}: {exc.strerror or exc}") from None


def _check_paths(opts: BuildOptions) -> None:
    check_model_path(opts.onnx)
    if opts.onnx.suffix.lower() != ".onnx":
        raise InputError(f"build takes an ONNX model (.onnx), not {opts.onnx.name}")
    if opts.output.suffix.lower() not in ENGINE_SUFFIXES:
        raise InputError(
            f"engine {opts.output.name} must end in {', '.join(ENGINE_SUFFIXES)} so that trt-viewer can open it"
        )
    check_output_path(opts.output, "engine")
    if opts.timing_cache:
        check_output_path(opts.timing_cache, "timing cache")
    if opts.names_file and not opts.names_file.is_file():
        raise InputError(f"class names file {opts.names_file} does not exist")
    if opts.workspace_gib is not None and opts.workspace_gib <= 0:
        raise InputError("--workspace must be a positive number of GiB")
    if opts.calib_images and not opts.int8:
        raise InputError("--calib-images is for --int8")


def build_engine(opts: BuildOptions, progress: BuildProgress) -> BuildResult:
    started = time.monotonic()
    _check_paths(opts)
    notes: list[str] = []
    model = read_onnx(opts.onnx)
    input_name, *profile = plan_profile(model, opts, notes)
    # Resolved before the build, which can take minutes: a bad names file fails now.
    # End-to-end outputs do not show the class count: the graph's NMS node may.
    num_classes = layouts.num_classes(model.outputs)
    if num_classes is None:
        num_classes = graph_class_count(opts.onnx) or names.metadata_class_count(model.metadata)
    model_names, names_source = names.resolve_names(opts.onnx, model.metadata, num_classes, opts.names_file)
    pmin, popt, pmax = profile
    if opts.int8 and model.quantized and opts.calib_images:
        raise InputError(f"model {opts.onnx.name} is already quantized (Q/DQ nodes): drop --calib-images")
    if opts.int8 and not model.quantized and not opts.calib_images:
        raise InputError("--int8 needs --calib-images DIR (sample images), or a model quantized with Q/DQ nodes")
    calib_source = open_source(str(opts.calib_images)) if opts.int8 and opts.calib_images else None
    if calib_source is not None and calib_source.live:
        raise InputError("--calib-images must be a folder of images")

    version = require_tensorrt()
    import tensorrt as trt

    fp16_flag = opts.fp16 and hasattr(trt.BuilderFlag, "FP16")
    if calib_source is not None and not can_calibrate():
        raise InputError(
            f"TensorRT {version} cannot calibrate INT8: it builds INT8 only from models quantized "
            "with Q/DQ nodes (e.g. by NVIDIA ModelOpt); quantize the model, or use TensorRT 10"
        )
    precision = "int8" if opts.int8 else "fp16" if opts.fp16 else "fp32"
    if opts.int8 and opts.fp16:
        precision = "int8+fp16"

    ctx: CudaContext | None = None
    calib: CalibrationData | None = None
    with tempfile.TemporaryDirectory(prefix="trt-viewer-build-") as tmp:
        try:
            parse_path = opts.onnx
            if opts.fp16 and not fp16_flag:
                from trt_viewer.backends.trt.fp16 import write_fp16_copy

                progress.note(f"converting {opts.onnx.name} to FP16 (TensorRT {version} has no FP16 builder flag)")
                parse_path = Path(tmp) / f"{opts.onnx.stem}.fp16.onnx"
                write_fp16_copy(opts.onnx, parse_path)

            messages = TrtMessages()
            logger = create_logger(messages)
            builder = trt.Builder(logger)
            network = builder.create_network(_network_flags())
            parser = trt.OnnxParser(network, logger)
            progress.note(f"parsing {opts.onnx.name}")
            _parse(parser, parse_path, opts.onnx.name, messages)

            config = builder.create_builder_config()
            if opts.workspace_gib is not None:
                config.set_memory_pool_limit(trt.MemoryPoolType.WORKSPACE, int(opts.workspace_gib * GIB))
            if fp16_flag:
                config.set_flag(trt.BuilderFlag.FP16)
            if opts.int8 and hasattr(trt.BuilderFlag, "INT8"):
                config.set_flag(trt.BuilderFlag.INT8)
            profile_obj = None
            if pmin != pmax or _network_input_dynamic(network):
                profile_obj = builder.create_optimization_profile()
                profile_obj.set_shape(input_name, trt.Dims(list(pmin)), trt.Dims(list(popt)), trt.Dims(list(pmax)))
                config.add_optimization_profile(profile_obj)
            if calib_source is not None:
                ctx = CudaContext(import_pycuda(), opts.device)
                preset = preprocess.resolve_preset(opts.preprocess, model.metadata)
                calib = CalibrationData(ctx, calib_source, popt, model.inputs[0].dtype, preset, progress)
                config.int8_calibrator = entropy_calibrator(calib)
                if profile_obj is not None and hasattr(config, "set_calibration_profile"):
                    config.set_calibration_profile(profile_obj)
            monitor = None
            if hasattr(trt, "IProgressMonitor"):
                monitor = progress_monitor(progress)  # referenced until the build returns
                config.progress_monitor = monitor
            else:
                progress.note(f"TensorRT {version} reports no progress; building can take minutes")
            _load_timing_cache(config, opts.timing_cache)

            shape_note = f"{popt[2]}x{popt[3]}" + (f", batch {pmin[0]}-{pmax[0]}" if pmax[0] > 1 else "")
            progress.note(f"building a {precision} engine for {shape_note} with TensorRT {version}")
            with _cancel_on_interrupt(progress, monitor is not None), messages.capturing():
                plan = builder.build_serialized_network(network, config)
                progress.finish()
                if plan is None:
                    if progress.cancelled.is_set():
                        raise RunError("build cancelled")
                    raise RunError(f"TensorRT could not build the engine: {messages.reason()}")
            data = bytes(memoryview(plan))
            timing_cache = None
            if opts.timing_cache:  # the cache the build used, now holding its new timings
                timing_cache = bytes(memoryview(config.get_timing_cache().serialize()))
        finally:
            progress.finish()
            if calib is not None:
                calib.free()
            if ctx is not None:
                ctx.close()

    if opts.embed_metadata:
        meta: dict[str, Any] = dict(model.metadata)
        meta.update(imgsz=[popt[2], popt[3]], batch=pmax[0], trt_viewer=__version__, precision=precision)
        if num_classes is not None:  # for end-to-end engines, whose outputs do not show it
            meta["num_classes"] = num_classes
        if names_source != names.NONE_FOUND:
            meta["names"] = {i: n for i, n in enumerate(model_names)}
        data = with_prefix(data, meta)
    _write_atomically(opts.output, data)
    if timing_cache is not None and opts.timing_cache:
        _write_atomically(opts.timing_cache, timing_cache)

    names_path = None
    if names_source != names.NONE_FOUND:
        names_path = opts.output.with_suffix(".names")
        _write_atomically(names_path, ("\n".join(model_names) + "\n").encode("utf-8"))
    stated = model.metadata.get("preprocess", "").strip().lower()
    if stated == "legacy" and not opts.embed_metadata:
        notes.append(
            "the model's metadata asks for the legacy preprocessing, which the engine cannot carry: "
            "run it with --preprocess legacy, or build with --embed-metadata"
        )
    return BuildResult(
        opts.output, len(data), precision, (pmin, popt, pmax), version, time.monotonic() - started,
        names_path, names_source, notes,
    )


def _network_input_dynamic(network: trt.INetworkDefinition) -> bool:
    shape = network.get_input(0).shape
    return any(int(shape[i]) < 0 for i in range(len(shape)))


def _load_timing_cache(config: trt.IBuilderConfig, path: Path | None) -> None:
    if path is None:
        return
    blob = b""
    if path.is_file():
        try:
            blob = path.read_bytes()
        except OSError as exc:
            raise InputError(f"cannot read timing cache {path}: {exc.strerror or exc}") from None
    cache = config.create_timing_cache(blob)
    if cache is None or not config.set_timing_cache(cache, False):
        raise InputError(f"timing cache {path} is not one this TensorRT can use; delete it to start afresh")
