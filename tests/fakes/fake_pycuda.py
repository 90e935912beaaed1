"""A strict double of pycuda (the `pycuda` package and `pycuda.driver`) over a fake GPU.

The fake GPU keeps what a test needs to see that copies really matter and contexts are
handled right:
- device memory is real bytes at fake addresses; TensorRT's double reads its input there
  and writes its outputs there, so a skipped host-to-device copy gives wrong results;
- asynchronous copies and engine runs queue on their stream and happen at synchronize(),
  so reading outputs before synchronising gives stale numbers, as on a real GPU;
- a context is current per thread (a stack per thread): any call that needs one in a
  thread where none is pushed fails like CUDA's "invalid device context";
- retained primary contexts, device bytes and page-locked buffers are counted, so a test
  can check that everything was given back;
- events mark points on a stream; waiting on one from another stream (wait_for_event) or
  synchronising it runs the recording stream's work up to that point, so work on several
  streams happens in the order the events impose, and only then;
- kernels: `pycuda.compiler.compile` fails as it does without nvcc unless `nvcc` is set;
  with it, a launched kernel runs on its stream as the Python emulation registered under
  its name in `kernels` (fakes/gpu_kernels.py), reading and writing the fake device memory.
"""

from __future__ import annotations

import json
import re
import threading
import time
import types
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import numpy as np

CUBIN_MAGIC = b"FAKECUBIN\x00"


def _default_kernels() -> dict[str, Callable[..., None]]:
    from .gpu_kernels import KERNELS

    return dict(KERNELS)

GIB = 1 << 30


@dataclass
class Call:
    name: str
    thread: int
    pinned: bool | None = None  # for copies: was the host side page-locked memory
    nbytes: int = 0


@dataclass
class FakeGpu:
    memory: int = 8 * GIB
    name: str = "Fake GPU"
    compute: tuple[int, int] = (8, 6)
    devices: int = 1
    fail_init: str | None = None  # cuInit's error, e.g. no device
    calls: list[Call] = field(default_factory=list)
    nvcc: bool = False  # whether pycuda.compiler finds nvcc (the CUDA toolkit)
    kernels: dict[str, Callable[..., None]] = field(default_factory=_default_kernels)

    def __post_init__(self) -> None:
        self.used = 0
        self.allocations: dict[int, bytearray] = {}
        self.pinned: dict[int, Any] = {}  # data pointer -> PagelockedHostAllocation
        self.retained = 0
        self.initialised = False
        self.streams: dict[int, Any] = {}
        self._next = 0x7F00_0000_0000
        self._local = threading.local()
        self._lock = threading.Lock()
        self.compiles = 0  # nvcc runs
        self.launches: list[str] = []  # kernel names, in launch order
        self.driver = _make_driver(self)
        self.compiler = _make_compiler(self)
        self.package = types.ModuleType("pycuda")
        self.package.__path__ = []  # a package, so `import pycuda.driver` resolves
        self.package.driver = self.driver  # type: ignore[attr-defined]
        self.package.compiler = self.compiler  # type: ignore[attr-defined]

    # -- contexts ------------------------------------------------------------------------

    @property
    def stack(self) -> list[Any]:
        if not hasattr(self._local, "stack"):
            self._local.stack = []
        return self._local.stack  # type: ignore[no-any-return]

    def require_context(self, api: str) -> None:
        if not self.initialised:
            raise self.driver.LogicError(f"{api} failed: initialization error")
        if not self.stack or not self.stack[-1].valid:
            raise self.driver.LogicError(f"{api} failed: invalid device context")

    def log(self, name: str, pinned: bool | None = None, nbytes: int = 0) -> None:
        self.calls.append(Call(name, threading.get_ident(), pinned, nbytes))

    def count(self, name: str) -> int:
        return sum(1 for c in self.calls if c.name == name)

    # -- memory --------------------------------------------------------------------------

    def reserve(self, nbytes: int, api: str = "cuMemAlloc") -> int:
        with self._lock:
            if self.used + nbytes > self.memory:
                raise self.driver.MemoryError(f"{api} failed: out of memory")
            address = self._next
            self._next += (max(nbytes, 1) + 0xFFF) & ~0xFFF
            self.allocations[address] = bytearray(nbytes)
            self.used += nbytes
            return address

    def release(self, address: int) -> None:
        with self._lock:
            buf = self.allocations.pop(address)
            self.used -= len(buf)

    def _locate(self, address: int, nbytes: int) -> tuple[bytearray, int]:
        for base, buf in self.allocations.items():
            if base <= address and address + nbytes <= base + len(buf):
                return buf, address - base
        raise self.driver.LogicError(f"invalid device pointer {address:#x} for {nbytes} bytes")

    def read(self, address: int, nbytes: int) -> bytes:
        buf, off = self._locate(address, nbytes)
        return bytes(buf[off : off + nbytes])

    def write(self, address: int, data: bytes) -> None:
        buf, off = self._locate(address, len(data))
        buf[off : off + len(data)] = data

    def run_on_stream(self, handle: int, work: Callable[[], None]) -> None:
        stream = self.streams.get(handle)
        if stream is None:
            raise self.driver.LogicError(f"invalid stream handle {handle:#x}")
        stream._queue.append(work)

    def is_pinned(self, array: np.ndarray) -> bool:
        base = array
        while isinstance(base, np.ndarray) and base.base is not None:
            base = base.base
        return any(alloc is base for alloc in self.pinned.values()) and not getattr(base, "freed", True)

    @property
    def pinned_bytes(self) -> int:
        return sum(len(a) for a in self.pinned.values())


