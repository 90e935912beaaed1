"""The CUDA side of an engine through pycuda: the device's primary context, pinned and
device buffers, one stream.

A CUDA context is current per thread. The primary context is retained and pushed in the
thread that opens the backend, every CUDA call then runs in that thread, and close() pops
and releases it there. The primary context is the one TensorRT's own CUDA runtime calls
use, so TensorRT and pycuda share it.
"""

from __future__ import annotations

import threading
from dataclasses import dataclass
from typing import Any

import numpy as np

from trt_viewer.errors import InputError, RunError, TrtViewerError, first_line

MIB = 1 << 20


class CudaContext:
    """The primary context of one device, current in the thread that created this object."""

    def __init__(self, cuda: Any, device_index: int = 0) -> None:
        self.cuda = cuda
        try:
            cuda.init()
            count = cuda.Device.count()
        except cuda.Error as exc:
            raise InputError(f"no usable CUDA device: {first_line(exc)}") from None
        if count == 0:
            raise InputError("no CUDA device found")
        if not 0 <= device_index < count:
            raise InputError(f"CUDA device {device_index} does not exist ({count} found)")
        try:
            self.device = cuda.Device(device_index)
            self._context = self.device.retain_primary_context()
        except cuda.Error as exc:
            raise InputError(f"cannot use CUDA device {device_index}: {first_line(exc)}") from None
        try:
            self._context.push()
        except cuda.Error as exc:
            self._context.detach()
            raise InputError(f"cannot use CUDA device {device_index}: {first_line(exc)}") from None
        self.thread = threading.get_ident()
        self.thread_name = threading.current_thread().name
        self.device_index = device_index
        self.open = True

    @property
    def context(self) -> Any:
        """The retained primary context (a decoder on the GPU shares it: backends.base.DeviceContext)."""
        return self._context

    def check_thread(self, what: str) -> None:
        if threading.get_ident() != self.thread:
            raise RunError(
                f"{what} ran in thread {threading.current_thread().name!r} but the CUDA context "
                f"belongs to thread {self.thread_name!r}: create, use and close the TensorRT "
                "backend in one thread"
            )

    @property
    def device_name(self) -> str:
        return str(self.device.name())

    def memory_note(self) -> str:
        """'N MiB of M MiB free', for out-of-memory messages."""
        try:
            free, total = self.cuda.mem_get_info()
        except self.cuda.Error:
            return "free memory unknown"
        return f"{free // MIB} MiB of {total // MIB} MiB free on {self.device_name}"

    def close(self) -> None:
        """Pop and release the context; only in the thread that created it."""
        if not self.open:
            return
        self.check_thread("close()")
        self.open = False
        self.cuda.Context.pop()
        self._context.detach()


@dataclass
class TensorBuffer:
    name: str
    host: np.ndarray  # page-locked, of the tensor's own dtype and current shape
    device: Any  # pycuda DeviceAllocation

    @property
    def address(self) -> int:
        return int(self.device)


class BufferSet:
    """A pinned host buffer and a device buffer for each I/O tensor, for one set of shapes.

    Allocated once; the engine's tensor addresses point at these device buffers while a
    frame of this set runs. The backend keeps one set per frame in flight (lanes.py); new
    sets are made only when an input shape changes.
    """

    def __init__(self, ctx: CudaContext, shapes: dict[str, tuple[tuple[int, ...], np.dtype]]) -> None:
        self.ctx = ctx
        self.buffers: dict[str, TensorBuffer] = {}
        cuda = ctx.cuda
        try:
            for name, (shape, dtype) in shapes.items():
                host = cuda.pagelocked_empty(shape, dtype)
                try:
                    device = cuda.mem_alloc(max(int(host.nbytes), 1))  # 0 bytes: still an address
                except BaseException:
                    free_pinned([host])
                    raise
                self.buffers[name] = TensorBuffer(name, host, device)
        except cuda.MemoryError:
            need = sum(int(np.prod(s)) * np.dtype(d).itemsize for s, d in shapes.values())
            note = ctx.memory_note()
            self.free()
            raise RunError(f"out of GPU memory for the engine's I/O buffers ({need / MIB:.1f} MiB; {note})") from None
        except BaseException:
            self.free()
            raise

    def __getitem__(self, name: str) -> TensorBuffer:
        return self.buffers[name]

    def free(self) -> None:
        errors: list[BaseException] = []
        for buf in self.buffers.values():
            allocation: Any = buf.host.base  # pycuda's PagelockedHostAllocation
            for release in (buf.device.free, allocation.free):
                try:
                    release()
                except Exception as exc:  # keep freeing the rest
                    errors.append(exc)
        self.buffers.clear()
        if errors:
            raise RunError(f"CUDA error while freeing buffers: {first_line(errors[0])}")


def pinned_empty(ctx: CudaContext, shape: tuple[int, ...], dtype: np.dtype, write_combined: bool = False) -> np.ndarray:
    """Page-locked host memory; write-combined for buffers the CPU only writes and the GPU reads."""
    flags = int(ctx.cuda.host_alloc_flags.WRITECOMBINED) if write_combined else 0
    try:
        return ctx.cuda.pagelocked_empty(shape, dtype, mem_flags=flags)  # type: ignore[no-any-return]
    except ctx.cuda.MemoryError:
        raise RunError(f"out of page-locked host memory for a {shape} {np.dtype(dtype).name} buffer") from None


def free_pinned(buffers: list[np.ndarray]) -> None:
    for buf in buffers:
        allocation: Any = buf.base  # pycuda's PagelockedHostAllocation
        allocation.free()
    buffers.clear()


def cuda_failure(ctx: CudaContext, exc: BaseException, what: str) -> TrtViewerError:
    if isinstance(exc, ctx.cuda.MemoryError):
        return RunError(f"out of GPU memory {what} ({ctx.memory_note()})")
    return RunError(f"CUDA error {what}: {first_line(exc)}")
