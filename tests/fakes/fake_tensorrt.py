"""A strict double of the `tensorrt` module, in the styles of TensorRT 8.6, 10 and 11.

Only names the real module has are defined (a test checks each against tensorrt-stubs),
and each style drops what that version lacks: 8.6 has no IProgressMonitor and needs the
EXPLICIT_BATCH flag; 11 has no FP16/INT8 builder flags, no calibrators and no
device_memory_size. Objects refuse undeclared attributes (see strict.py).

The "serialized engine" the builder writes is MAGIC + a JSON header (TensorRT version,
compute capability, I/O tensors, profile, precision) + the ONNX bytes it was built from.
The execution context runs that ONNX with ONNX Runtime, reading its input from the
device memory at the address given by set_tensor_address and writing its outputs to
theirs, on the stream given to execute_async_v3: a backend that skips a copy or a
synchronize gets wrong numbers. Device memory comes from a `DeviceMemory` (the fake GPU
of fake_pycuda, or real pycuda in the GPU tests).
"""

from __future__ import annotations

import json
import types
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, ClassVar, Protocol

import numpy as np
import onnx
import onnxruntime as ort
from onnx import TensorProto

from .strict import FakeEnum, Strict, make_enum

MAGIC = b"FAKETRT\x00"
ONNX_TO_DTYPE = {
    TensorProto.FLOAT: "FLOAT",
    TensorProto.FLOAT16: "HALF",
    TensorProto.INT8: "INT8",
    TensorProto.UINT8: "UINT8",
    TensorProto.INT32: "INT32",
    TensorProto.INT64: "INT64",
    TensorProto.BOOL: "BOOL",
}
NUMPY = {"FLOAT": np.float32, "HALF": np.float16, "INT8": np.int8, "UINT8": np.uint8,
         "INT32": np.int32, "INT64": np.int64, "BOOL": np.bool_}
# Ops the fake ONNX parser accepts: those of tests/modelgen.py and YOLOX exports, plus
# TensorRT's NMS plugin. Anything else fails to parse, as unknown ops do in TensorRT.
SUPPORTED_OPS = frozenset({
    "Add", "AveragePool", "Cast", "Concat", "Constant", "Conv", "Div", "Exp", "Gather", "Greater", "Identity",
    "MaxPool", "Mul", "ReduceSum", "Reshape", "Resize", "Shape", "Sigmoid", "Slice", "Split", "Squeeze", "Sub",
    "TopK", "Transpose", "Unsqueeze", "QuantizeLinear", "DequantizeLinear", "EfficientNMS_TRT",
})


class DeviceMemory(Protocol):
    def read(self, address: int, nbytes: int) -> bytes: ...
    def write(self, address: int, data: bytes) -> None: ...
    def run_on_stream(self, handle: int, work: Callable[[], None]) -> None: ...
    def reserve(self, nbytes: int, api: str = ...) -> int: ...
    def release(self, address: int) -> None: ...


@dataclass(frozen=True)
class Style:
    version: str
    fp16_int8_flags: bool  # BuilderFlag.FP16/INT8 (gone in 11: strongly typed only)
    calibration: bool  # IInt8EntropyCalibrator2, IBuilderConfig.int8_calibrator (gone in 11)
    progress_monitor: bool  # IProgressMonitor (since 10)
    memory_v1: bool  # ICudaEngine.device_memory_size (gone in 11)
    memory_v2: bool  # ICudaEngine.device_memory_size_v2 (since 10.1)
    needs_explicit_batch: bool  # networks are implicit-batch unless asked (before 10)


STYLES = {
    "8.6": Style("8.6.1.6", True, True, False, True, False, True),
    "10": Style("10.13.0.35", True, True, True, True, True, False),
    "11": Style("11.2.0.12", False, False, True, False, True, False),
}


@dataclass
class Device:
    memory: DeviceMemory
    name: str = "Fake GPU"
    compute: str = "8.6"


