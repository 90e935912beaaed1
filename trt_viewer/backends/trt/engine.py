"""Deserialising an engine and reading its I/O tensors through the named-tensor API.

Only the named-tensor API is used (TensorRT 8.5 and later); where versions differ, the
code asks the object what it has (hasattr), never the version string.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING

import numpy as np

from trt_viewer.backends.trt.log import TrtMessages
from trt_viewer.core.spec import TensorSpec
from trt_viewer.errors import InputError, RunError, TrtViewerError

if TYPE_CHECKING:
    import tensorrt as trt

Shape = tuple[int, ...]
# TensorRT DataType names to numpy; BF16, FP8, INT4 and FP4 have no numpy type.
DTYPES = {
    "FLOAT": np.float32,
    "HALF": np.float16,
    "INT8": np.int8,
    "UINT8": np.uint8,
    "INT32": np.int32,
    "INT64": np.int64,
    "BOOL": np.bool_,
}


@dataclass(frozen=True)
class Profile:
    min: Shape
    opt: Shape
    max: Shape

    def describe(self) -> dict[str, list[int]]:
        return {"min": list(self.min), "opt": list(self.opt), "max": list(self.max)}


@dataclass(frozen=True)
class IOTensor:
    name: str
    is_input: bool
    shape: Shape  # -1 where dynamic
    dtype: np.dtype
    profiles: tuple[Profile, ...] = ()  # inputs only, one per optimisation profile

    @property
    def dynamic(self) -> bool:
        return any(d < 0 for d in self.shape)

    def spec(self, shape: Shape | None = None) -> TensorSpec:
        dims = self.shape if shape is None else shape
        return TensorSpec(self.name, tuple(d if d >= 0 else None for d in dims), self.dtype)

    def describe(self) -> dict[str, object]:
        info: dict[str, object] = {
            "name": self.name,
            "mode": "input" if self.is_input else "output",
            "shape": list(self.shape),
            "dtype": np.dtype(self.dtype).name,
        }
        if self.profiles:
            info["profiles"] = [p.describe() for p in self.profiles]
        return info


def dims(d: trt.Dims) -> Shape:
    return tuple(int(d[i]) for i in range(len(d)))


def numpy_dtype(dtype: trt.DataType, tensor: str) -> np.dtype:
    name = getattr(dtype, "name", str(dtype)).split(".")[-1]
    if name not in DTYPES:
        raise InputError(f"tensor {tensor} has TensorRT type {name}, which trt_viewer cannot handle")
    return np.dtype(DTYPES[name])


def io_tensors(engine: trt.ICudaEngine) -> list[IOTensor]:
    import tensorrt as trt

    tensors = []
    for i in range(engine.num_io_tensors):
        name = engine.get_tensor_name(i)
        is_input = engine.get_tensor_mode(name) == trt.TensorIOMode.INPUT
        shape = dims(engine.get_tensor_shape(name))
        profiles: tuple[Profile, ...] = ()
        if is_input and any(d < 0 for d in shape):  # fixed inputs have nothing to choose
            profiles = tuple(
                Profile(*(dims(d) for d in engine.get_tensor_profile_shape(name, p)))
                for p in range(engine.num_optimization_profiles)
            )
        tensors.append(IOTensor(name, is_input, shape, numpy_dtype(engine.get_tensor_dtype(name), name), profiles))
    return tensors


def device_memory_size(engine: trt.ICudaEngine) -> int:
    # device_memory_size_v2 (TensorRT 10.1+) counts weight streaming; 11 has only it.
    if hasattr(engine, "device_memory_size_v2"):
        return int(engine.device_memory_size_v2)
    return int(engine.device_memory_size)


def explain_load_failure(path: Path, reason: str) -> TrtViewerError:
    compact = reason.lower().replace(" ", "")
    if "magictag" in compact:
        return InputError(
            f"{path.name} is not a TensorRT engine, or one from an incompatible TensorRT "
            f"(TensorRT: {reason})"
        )
    if "version" in compact:
        return InputError(
            f"engine {path.name} was built by another TensorRT version; rebuild it with this one "
            f"(TensorRT: {reason})"
        )
    if "device" in compact or "compute" in compact or "platform" in compact:
        return InputError(f"engine {path.name} was built for another GPU; rebuild it on this one (TensorRT: {reason})")
    if "outofmemory" in compact or "out_of_memory" in compact:
        return RunError(f"out of GPU memory loading engine {path.name} (TensorRT: {reason})")
    return InputError(f"TensorRT cannot load engine {path.name}: {reason}")


def deserialize(runtime: trt.Runtime, plan: bytes, messages: TrtMessages, path: Path) -> trt.ICudaEngine:
    with messages.capturing():
        try:
            engine = runtime.deserialize_cuda_engine(plan)
        except Exception as exc:  # some versions raise instead of returning None
            raise explain_load_failure(path, str(exc).strip() or type(exc).__name__) from None
        if engine is None:
            raise explain_load_failure(path, messages.reason("deserialisation failed"))
    return engine


def one_image_input(tensors: list[IOTensor], model: str) -> IOTensor:
    inputs = [t for t in tensors if t.is_input]
    if len(inputs) != 1:
        names = ", ".join(t.spec().describe() for t in inputs) or "none"
        raise InputError(f"model {model} has {len(inputs)} inputs ({names}); YOLOX has one")
    tensor = inputs[0]
    if len(tensor.shape) != 4 or tensor.shape[1] not in (3, -1):
        raise InputError(f"model {model} input is {tensor.spec().describe()}; expected [1, 3, H, W]")
    return tensor


def _fmt(shape: Shape) -> str:
    return f"{shape[2]}x{shape[3]}"


def choose_input_shape(
    tensor: IOTensor,
    model: str,
    requested: tuple[int, int] | None = None,
    stated: tuple[int, int] | None = None,
) -> Shape:
    """The [1, 3, H, W] shape to run: a fixed input as it is; a dynamic one at the requested
    size, else the size the model's metadata states, else its first profile's opt shape."""
    n, _, h, w = tensor.shape
    if not tensor.dynamic:
        if n != 1:
            raise InputError(
                f"model {model} has a fixed batch of {n}; trt_viewer runs one image at a time "
                "(build the engine with batch 1)"
            )
        if requested and tuple(requested) != (h, w):
            raise InputError(
                f"model {model} has a fixed {h}x{w} input; it cannot run at {requested[0]}x{requested[1]}"
            )
        return tensor.shape
    if not tensor.profiles:
        raise InputError(f"engine {model} has a dynamic input but no optimisation profile")
    prof = tensor.profiles[0]
    if not prof.min[0] <= 1 <= prof.max[0]:
        raise InputError(
            f"engine {model} runs batches of {prof.min[0]} to {prof.max[0]}; trt_viewer runs one "
            "image at a time (build it with a profile that includes batch 1)"
        )

    def allowed(hw: tuple[int, int]) -> bool:
        in_profile = all(prof.min[i] <= v <= prof.max[i] for i, v in ((2, hw[0]), (3, hw[1])))
        return in_profile and h in (-1, hw[0]) and w in (-1, hw[1])

    if requested:
        hw = (int(requested[0]), int(requested[1]))
        if not allowed(hw):
            raise InputError(
                f"engine {model} cannot run at {hw[0]}x{hw[1]}: its profile allows "
                f"{_fmt(prof.min)} to {_fmt(prof.max)}"
            )
    elif stated and allowed(stated):
        hw = stated
    else:
        hw = (prof.opt[2], prof.opt[3])
    return (1, 3, hw[0], hw[1])
