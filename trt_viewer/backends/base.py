"""The contract every backend implements (ONNX Runtime, TensorRT, and the test doubles).

A backend is a context manager: opened by its constructor, released by close(). It is
created, used and closed in one thread (a CUDA context belongs to one thread); only
InputBuffer.fill() runs elsewhere (the reader thread).

A frame reaches the model in three steps, the same for every backend:
- allocate_input() hands out an InputBuffer, once per pooled buffer, never per frame;
- buffer.fill(image, preset) takes the frame in the reader thread and returns the
  letterbox ratio (a host buffer letterboxes on the CPU; a device-letterboxing buffer only
  copies the raw frame and letterboxes on the GPU at submit());
- submit(buffer) queues it and returns a Ticket; collect(ticket) waits for its outputs.
  Up to `lanes` frames may be in flight; collect() takes them in submission order.
SyncBackend gives single-lane backends submit/collect for free: they implement run().
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType
from typing import Any, ClassVar

import numpy as np

from trt_viewer.core import preprocess
from trt_viewer.core.preprocess import Preset
from trt_viewer.core.sources import Frame
from trt_viewer.core.spec import TensorSpec
from trt_viewer.errors import RunError

DEFAULT_INPUT_SIZE = (640, 640)

# CU_STREAM_NON_BLOCKING (pycuda has no name for it). Work on a stream created without it
# waits for, and is waited for by, anything on the legacy default stream of the context: a
# synchronous copy, or a library sharing the context (the video decoder) that uses it, would
# queue behind the engine's compute and hold the engine's next frame back.
STREAM_NON_BLOCKING = 1


@dataclass(frozen=True)
class Capabilities:
    """What a backend can do beyond the contract's minimum."""

    gpu_letterbox: bool = False  # allocate_input(gpu_letterbox=True) may give device-letterboxing buffers
    gpu_timing: bool = False  # with `gpu_timing` set, last_timings holds GPU event times per step


@dataclass(frozen=True)
class DeviceContext:
    """The CUDA context a backend runs in, for a decoder whose frames should stay on the
    GPU (run/nvdec.py): the same context, so the letterbox reads them where they are.
    `cuda` is pycuda.driver; `context` the primary context the backend retains."""

    cuda: Any
    context: Any
    device: int = 0

    def stream(self) -> Any:
        """A new stream of this context that never waits on the legacy default stream
        (STREAM_NON_BLOCKING). Create it with the context current."""
        return self.cuda.Stream(STREAM_NON_BLOCKING)

    @contextmanager
    def current(self) -> Iterator[None]:
        """The context current in this thread for the block (pushed and popped where it
        was not: a source opened in a helper thread)."""
        current = self.cuda.Context.get_current()
        if current is not None and current.handle == self.context.handle:
            yield
            return
        self.context.push()
        try:
            yield
        finally:
            self.cuda.Context.pop()


class InputBuffer(ABC):
    """Where one frame waits for the model between the reader and submit()."""

    on_gpu: ClassVar[bool] = False  # letterboxed on the GPU at submit(), not in fill()
    takes_device: ClassVar[bool] = False  # fill_device() takes a frame decoded on the GPU

    @abstractmethod
    def fill(self, image: np.ndarray, preset: Preset) -> float:
        """Take `image` (BGR uint8 HxWx3) for the model; return the letterbox ratio.
        Runs in the reader thread: plain memory work, no call into the backend's runtime."""

    def fill_device(self, image: Any, preset: Preset) -> float:
        """Take a frame decoded on the GPU (core.device_frames.DeviceImage) without
        copying it to the host; return the letterbox ratio. Runs in the backend's thread."""
        raise RunError(f"{type(self).__name__} takes host pixels, not a frame on the GPU")

    def take(self, frame: Frame, preset: Preset) -> float:
        """A source's frame for the model: where it was decoded on the GPU and this buffer
        takes that, it stays there; otherwise its host pixels are filled in."""
        if frame.device is not None and self.takes_device:
            return self.fill_device(frame.device, preset)
        return self.fill(frame.host_image(), preset)


class HostInput(InputBuffer):
    """The model's input tensor in host memory, letterboxed on the CPU (page-locked
    memory where the backend gives it: TensorRT then uploads it asynchronously)."""

    def __init__(self, array: np.ndarray) -> None:
        self.array = array  # [1, 3, H, W]; the backend checks it against its input

    @property
    def input_hw(self) -> tuple[int, int]:
        return int(self.array.shape[2]), int(self.array.shape[3])

    def fill(self, image: np.ndarray, preset: Preset) -> float:
        return preprocess.letterbox(image, self.input_hw, self.array, preset)[1]