def make_tensorrt(style: Style, device: Device) -> types.ModuleType:
    """A fresh `tensorrt` module of the given style, computing on `device`."""
    m = types.ModuleType("tensorrt")
    m.__version__ = style.version  # type: ignore[attr-defined]

    # -- enums ---------------------------------------------------------------------------
    DataType = make_enum("DataType", {"FLOAT": 0, "HALF": 1, "INT8": 2, "INT32": 3, "BOOL": 4, "UINT8": 5,
                                      "FP8": 6, "BF16": 7, "INT64": 8})
    TensorIOMode = make_enum("TensorIOMode", {"NONE": 0, "INPUT": 1, "OUTPUT": 2})
    flags = {"DEBUG": 2, "GPU_FALLBACK": 3, "REFIT": 4, "DISABLE_TIMING_CACHE": 5, "TF32": 6}
    if style.fp16_int8_flags:
        flags.update(FP16=0, INT8=1)
    BuilderFlag = make_enum("BuilderFlag", flags)
    creation = {} if style.needs_explicit_batch else {"STRONGLY_TYPED": 1}  # since 9
    if style.needs_explicit_batch or style.memory_v1:  # present before 11 (ignored in 10)
        creation["EXPLICIT_BATCH"] = 0
    NetworkDefinitionCreationFlag = make_enum("NetworkDefinitionCreationFlag", creation)
    MemoryPoolType = make_enum("MemoryPoolType", {"WORKSPACE": 0, "DLA_MANAGED_SRAM": 1})
    Severity = make_enum("Severity", {"INTERNAL_ERROR": 0, "ERROR": 1, "WARNING": 2, "INFO": 3, "VERBOSE": 4})

    class ILogger:
        """Base of Python loggers; TensorRT insists its __init__ is called."""

        def __init__(self) -> None:
            self._initialised = True

        def log(self, severity: FakeEnum, msg: str) -> None:
            raise NotImplementedError

    ILogger.Severity = Severity  # type: ignore[attr-defined]
    for member in Severity.__members__.values():  # type: ignore[attr-defined]
        setattr(ILogger, member.name, member)

    def say(logger: Any, severity: str, msg: str) -> None:
        logger.log(getattr(Severity, severity), msg)

    def check_logger(logger: Any, who: str) -> None:
        if not getattr(logger, "_initialised", False):
            raise TypeError(f"{who}: the logger's ILogger.__init__() was not called")

    class Dims:
        def __init__(self, shape: Any = ()) -> None:
            self._d = tuple(int(v) for v in shape)

        def __len__(self) -> int:
            return len(self._d)

        def __getitem__(self, i: Any) -> Any:
            return self._d[i]

        def __eq__(self, other: object) -> bool:
            return tuple(other) == self._d if isinstance(other, (tuple, list, Dims)) else False  # type: ignore[arg-type]

        def __repr__(self) -> str:
            return f"({', '.join(map(str, self._d))})"

    def as_shape(value: Any) -> tuple[int, ...]:
        if isinstance(value, Dims):
            return value._d
        if isinstance(value, (tuple, list)):
            return tuple(int(v) for v in value)
        raise TypeError(f"incompatible shape argument {value!r}")

    class IHostMemory(bytes):
        @property
        def nbytes(self) -> int:
            return len(self)

        @property
        def dtype(self) -> Any:
            return DataType.UINT8  # type: ignore[attr-defined]

    # -- runtime -------------------------------------------------------------------------

    class Runtime(Strict):
        def __init__(self, logger: Any) -> None:
            check_logger(logger, "Runtime")
            self._logger = logger

        @property
        def logger(self) -> Any:
            return self._logger

        def deserialize_cuda_engine(self, serialized_engine: Any) -> ICudaEngine | None:
            data = bytes(serialized_engine)
            if not data.startswith(MAGIC):
                say(self._logger, "ERROR", "1: [runtime.cpp::parsePlan::314] Error Code 1: Serialization "
                    "(Serialization assertion plan->header.magicTag == rt::kPLAN_MAGIC_TAG failed.)")
                return None
            n = int.from_bytes(data[8:12], "little")
            header = json.loads(data[12 : 12 + n])
            if header["version"].split(".")[:2] != style.version.split(".")[:2]:
                say(self._logger, "ERROR", "IRuntime::deserializeCudaEngine: Error Code 1: Serialization "
                    "(Serialization assertion stdVersionRead == kSERIALIZATION_VERSION failed.Version tag does "
                    f"not match. Note: Current Version: {style.version}, "
                    f"Serialized Engine Version: {header['version']})")
                return None
            if header["compute"] != device.compute:
                say(self._logger, "ERROR", "IRuntime::deserializeCudaEngine: Error Code 1: Serialization "
                    "(The engine plan file is generated on an incompatible device, expecting compute "
                    f"{device.compute} got compute {header['compute']}, please rebuild.)")
                return None
            if header["device"] != device.name:
                say(self._logger, "WARNING", "Using an engine plan file across different models of devices is "
                    "not recommended and is likely to affect performance or even cause errors.")
            onnx_bytes = data[12 + n :]
            try:
                weights = device.memory.reserve(len(onnx_bytes), "engine weights")
            except Exception:
                say(self._logger, "ERROR", "IRuntime::deserializeCudaEngine: Error Code 2: OutOfMemory "
                    f"(Requested size was {len(onnx_bytes)} bytes.)")
                return None
            return ICudaEngine(header, onnx_bytes, weights, self._logger)

    class ICudaEngine(Strict):
        def __init__(self, header: dict[str, Any], onnx_bytes: bytes, weights: int, logger: Any) -> None:
            self._header = header
            self._onnx = onnx_bytes
            self._weights = weights
            self._logger = logger
            self._io = header["io"]
            self._by_name = {t["name"]: t for t in self._io}
            self._session: ort.InferenceSession | None = None

        def __del__(self) -> None:
            device.memory.release(self._weights)

        def _run_session(self) -> ort.InferenceSession:
            if self._session is None:
                options = ort.SessionOptions()
                options.log_severity_level = 3
                self._session = ort.InferenceSession(self._onnx, options, providers=["CPUExecutionProvider"])
            return self._session

        @property
        def num_io_tensors(self) -> int:
            return len(self._io)

        @property
        def num_optimization_profiles(self) -> int:
            return 1

        def get_tensor_name(self, index: int) -> str:
            return str(self._io[index]["name"])

        def _tensor(self, name: str) -> dict[str, Any]:
            if name not in self._by_name:
                raise RuntimeError(f"no tensor named {name}")
            return self._by_name[name]

        def get_tensor_mode(self, name: str) -> Any:
            return TensorIOMode.INPUT if self._tensor(name)["input"] else TensorIOMode.OUTPUT  # type: ignore[attr-defined]

        def get_tensor_shape(self, name: str) -> Dims:
            return Dims(self._tensor(name)["shape"])

        def get_tensor_dtype(self, name: str) -> Any:
            return getattr(DataType, self._tensor(name)["dtype"])

        def get_tensor_profile_shape(self, name: str, profile_index: int) -> list[Dims]:
            t = self._tensor(name)
            if not t["input"] or profile_index != 0:
                raise RuntimeError("get_tensor_profile_shape: not an input of this profile")
            return [Dims(s) for s in self._header["profile"].get(name, [t["shape"]] * 3)]

        def _memory(self) -> int:
            return int(self._header["activations"])

        def create_execution_context(self) -> IExecutionContext | None:
            try:
                scratch = device.memory.reserve(self._memory(), "activations")
            except Exception:
                say(self._logger, "ERROR", "1: [executionContext.cpp::ExecutionContext::564] Error Code 2: "
                    f"OutOfMemory (Requested size was {self._memory()} bytes.)")
                return None
            return IExecutionContext(self, scratch)

    if style.memory_v1:
        ICudaEngine.device_memory_size = property(lambda self: self._memory())  # type: ignore[attr-defined]
    if style.memory_v2:
        ICudaEngine.device_memory_size_v2 = property(lambda self: self._memory())  # type: ignore[attr-defined]

    class IExecutionContext(Strict):
        def __init__(self, engine: ICudaEngine, scratch: int) -> None:
            self._engine = engine
            self._scratch = scratch
            self._shapes: dict[str, tuple[int, ...]] = {}
            self._addresses: dict[str, int] = {}
            self._out_shapes: dict[tuple[int, ...], dict[str, tuple[int, ...]]] = {}

        def __del__(self) -> None:
            device.memory.release(self._scratch)

        @property
        def engine(self) -> ICudaEngine:
            return self._engine

        def set_input_shape(self, name: str, shape: Any) -> bool:
            t = self._engine._tensor(name)
            dims = as_shape(shape)
            lo, _, hi = self._engine._header["profile"].get(name, [t["shape"]] * 3)
            ok = len(dims) == len(t["shape"]) and all(
                (f < 0 or f == d) and a <= d <= b for f, d, a, b in zip(t["shape"], dims, lo, hi)
            )
            if not ok:
                say(self._engine._logger, "ERROR", "IExecutionContext::setInputShape: Error Code 3: API Usage "
                    f"Error (Parameter check failed, condition: satisfyProfile. Set dimension {list(dims)} for "
                    f"tensor {name} does not satisfy any optimization profiles.)")
                return False
            self._shapes[name] = dims
            return True

        def _inputs(self) -> list[dict[str, Any]]:
            return [t for t in self._engine._io if t["input"]]

        def _input_shape(self, t: dict[str, Any]) -> tuple[int, ...] | None:
            if t["name"] in self._shapes:
                return self._shapes[t["name"]]
            return tuple(t["shape"]) if min(t["shape"]) >= 0 else None

        def get_tensor_shape(self, name: str) -> Dims:
            t = self._engine._tensor(name)
            if t["input"]:
                return Dims(self._input_shape(t) or t["shape"])
            if min(t["shape"]) >= 0:
                return Dims(t["shape"])
            shapes = [self._input_shape(i) for i in self._inputs()]
            if any(s is None for s in shapes):
                return Dims(t["shape"])
            key = tuple(d for s in shapes for d in s)  # type: ignore[union-attr]
            if key not in self._out_shapes:  # ONNX Runtime tells the output shapes for these inputs
                feed = {i["name"]: np.zeros(s, NUMPY[i["dtype"]]) for i, s in zip(self._inputs(), shapes)}
                names = [o.name for o in self._engine._run_session().get_outputs()]
                outs = self._engine._run_session().run(None, feed)
                self._out_shapes[key] = {n: tuple(o.shape) for n, o in zip(names, outs)}
            return Dims(self._out_shapes[key][name])

        def set_tensor_address(self, name: str, memory: int) -> bool:
            self._engine._tensor(name)
            self._addresses[name] = int(memory)
            return True

        def get_tensor_address(self, name: str) -> int:
            return self._addresses.get(name, 0)

        def execute_async_v3(self, stream_handle: int) -> bool:
            missing = [t["name"] for t in self._engine._io if t["name"] not in self._addresses]
            unset = [t["name"] for t in self._inputs() if self._input_shape(t) is None]
            if missing or unset:
                say(self._engine._logger, "ERROR", "IExecutionContext::enqueueV3: Error Code 3: API Usage Error "
                    f"(Parameter check failed: addresses or shapes not set for {missing + unset})")
                return False
            shapes = {t["name"]: self._input_shape(t) for t in self._inputs()}
            outputs = {t["name"]: as_shape(self.get_tensor_shape(t["name"]))
                       for t in self._engine._io if not t["input"]}
            addresses = dict(self._addresses)
            io = {t["name"]: t for t in self._engine._io}

            def compute() -> None:
                feed = {}
                for name, shape in shapes.items():
                    dtype = np.dtype(NUMPY[io[name]["dtype"]])
                    raw = device.memory.read(addresses[name], int(np.prod(shape)) * dtype.itemsize)
                    feed[name] = np.frombuffer(raw, dtype).reshape(shape)
                session = self._engine._run_session()
                results = session.run(None, feed)
                for out, value in zip(session.get_outputs(), results):
                    want = np.dtype(NUMPY[io[out.name]["dtype"]])
                    value = np.ascontiguousarray(value, want).reshape(outputs[out.name])
                    device.memory.write(addresses[out.name], value.tobytes())

            # What the computation writes, for stand-ins that replace it (real_cuda.TimedCudaMemory).
            compute.outputs = {  # type: ignore[attr-defined]
                name: (addresses[name], int(np.prod(shape)) * np.dtype(NUMPY[io[name]["dtype"]]).itemsize)
                for name, shape in outputs.items()
            }
            device.memory.run_on_stream(int(stream_handle), compute)
            return True

    # -- builder -------------------------------------------------------------------------

    class ITensor(Strict):
        def __init__(self, name: str, shape: tuple[int, ...], dtype: Any) -> None:
            self._name, self._shape, self._dtype = name, shape, dtype

        @property
        def name(self) -> str:
            return self._name

        @property
        def shape(self) -> Dims:
            return Dims(self._shape)

        @property
        def dtype(self) -> Any:
            return self._dtype

    class INetworkDefinition(Strict):
        def __init__(self, flags: int) -> None:
            self._flags = flags
            self._inputs: list[ITensor] = []
            self._outputs: list[ITensor] = []
            self._onnx: bytes | None = None

        @property
        def num_inputs(self) -> int:
            return len(self._inputs)

        @property
        def num_outputs(self) -> int:
            return len(self._outputs)

        def get_input(self, index: int) -> ITensor:
            return self._inputs[index]

        def get_output(self, index: int) -> ITensor:
            return self._outputs[index]

        @property
        def _explicit(self) -> bool:
            bit = getattr(NetworkDefinitionCreationFlag, "EXPLICIT_BATCH", None)
            return not style.needs_explicit_batch or bool(bit is not None and self._flags & (1 << int(bit)))

    class ParserError(Strict):
        def __init__(self, desc: str, node: int = -1, op: str = "") -> None:
            self._desc, self._node, self._op = desc, node, op

        def desc(self) -> str:
            return self._desc

        def node(self) -> int:
            return self._node

        def node_operator(self) -> str:
            return self._op

        def __str__(self) -> str:
            return self._desc

    class OnnxParser(Strict):
        def __init__(self, network: INetworkDefinition, logger: Any) -> None:
            check_logger(logger, "OnnxParser")
            self._network = network
            self._logger = logger
            self._errors: list[ParserError] = []

        @property
        def num_errors(self) -> int:
            return len(self._errors)

        def get_error(self, index: int) -> ParserError:
            return self._errors[index]

        def clear_errors(self) -> None:
            self._errors.clear()

        def _fail(self, desc: str, node: int = -1, op: str = "") -> bool:
            self._errors.append(ParserError(desc, node, op))
            say(self._logger, "ERROR", f"ModelImporter.cpp:{node}: {desc}")
            return False

        def parse_from_file(self, model: str) -> bool:
            if not self._network._explicit:
                return self._fail("Network must have explicit batch dimension (use EXPLICIT_BATCH)")
            try:
                proto = onnx.load(model)
            except Exception:
                return self._fail(f"Failed to parse ONNX model from file: {model}")
            graph = proto.graph
            for i, node in enumerate(graph.node):
                if node.op_type not in SUPPORTED_OPS:
                    return self._fail(f"No importer registered for op: {node.op_type}", i, node.op_type)
            inits = {t.name for t in graph.initializer}

            def tensor(v: onnx.ValueInfoProto) -> ITensor:
                tt = v.type.tensor_type
                dims = tuple(d.dim_value if d.HasField("dim_value") else -1 for d in tt.shape.dim)
                return ITensor(v.name, dims, getattr(DataType, ONNX_TO_DTYPE[tt.elem_type]))

            self._network._inputs = [tensor(v) for v in graph.input if v.name not in inits]
            self._network._outputs = [tensor(v) for v in graph.output]
            self._network._onnx = proto.SerializeToString()
            return True

    class IOptimizationProfile(Strict):
        def __init__(self) -> None:
            self._shapes: dict[str, list[tuple[int, ...]]] = {}

        def set_shape(self, input: str, min: Any, opt: Any, max: Any) -> None:  # TensorRT's parameter names
            self._shapes[input] = [as_shape(min), as_shape(opt), as_shape(max)]

        def get_shape(self, input: str) -> list[Dims]:  # TensorRT's parameter name
            return [Dims(s) for s in self._shapes.get(input, [])]

    class ITimingCache(Strict):
        def __init__(self, builds: int) -> None:
            self._builds = builds

        def serialize(self) -> IHostMemory:
            return IHostMemory(b"FAKECACHE" + json.dumps({"builds": self._builds}).encode())

    class IBuilderConfig(Strict):
        _settable: ClassVar[frozenset[str]] = frozenset(
            ({"int8_calibrator"} if style.calibration else set())
            | ({"progress_monitor"} if style.progress_monitor else set())
        )

        def __init__(self) -> None:
            self._flags: set[int] = set()
            self._pools: dict[int, int] = {}
            self._profiles: list[IOptimizationProfile] = []
            self._cache: ITimingCache | None = None
            if style.calibration:
                self.int8_calibrator = None
            if style.progress_monitor:
                self.progress_monitor = None

        def set_flag(self, flag: Any) -> None:
            self._flags.add(int(flag))

        def get_flag(self, flag: Any) -> bool:
            return int(flag) in self._flags

        def set_memory_pool_limit(self, pool: Any, pool_size: int) -> None:
            self._pools[int(pool)] = int(pool_size)

        def get_memory_pool_limit(self, pool: Any) -> int:
            return self._pools.get(int(pool), 1 << 40)

        def add_optimization_profile(self, profile: IOptimizationProfile) -> int:
            self._profiles.append(profile)
            return len(self._profiles) - 1

        @property
        def num_optimization_profiles(self) -> int:
            return len(self._profiles)

        def create_timing_cache(self, serialized_timing_cache: Any) -> ITimingCache | None:
            blob = bytes(serialized_timing_cache)
            if not blob:
                return ITimingCache(0)
            if not blob.startswith(b"FAKECACHE"):
                return None
            return ITimingCache(int(json.loads(blob[9:])["builds"]))

        def set_timing_cache(self, cache: ITimingCache, ignore_mismatch: bool) -> bool:
            self._cache = cache
            return True

        def get_timing_cache(self) -> ITimingCache | None:
            return self._cache

    if style.calibration:
        def set_calibration_profile(self: Any, profile: IOptimizationProfile) -> bool:
            self._calibration_profile = profile
            return True

        IBuilderConfig.set_calibration_profile = set_calibration_profile  # type: ignore[attr-defined]

    class Builder(Strict):
        def __init__(self, logger: Any) -> None:
            check_logger(logger, "Builder")
            self._logger = logger

        @property
        def logger(self) -> Any:
            return self._logger

        def create_network(self, flags: int = 0) -> INetworkDefinition:
            return INetworkDefinition(int(flags))

        def create_builder_config(self) -> IBuilderConfig:
            return IBuilderConfig()

        def create_optimization_profile(self) -> IOptimizationProfile:
            return IOptimizationProfile()

        def build_serialized_network(self, network: INetworkDefinition, config: IBuilderConfig) -> IHostMemory | None:
            if network._onnx is None:
                say(self._logger, "ERROR", "Network has no inputs or outputs: nothing was parsed into it")
                return None
            profile: dict[str, list[tuple[int, ...]]] = {}
            for t in network._inputs:
                given = [p._shapes[t.name] for p in config._profiles if t.name in p._shapes]
                if min(t._shape) < 0 and not given:
                    say(self._logger, "ERROR", "4: [network.cpp::validate::3100] Error Code 4: Internal Error "
                        "(Network has dynamic or shape inputs, but no optimization profile has been defined.)")
                    return None
                if given:
                    lo, opt, hi = given[0]
                    if not all(len(s) == len(t._shape) for s in given[0]) or not all(
                        (f < 0 or f == a == b == c) and a <= b <= c for f, a, b, c in zip(t._shape, lo, opt, hi)
                    ):
                        say(self._logger, "ERROR", f"4: Error Code 4: API Usage Error (profile for {t.name} "
                            f"is invalid: {lo} {opt} {hi} for {t._shape})")
                        return None
                    profile[t.name] = [list(lo), list(opt), list(hi)]
            workspace = config._pools.get(int(MemoryPoolType.WORKSPACE))  # type: ignore[attr-defined]
            if workspace is not None and workspace < (1 << 20):
                say(self._logger, "ERROR", "10: [optimizer.cpp::computeCosts::3728] Error Code 10: Internal Error "
                    "(Could not find any implementation for node /backbone/Conv. Try increasing the workspace "
                    "size with IBuilderConfig::setMemoryPoolLimit().)")
                return None
            int8 = style.fp16_int8_flags and config.get_flag(BuilderFlag.INT8)  # type: ignore[attr-defined]
            calibrated = 0
            calibrator = config.int8_calibrator if style.calibration else None
            if int8 and calibrator is not None:
                calibrated = _calibrate(calibrator, network, profile, device)
            monitor = config.progress_monitor if style.progress_monitor else None
            if monitor is not None and not _report_progress(monitor):
                say(self._logger, "ERROR", "Build was cancelled by the progress monitor.")
                return None
            if config._cache is not None:
                config._cache._builds += 1
            fp16 = style.fp16_int8_flags and config.get_flag(BuilderFlag.FP16)  # type: ignore[attr-defined]
            header = {
                "version": style.version,
                "compute": device.compute,
                "device": device.name,
                "io": [{"name": t.name, "input": True, "shape": list(t._shape), "dtype": t._dtype.name}
                       for t in network._inputs]
                + [{"name": t.name, "input": False, "shape": list(t._shape), "dtype": t._dtype.name}
                   for t in network._outputs],
                "profile": profile,
                "fp16_flag": bool(fp16),
                "int8_flag": bool(int8),
                "calibration_images": calibrated,
                "workspace": workspace,
                "activations": 1 << 20,
            }
            blob = json.dumps(header).encode()
            return IHostMemory(MAGIC + len(blob).to_bytes(4, "little") + blob + network._onnx)

    names: dict[str, Any] = {
        "DataType": DataType, "TensorIOMode": TensorIOMode, "BuilderFlag": BuilderFlag,
        "NetworkDefinitionCreationFlag": NetworkDefinitionCreationFlag, "MemoryPoolType": MemoryPoolType,
        "ILogger": ILogger, "Dims": Dims, "IHostMemory": IHostMemory, "Runtime": Runtime,
        "ICudaEngine": ICudaEngine, "IExecutionContext": IExecutionContext, "ITensor": ITensor,
        "INetworkDefinition": INetworkDefinition, "ParserError": ParserError, "OnnxParser": OnnxParser,
        "IOptimizationProfile": IOptimizationProfile, "ITimingCache": ITimingCache,
        "IBuilderConfig": IBuilderConfig, "Builder": Builder,
    }
    if style.progress_monitor:

        class IProgressMonitor:
            def __init__(self) -> None:
                self._initialised = True

        names["IProgressMonitor"] = IProgressMonitor
    if style.calibration:

        class IInt8EntropyCalibrator2:
            def __init__(self) -> None:
                self._initialised = True

        names["IInt8EntropyCalibrator2"] = IInt8EntropyCalibrator2
    for key, value in names.items():
        setattr(m, key, value)
    return m