def _make_driver(gpu: FakeGpu) -> types.ModuleType:
    m = types.ModuleType("pycuda.driver")

    class Error(Exception):
        pass

    class MemoryError(Error):  # pycuda's name, shadowing the builtin as pycuda does
        pass

    class LogicError(Error):
        pass

    class LaunchError(Error):
        pass

    class RuntimeError(Error):  # pycuda's name, shadowing the builtin as pycuda does
        pass

    def init(flags: int = 0) -> None:
        if gpu.fail_init:
            raise RuntimeError(f"cuInit failed: {gpu.fail_init}")
        gpu.initialised = True

    class Context:
        def __init__(self, device: Device) -> None:
            self._device = device
            self.valid = True

        @property
        def handle(self) -> int:  # CUcontext, as PyNvVideoCodec takes it
            return 0x7C000000 + self._device._number  # one primary context per device

        def push(self) -> None:
            if not self.valid:
                raise LogicError("cuCtxPushCurrent failed: invalid context")
            gpu.stack.append(self)
            gpu.log("push")

        @staticmethod
        def pop() -> None:
            if not gpu.stack:
                raise LogicError("context::pop failed: cannot pop non-current context")
            gpu.stack.pop()
            gpu.log("pop")

        def detach(self) -> None:
            if not self.valid:
                raise LogicError("context::detach failed: cannot detach from invalid context")
            self.valid = False
            gpu.retained -= 1
            gpu.log("detach")

        @staticmethod
        def synchronize() -> None:
            gpu.require_context("cuCtxSynchronize")
            for stream in list(gpu.streams.values()):
                stream._drain()

        @staticmethod
        def get_current() -> Context | None:
            return gpu.stack[-1] if gpu.stack else None

        @staticmethod
        def get_device() -> Device:
            gpu.require_context("cuCtxGetDevice")
            return gpu.stack[-1]._device  # type: ignore[no-any-return]

    class Device:
        def __init__(self, number: int) -> None:
            if not gpu.initialised:
                raise LogicError("cuDeviceGet failed: initialization error")
            if not 0 <= number < gpu.devices:
                raise LogicError("cuDeviceGet failed: invalid device ordinal")
            self._number = number

        @staticmethod
        def count() -> int:
            if not gpu.initialised:
                raise LogicError("cuDeviceGetCount failed: initialization error")
            return gpu.devices

        def name(self) -> str:
            return gpu.name

        def compute_capability(self) -> tuple[int, int]:
            return gpu.compute

        def total_memory(self) -> int:
            return gpu.memory

        def retain_primary_context(self) -> Context:
            gpu.retained += 1
            gpu.log("retain")
            return Context(self)

    class DeviceAllocation:
        def __init__(self, nbytes: int) -> None:
            self._address = gpu.reserve(nbytes)
            self._freed = False

        def __int__(self) -> int:
            return self._address

        __index__ = __int__

        def free(self) -> None:
            if not self._freed:
                gpu.require_context("cuMemFree")
                gpu.release(self._address)
                self._freed = True

    class host_alloc_flags:  # pycuda's name
        PORTABLE = 1
        DEVICEMAP = 2
        WRITECOMBINED = 4

    class PagelockedHostAllocation(bytearray):
        freed = False
        _flags = 0  # mem_flags it was allocated with

        def free(self) -> None:
            if not self.freed:
                gpu.require_context("cuMemFreeHost")
                self.freed = True
                gpu.pinned.pop(id(self), None)

    class Stream:
        def __init__(self, flags: int = 0) -> None:
            gpu.require_context("cuStreamCreate")
            self.flags = int(flags)  # 1 = CU_STREAM_NON_BLOCKING
            self._queue: list[Callable[[], None]] = []
            self._handle = 0x5000 + len(gpu.streams) + 1
            gpu.streams[self._handle] = self

        @property
        def handle(self) -> int:
            return self._handle

        def synchronize(self) -> None:
            gpu.require_context("cuStreamSynchronize")
            gpu.log("synchronize")
            self._drain()

        def is_done(self) -> bool:
            return not self._queue

        def wait_for_event(self, event: Event) -> None:
            gpu.require_context("cuStreamWaitEvent")
            # Later work on this stream runs only once the event's stream got that far.
            self._queue.append(event._reached)

        def _drain(self, until: Callable[[], bool] = lambda: False) -> None:
            # One item at a time: an item may drain other streams (an event wait).
            while self._queue and not until():
                self._queue.pop(0)()

    class event_flags:  # pycuda's name
        DEFAULT = 0
        BLOCKING_SYNC = 1
        DISABLE_TIMING = 2
        INTERPROCESS = 4

    class Event:
        """Complete once the work queued before its latest record() has run."""

        def __init__(self, flags: int = 0) -> None:
            gpu.require_context("cuEventCreate")
            self.flags = int(flags)
            self._timing = not int(flags) & event_flags.DISABLE_TIMING
            self._stream: Stream | None = None
            self._generation = 0
            self._done = True  # an event never recorded counts as complete, as in CUDA
            self._time: float | None = None

        def record(self, stream: Stream | None = None) -> Event:
            gpu.require_context("cuEventRecord")
            self._generation += 1
            generation = self._generation

            def mark() -> None:
                if generation == self._generation:
                    self._done, self._time = True, time.perf_counter()

            self._done = False
            if stream is None:  # the legacy default stream waits for every other stream
                for other in list(gpu.streams.values()):
                    other._drain()
                mark()
            else:
                self._stream = stream
                stream._queue.append(mark)
            return self

        def _reached(self) -> None:
            if not self._done and self._stream is not None:
                self._stream._drain(until=lambda: self._done)

        def synchronize(self) -> Event:
            gpu.require_context("cuEventSynchronize")
            gpu.log("synchronize")
            self._reached()
            return self

        def query(self) -> bool:
            gpu.require_context("cuEventQuery")
            return self._done  # nothing runs before a synchronize: no progress to report

        def time_till(self, event: Event) -> float:
            return event.time_since(self)

        def time_since(self, event: Event) -> float:
            gpu.require_context("cuEventElapsedTime")
            if not (self._timing and event._timing):
                raise LogicError("cuEventElapsedTime failed: invalid resource handle")
            if not (self._done and event._done) or self._time is None or event._time is None:
                raise LogicError("cuEventElapsedTime failed: device not ready")
            return (self._time - event._time) * 1e3

    class CompileError(Error):
        pass

    class Function:
        """A kernel of a loaded module; launches queue its emulation on the stream."""

        def __init__(self, name: str) -> None:
            self._name = name
            self._format: str | None = None

        def prepare(self, arg_types: Any, texrefs: Any = None) -> Function:
            if not isinstance(arg_types, str):
                raise TypeError("the double takes struct format strings only")
            self._format = arg_types
            return self

        def prepared_async_call(self, grid: tuple[int, ...], block: tuple[int, ...], stream: Stream | None,
                                *args: Any, **kwargs: Any) -> None:
            gpu.require_context("cuLaunchKernel")
            if self._format is None:
                raise AttributeError("'Function' object has no attribute 'arg_format'")
            if kwargs.keys() - {"shared_size"}:
                raise TypeError("unknown keyword arguments: " + ", ".join(kwargs))
            if len(args) != len(self._format):  # struct.pack refuses a wrong count
                raise TypeError(f"pack expected {len(self._format)} items for packing (got {len(args)})")
            for kind, value in zip(self._format, args):
                if kind in "Pi" and not isinstance(value, (int, np.integer)):
                    raise TypeError(f"required argument is not an integer: {value!r}")
                if kind in "fd" and not isinstance(value, (int, float, np.floating, np.integer)):
                    raise TypeError(f"required argument is not a float: {value!r}")
            emulate = gpu.kernels.get(self._name)
            if emulate is None:
                raise LaunchError(f"cuLaunchKernel failed: no emulation of kernel {self._name} in the double")
            gpu.launches.append(self._name)
            work = lambda: emulate(gpu, tuple(grid), tuple(block), args)  # noqa: E731
            work() if stream is None else stream._queue.append(work)

    class Module:
        def __init__(self, names: list[str]) -> None:
            self._names = names

        def get_function(self, name: str) -> Function:
            if name not in self._names:
                raise LogicError("cuModuleGetFunction failed: named symbol not found")
            return Function(name)

    def module_from_buffer(buffer: bytes, options: Any = None, message_handler: Any = None) -> Module:
        gpu.require_context("cuModuleLoadDataEx")
        data = bytes(buffer)
        if not data.startswith(CUBIN_MAGIC):
            raise LogicError("cuModuleLoadDataEx failed: device kernel image is invalid")
        header = json.loads(data[len(CUBIN_MAGIC):])
        major, minor = gpu.compute
        if header["arch"] not in (None, f"sm_{major}{minor}"):
            raise LogicError("cuModuleLoadDataEx failed: no kernel image is available for execution on the device")
        return Module(header["names"])

    def pagelocked_empty(shape: Any, dtype: Any, order: str = "C", mem_flags: int = 0) -> np.ndarray:
        gpu.require_context("cuMemHostAlloc")
        dims = (shape,) if isinstance(shape, int) else tuple(int(s) for s in shape)
        nbytes = int(np.prod(dims)) * np.dtype(dtype).itemsize
        alloc = PagelockedHostAllocation(nbytes)
        alloc._flags = int(mem_flags)
        gpu.pinned[id(alloc)] = alloc
        return np.ndarray(dims, dtype, buffer=alloc, order=order)

    def mem_alloc(nbytes: int) -> DeviceAllocation:
        gpu.require_context("cuMemAlloc")
        return DeviceAllocation(int(nbytes))

    def _host_bytes(array: np.ndarray) -> bytes:
        if not isinstance(array, np.ndarray) or not array.flags.c_contiguous:
            raise LogicError("host buffer must be a contiguous numpy array")
        return array.tobytes()

    def memcpy_htod_async(dest: Any, src: np.ndarray, stream: Stream | None = None) -> None:
        gpu.require_context("cuMemcpyHtoDAsync")
        gpu.log("memcpy_htod_async", gpu.is_pinned(src), src.nbytes)
        # The bytes are read when the copy runs, as the DMA engine would.
        work = lambda: gpu.write(int(dest), _host_bytes(src))  # noqa: E731
        work() if stream is None else stream._queue.append(work)

    def memcpy_dtoh_async(dest: np.ndarray, src: Any, stream: Stream | None = None) -> None:
        gpu.require_context("cuMemcpyDtoHAsync")
        gpu.log("memcpy_dtoh_async", gpu.is_pinned(dest), dest.nbytes)

        def work() -> None:
            data = gpu.read(int(src), dest.nbytes)
            dest.reshape(-1).view(np.uint8)[:] = np.frombuffer(data, np.uint8)

        work() if stream is None else stream._queue.append(work)

    def memcpy_htod(dest: Any, src: np.ndarray) -> None:
        gpu.require_context("cuMemcpyHtoD")
        gpu.log("memcpy_htod", gpu.is_pinned(src), src.nbytes)
        gpu.write(int(dest), _host_bytes(src))

    def memcpy_dtod_async(dest: Any, src: Any, size: int, stream: Stream | None = None) -> None:
        gpu.require_context("cuMemcpyDtoDAsync")
        work = lambda: gpu.write(int(dest), gpu.read(int(src), int(size)))  # noqa: E731
        work() if stream is None else stream._queue.append(work)

    def memcpy_dtoh(dest: np.ndarray, src: Any) -> None:
        gpu.require_context("cuMemcpyDtoH")
        gpu.log("memcpy_dtoh", gpu.is_pinned(dest), dest.nbytes)
        dest.reshape(-1).view(np.uint8)[:] = np.frombuffer(gpu.read(int(src), dest.nbytes), np.uint8)

    def mem_get_info() -> tuple[int, int]:
        gpu.require_context("cuMemGetInfo")
        return gpu.memory - gpu.used, gpu.memory

    def get_version() -> tuple[int, int, int]:
        return (12, 8, 0)

    def get_driver_version() -> int:
        return 12080

    class Memcpy2D:
        """A pitched copy; the double copies device to device only."""

        def __init__(self) -> None:
            self.src_pitch = self.dst_pitch = self.width_in_bytes = self.height = 0
            self._src: int | None = None
            self._dst: int | None = None

        def set_src_device(self, address: Any) -> None:
            self._src = int(address)

        def set_dst_device(self, address: Any) -> None:
            self._dst = int(address)

        def __call__(self, stream: Stream | None = None) -> None:
            gpu.require_context("cuMemcpy2DAsync")
            if self._src is None or self._dst is None:
                raise LogicError("cuMemcpy2D failed: invalid value (no source or destination)")
            if self.width_in_bytes > min(self.src_pitch, self.dst_pitch):
                raise LogicError("cuMemcpy2D failed: invalid pitch value")
            src, dst, rows = self._src, self._dst, self.height
            width, sp, dp = self.width_in_bytes, self.src_pitch, self.dst_pitch

            def work() -> None:
                for r in range(rows):
                    gpu.write(dst + r * dp, gpu.read(src + r * sp, width))

            work() if stream is None else stream._queue.append(work)

    for obj in (
        Error, MemoryError, LogicError, LaunchError, RuntimeError, init, Context, Device,
        DeviceAllocation, PagelockedHostAllocation, Stream, pagelocked_empty, mem_alloc,
        memcpy_htod_async, memcpy_dtoh_async, memcpy_htod, memcpy_dtoh, mem_get_info,
        get_version, get_driver_version, event_flags, Event, CompileError, Function, Module,
        module_from_buffer, memcpy_dtod_async, host_alloc_flags, Memcpy2D,
    ):
        setattr(m, obj.__name__, obj)
    return m


def _make_compiler(gpu: FakeGpu) -> types.ModuleType:
    """`pycuda.compiler`: compile() gives a fake cubin naming the source's kernels."""
    m = types.ModuleType("pycuda.compiler")

    def compile(source: str, nvcc: str = "nvcc", options: Any = None, keep: bool = False,  # pycuda's name
                no_extern_c: bool = False, arch: str | None = None, code: str | None = None,
                cache_dir: Any = None, include_dirs: Any = None, target: str = "cubin") -> bytes:
        if not gpu.nvcc:
            # pycuda asks nvcc for its version first; pytools' ExecError is an OSError.
            raise OSError(f"error invoking '{nvcc} --version': [Errno 2] No such file or directory: '{nvcc}'")
        if not no_extern_c:
            source = f'extern "C" {{\n{source}\n}}\n'
        if 'extern "C"' not in source:
            raise gpu.driver.CompileError("the double reads kernel names from extern \"C\" sources only")
        gpu.compiles += 1
        names = re.findall(r"__global__\s+void\s+(\w+)", source)
        return CUBIN_MAGIC + json.dumps({"arch": arch, "names": names}).encode()

    m.compile = compile  # type: ignore[attr-defined]
    return m