class Ticket:
    """A frame given to submit(); collect() takes tickets in submission order."""


class Done(Ticket):
    """A frame computed at submit() (a single-lane backend): collect() hands it over."""

    def __init__(self, outputs: dict[str, np.ndarray]) -> None:
        self.outputs = outputs


class Backend(ABC):
    name: ClassVar[str] = "backend"
    capabilities: ClassVar[Capabilities] = Capabilities()
    path: Path
    inputs: list[TensorSpec]
    outputs: list[TensorSpec]
    metadata: dict[str, str]  # free-form strings stored with the model (class names...)
    # Classes the model was made for, where its graph or metadata says and its outputs do
    # not (an end-to-end model ending in NMS); None where unknown or the outputs tell.
    class_count_hint: int | None = None
    lanes: int = 1  # frames that may be in flight (submitted, not yet collected)
    gpu_timing: bool = False  # set by the bench where capabilities.gpu_timing: time each step on the GPU
    # Seconds per step of the last collected frame, where the backend reports them.
    last_timings: Mapping[str, float] = MappingProxyType({})
    letterbox_note: str | None = None  # why a GPU letterbox asked for was not given

    @property
    def input(self) -> TensorSpec:
        return self.inputs[0]

    @property
    @abstractmethod
    def input_hw(self) -> tuple[int, int]:
        """(H, W) the model is run at; dynamic models get a concrete size when opened."""

    @property
    def precision(self) -> str:
        """What the user sees in the model panel: fp32, fp16, int8..."""
        return str(np.dtype(self.input.dtype).name)

    def device_context(self) -> DeviceContext | None:
        """The CUDA context frames decoded on the GPU can be shared in; None where this
        backend takes frames in host memory only."""
        return None

    def allocate_input(self, gpu_letterbox: bool = False) -> InputBuffer:
        """A buffer for one frame, valid until close(). gpu_letterbox asks for one that
        letterboxes on the device; a backend that cannot gives a HostInput (and says why
        in letterbox_note)."""
        return HostInput(np.empty((1, 3, *self.input_hw), np.dtype(self.input.dtype)))

    @abstractmethod
    def submit(self, buffer: InputBuffer) -> Ticket:
        """Queue one filled buffer; it must not be filled again until collected."""

    @abstractmethod
    def collect(self, ticket: Ticket, copy: bool = True) -> dict[str, np.ndarray]:
        """The outputs of the oldest frame in flight (`ticket`). copy=False may return the
        backend's own buffers, valid until `lanes` more frames are submitted."""

    def infer(self, tensor: InputBuffer | np.ndarray) -> dict[str, np.ndarray]:
        """One frame start to end; the returned arrays belong to the caller. An array is
        taken as the letterboxed [1, 3, H, W] input tensor."""
        buffer = tensor if isinstance(tensor, InputBuffer) else HostInput(np.asarray(tensor))
        return self.collect(self.submit(buffer))

    def describe(self) -> dict[str, Any]:
        return {
            "backend": self.name,
            "model": str(self.path),
            "precision": self.precision,
            "input_size": list(self.input_hw),
            "lanes": self.lanes,
            "inputs": [s.describe() for s in self.inputs],
            "outputs": [s.describe() for s in self.outputs],
        }

    def close(self) -> None:  # noqa: B027 - a backend with nothing to release needs no override
        pass

    def __enter__(self) -> Backend:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


class SyncBackend(Backend):
    """A backend that runs one frame at a time: submit() runs it, collect() hands it over."""

    @abstractmethod
    def run(self, tensor: np.ndarray) -> dict[str, np.ndarray]:
        """Infer one letterboxed input tensor; the returned arrays are the caller's."""

    def submit(self, buffer: InputBuffer) -> Ticket:
        return Done(self.run(host_tensor(buffer, self.name)))

    def collect(self, ticket: Ticket, copy: bool = True) -> dict[str, np.ndarray]:
        return done_outputs(ticket)


def host_tensor(buffer: InputBuffer, backend: str) -> np.ndarray:
    if not isinstance(buffer, HostInput):
        raise RunError(f"the {backend} backend takes input tensors in host memory, not {type(buffer).__name__}")
    return buffer.array


def done_outputs(ticket: Ticket) -> dict[str, np.ndarray]:
    if not isinstance(ticket, Done):
        raise RunError(f"collect() got a {type(ticket).__name__} this backend did not hand out")
    return ticket.outputs