def _calibrate(calibrator: Any, network: Any, profile: dict[str, Any], device: Device) -> int:
    """Read every calibration batch from device memory, as TensorRT does."""
    if not getattr(calibrator, "_initialised", False):
        raise TypeError("IInt8EntropyCalibrator2.__init__() was not called")
    batch = int(calibrator.get_batch_size())
    t = network._inputs[0]
    shape = tuple(profile[t.name][1]) if t.name in profile else t._shape
    shape = (batch, *shape[1:])
    used = 0
    while True:
        pointers = calibrator.get_batch([t.name])
        if not pointers:
            break
        raw = device.memory.read(int(pointers[0]), int(np.prod(shape)) * 4)
        values = np.frombuffer(raw, np.float32)
        if not (np.isfinite(values).all() and values.min() >= -3 and values.max() <= 255):
            raise AssertionError("calibration batch does not look like a letterboxed image")
        used += 1
    cache = calibrator.read_calibration_cache()
    if cache is None:
        calibrator.write_calibration_cache(b"fake-calibration-table")
    return used


def _report_progress(monitor: Any) -> bool:
    """Phases and steps as TensorRT 10 reports them; False if the monitor asked to stop."""
    if not getattr(monitor, "_initialised", False):
        raise TypeError("IProgressMonitor.__init__() was not called")
    monitor.phase_start("Building engine", None, 2)
    for step, phase in enumerate(("Tactic selection", "Serialization")):
        monitor.phase_start(phase, "Building engine", 3)
        for inner in range(3):
            if not monitor.step_complete(phase, inner):
                monitor.phase_finish(phase)
                monitor.phase_finish("Building engine")
                return False
        monitor.phase_finish(phase)
        if not monitor.step_complete("Building engine", step):
            monitor.phase_finish("Building engine")
            return False
    monitor.phase_finish("Building engine")
    return True


