"""TensorRT backend: a serialised engine run with pycuda's pinned memory and one stream.

Per frame: the pinned input goes to the device asynchronously, execute_async_v3 runs on
the same stream, the outputs come back asynchronously, and one synchronize() waits for all
of it. Buffers are allocated once (again only when the input shape changes).

Threading: the device's primary context is pushed in the thread that constructs the
backend; infer(), allocate_input() and close() must run in that same thread (the GUI's
inference QThread, the CLI's main thread). Buffers from allocate_input() are page-locked
memory that close() frees: stop writing into them before closing.
"""

from __future__ import annotations

import logging
import sys
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np

from trt_viewer.backends.base import Backend
from trt_viewer.backends.trt import engine as eng
from trt_viewer.backends.trt.cuda import BufferSet, CudaContext, cuda_failure, free_pinned, pinned_empty
from trt_viewer.backends.trt.log import TrtMessages, create_logger, first_line
from trt_viewer.backends.trt.modules import import_pycuda, require_tensorrt
from trt_viewer.backends.trt.plan import read_engine_file
from trt_viewer.errors import InputError, RunError

if TYPE_CHECKING:
    import tensorrt as trt

LOGGER = logging.getLogger(__name__)


class TensorRTBackend(Backend):
    name = "tensorrt"

    def __init__(self, path: Path, input_size: tuple[int, int] | None = None, device: int = 0) -> None:
        self.path = Path(path)
        self.version = require_tensorrt()
        import tensorrt as trt

        cuda = import_pycuda()
        file = read_engine_file(self.path)
        self.metadata = dict(file.metadata)
        self._closed = False
        self._handed_out: list[np.ndarray] = []
        self._buffers: BufferSet | None = None
        self._ctx = CudaContext(cuda, device)
        try:
            self._messages = TrtMessages()
            self._logger = create_logger(self._messages)  # must outlive runtime and engine
            self._runtime = trt.Runtime(self._logger)
            self._engine = eng.deserialize(self._runtime, file.plan, self._messages, self.path)
            self._tensors = eng.io_tensors(self._engine)
            self._input = eng.one_image_input(self._tensors, self.path.name)
            self._context = self._create_context()
            self._stream = cuda.Stream()
            shape = eng.choose_input_shape(self._input, self.path.name, input_size, file.input_hw)
            self._apply_input_shape(shape)
        except BaseException:
            for exc in self._release():  # the original error is the one to report
                LOGGER.warning("releasing after a failed open: %s", first_line(exc))
            raise

    # -- setup -------------------------------------------------------------------------

    def _create_context(self) -> trt.IExecutionContext:
        with self._messages.capturing():
            try:
                context = self._engine.create_execution_context()
            except Exception as exc:
                raise cuda_failure(self._ctx, exc, f"creating the execution context of {self.path.name}") from None
            if context is None:  # TensorRT logs why: nearly always the activation memory
                need = eng.device_memory_size(self._engine)
                raise RunError(
                    f"cannot create an execution context for {self.path.name}: "
                    f"{self._messages.reason()} (it needs {need / (1 << 20):.1f} MiB; "
                    f"{self._ctx.memory_note()})"
                )
        return context

    def _apply_input_shape(self, shape: eng.Shape) -> None:
        """Set the input shape, read the output shapes it gives, and (re)allocate buffers."""
        name = self._input.name
        with self._messages.capturing():
            if not self._context.set_input_shape(name, shape):
                raise InputError(f"engine {self.path.name} rejects input shape {list(shape)}: {self._messages.reason()}")
        shapes: dict[str, tuple[eng.Shape, np.dtype]] = {}
        for t in self._tensors:
            actual = eng.dims(self._context.get_tensor_shape(t.name))
            if any(d < 0 for d in actual):
                raise InputError(
                    f"output {t.name} of {self.path.name} has a data-dependent shape {list(actual)}, "
                    "which trt_viewer cannot run"
                )
            shapes[t.name] = (actual, t.dtype)
        self._free_buffers()
        self._buffers = BufferSet(self._ctx, shapes)
        for t in self._tensors:
            self._context.set_tensor_address(t.name, self._buffers[t.name].address)
        self._shape = shape
        self.inputs = [self._input.spec()]
        self.outputs = [t.spec(shapes[t.name][0]) for t in self._tensors if not t.is_input]

    # -- Backend interface -------------------------------------------------------------

    @property
    def input_hw(self) -> tuple[int, int]:
        return int(self._shape[2]), int(self._shape[3])

    @property
    def precision(self) -> str:
        return f"{np.dtype(self._input.dtype).name} I/O (TensorRT {self.version})"

    def allocate_input(self) -> np.ndarray:
        """A page-locked [1, 3, H, W] buffer to letterbox into; valid until close()."""
        self._check_usable("allocate_input()")
        for buf in self._handed_out:
            # Held only by this list (and getrefcount's argument): the caller dropped it,
            # so it is handed out again instead of pinning more memory per new pipeline.
            if buf.shape == self._shape and sys.getrefcount(buf) <= 3:
                return buf
        buf = pinned_empty(self._ctx, self._shape, self._input.dtype)
        self._handed_out.append(buf)
        return buf

    def _source(self, image: np.ndarray) -> np.ndarray:
        """Pinned memory holding `image`: the image itself when it is one of our buffers."""
        if image.shape != self._shape:
            raise InputError(f"infer() got an image of shape {list(image.shape)}; the engine takes {list(self._shape)}")
        if image.dtype == self._input.dtype and image.flags.c_contiguous:
            address = image.ctypes.data
            for buf in self._handed_out:
                if buf.ctypes.data == address and buf.shape == image.shape:
                    return image
        assert self._buffers is not None
        staging = self._buffers[self._input.name].host
        try:
            np.copyto(staging, image, casting="same_kind")
        except TypeError:
            raise InputError(
                f"infer() got a {image.dtype} image; the engine's input is {np.dtype(self._input.dtype).name}"
            ) from None
        return staging

    def infer(self, image: np.ndarray) -> dict[str, np.ndarray]:
        """Run one image; the returned arrays are copies the caller may keep."""
        self._check_usable("infer()")
        image = np.asarray(image)
        if image.ndim == 4 and image.shape[:2] == (1, 3) and tuple(image.shape) != self._shape:
            self._reshape(image.shape[2], image.shape[3])
        if self._buffers is None:
            raise RunError(f"{self.path.name} has no I/O buffers after a failed resize; reopen it")
        source = self._source(image)
        cuda, stream, bufs = self._ctx.cuda, self._stream, self._buffers
        try:
            cuda.memcpy_htod_async(bufs[self._input.name].device, source, stream)
            with self._messages.capturing():
                ok = self._context.execute_async_v3(stream.handle)
                if not ok:
                    stream.synchronize()
                    raise RunError(f"TensorRT could not run {self.path.name}: {self._messages.reason()}")
            for spec in self.outputs:
                cuda.memcpy_dtoh_async(bufs[spec.name].host, bufs[spec.name].device, stream)
            stream.synchronize()
        except cuda.Error as exc:
            raise cuda_failure(self._ctx, exc, f"while running {self.path.name}") from None
        return {spec.name: bufs[spec.name].host.copy() for spec in self.outputs}

    def _reshape(self, h: int, w: int) -> None:
        shape = eng.choose_input_shape(self._input, self.path.name, (h, w))
        self._stream.synchronize()
        self._apply_input_shape(shape)

    def describe(self) -> dict[str, Any]:
        info = super().describe()
        info.update(
            tensorrt=self.version,
            device=self._ctx.device_name,
            device_memory_mb=round(eng.device_memory_size(self._engine) / (1 << 20), 1),
            profiles=[p.describe() for p in self._input.profiles],
        )
        return info

    # -- teardown ----------------------------------------------------------------------

    def _check_usable(self, what: str) -> None:
        if self._closed:
            raise RunError(f"{what} on a closed TensorRT backend")
        self._ctx.check_thread(what)

    def _free_buffers(self) -> None:
        if self._buffers is not None:
            buffers, self._buffers = self._buffers, None
            buffers.free()

    def close(self) -> None:
        if self._closed:
            return
        self._ctx.check_thread("close()")
        errors = self._release()
        if errors:
            raise RunError(f"closing the TensorRT backend: {first_line(errors[0])}")

    def _release(self) -> list[BaseException]:
        """Give back everything, in the opening thread, with the context still current."""
        self._closed = True
        errors: list[BaseException] = []
        stream = self.__dict__.pop("_stream", None)
        if stream is not None:
            try:
                stream.synchronize()  # nothing may still be copying into what is freed next
            except Exception as exc:
                errors.append(exc)
        for step in (self._free_buffers, lambda: free_pinned(self._handed_out)):
            try:
                step()
            except Exception as exc:  # keep releasing; the first failure is reported
                errors.append(exc)
        # TensorRT objects free their device memory when the last reference goes, which
        # must happen while the context is current: context, engine, runtime, in order.
        for attr in ("_context", "_engine", "_runtime"):
            self.__dict__.pop(attr, None)
        del stream
        try:
            self._ctx.close()
        except Exception as exc:
            errors.append(exc)
        return errors