def read_plan_header(path: Path) -> dict[str, Any]:
    """The header of a fake engine file (after any metadata prefix), for assertions."""
    data = path.read_bytes()
    start = data.find(MAGIC)
    n = int.from_bytes(data[start + 8 : start + 12], "little")
    return json.loads(data[start + 12 : start + 12 + n])  # type: ignore[no-any-return]


def fake_plan(header_changes: dict[str, Any], onnx_path: Path, style: Style, device: Device) -> bytes:
    """A plan as the fake builder would write it for a static model, with changes (to make
    one from another TensorRT version or GPU)."""
    proto = onnx.load(str(onnx_path))
    io = []
    for v, is_input in [(v, True) for v in proto.graph.input] + [(v, False) for v in proto.graph.output]:
        tt = v.type.tensor_type
        io.append({"name": v.name, "input": is_input, "shape": [d.dim_value or -1 for d in tt.shape.dim],
                   "dtype": ONNX_TO_DTYPE[tt.elem_type]})
    header = {"version": style.version, "compute": device.compute, "device": device.name, "io": io,
              "profile": {}, "activations": 1 << 20}
    header.update(header_changes)
    blob = json.dumps(header).encode()
    return MAGIC + len(blob).to_bytes(4, "little") + blob + proto.SerializeToString()



def plan_onnx(path: Path) -> onnx.ModelProto:
    """The ONNX model a fake engine file was built from (what its engine runs)."""
    data = path.read_bytes()
    start = data.find(MAGIC)
    n = int.from_bytes(data[start + 8 : start + 12], "little")
    return onnx.load_from_string(data[start + 12 + n :])
