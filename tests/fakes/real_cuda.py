"""Device memory of a real GPU, through real pycuda, for the TensorRT double (GPU tests).

The stand-in engine's execute_async_v3 then computes on the real device buffers: it waits
for the context's queued work (the backend's host-to-device copy on its stream), copies
the input down from the device, runs ONNX Runtime, and copies the outputs up into the
engine's device buffers, before the backend's device-to-host copies on the same stream.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np


class RealCudaMemory:
    def __init__(self, cuda: Any) -> None:
        self.cuda = cuda
        self._held: dict[int, Any] = {}
        self.runs = 0

    def read(self, address: int, nbytes: int) -> bytes:
        host = np.empty(nbytes, np.uint8)
        self.cuda.memcpy_dtoh(host, address)
        return host.tobytes()

    def write(self, address: int, data: bytes) -> None:
        self.cuda.memcpy_htod(address, np.frombuffer(data, np.uint8))

    def run_on_stream(self, handle: int, work: Callable[[], None]) -> None:
        # Everything queued before (the input copy on this stream) completes first; the
        # synchronous copies inside `work` complete before the later output copies start.
        self.cuda.Context.synchronize()
        work()
        self.runs += 1

    def reserve(self, nbytes: int, api: str = "cuMemAlloc") -> int:
        alloc = self.cuda.mem_alloc(max(nbytes, 1))  # real device memory, like TensorRT's own
        self._held[int(alloc)] = alloc
        return int(alloc)

    def release(self, address: int) -> None:
        self._held.pop(address).free()

    @property
    def held(self) -> int:
        return len(self._held)


SPIN_SOURCE = r"""
extern "C" __global__ void spin(unsigned long long ns) {
    unsigned long long start, now;
    asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(start));
    do {
        asm volatile("mov.u64 %0, %%globaltimer;" : "=l"(now));
    } while (now - start < ns);
}
"""


class _LibCuda:
    """The few driver calls pycuda lacks: a launch and a copy on a stream known only by its
    handle (the one TensorRT's execute_async_v3 is given)."""

    def __init__(self) -> None:
        import ctypes

        self.ct = ctypes
        lib = ctypes.CDLL("libcuda.so.1")
        vp, u = ctypes.c_void_p, ctypes.c_uint
        lib.cuModuleLoadData.argtypes = [ctypes.POINTER(vp), ctypes.c_char_p]
        lib.cuModuleGetFunction.argtypes = [ctypes.POINTER(vp), vp, ctypes.c_char_p]
        lib.cuModuleUnload.argtypes = [vp]
        lib.cuLaunchKernel.argtypes = [vp, u, u, u, u, u, u, u, vp, ctypes.POINTER(vp), ctypes.POINTER(vp)]
        lib.cuMemcpyDtoDAsync_v2.argtypes = [ctypes.c_uint64, ctypes.c_uint64, ctypes.c_size_t, vp]
        self.lib = lib

    def check(self, result: int, what: str) -> None:
        if result != 0:
            raise RuntimeError(f"{what} failed: CUDA error {result}")

    def load(self, image: bytes, name: str) -> tuple[Any, Any]:
        module, function = self.ct.c_void_p(), self.ct.c_void_p()
        self.check(self.lib.cuModuleLoadData(self.ct.byref(module), image), "cuModuleLoadData")
        self.check(self.lib.cuModuleGetFunction(self.ct.byref(function), module, name.encode()), "cuModuleGetFunction")
        return module, function

    def launch_spin(self, function: Any, stream: int, ns: int) -> None:
        arg = self.ct.c_ulonglong(ns)
        params = (self.ct.c_void_p * 1)(self.ct.cast(self.ct.pointer(arg), self.ct.c_void_p))
        self.check(self.lib.cuLaunchKernel(function, 1, 1, 1, 1, 1, 1, 0, self.ct.c_void_p(stream), params, None),
                   "cuLaunchKernel")

    def copy_async(self, dst: int, src: int, nbytes: int, stream: int) -> None:
        self.check(self.lib.cuMemcpyDtoDAsync_v2(dst, src, nbytes, self.ct.c_void_p(stream)), "cuMemcpyDtoDAsync")

    def unload(self, module: Any) -> None:
        self.check(self.lib.cuModuleUnload(module), "cuModuleUnload")


class TimedCudaMemory(RealCudaMemory):
    """The stand-in engine as a fixed amount of GPU work, for the GPU benchmarks.

    Each execute_async_v3 queues, on the stream it was given, a one-thread kernel that spins
    for `ms` milliseconds by the GPU's global timer (a wall-clock time, so no calibration of
    clock rates), then device-to-device copies of the outputs into the engine's output
    buffers. The outputs are real: the first run computes them with ONNX Runtime (as
    RealCudaMemory does) and a device copy of them is kept. Call close() while the context
    is still current.
    """

    def __init__(self, cuda: Any, ms: float = 1.0) -> None:
        super().__init__(cuda)
        self.ns = round(ms * 1e6)
        self._lib: _LibCuda | None = None
        self._module: Any = None
        self._spin: Any = None
        self._canned: dict[str, Any] = {}

    def run_on_stream(self, handle: int, work: Callable[[], None]) -> None:
        outputs: dict[str, tuple[int, int]] = getattr(work, "outputs")  # noqa: B009 - not an attribute of Callable (mypy)
        if not self._canned:
            super().run_on_stream(handle, work)  # real outputs, once
            for name, (address, nbytes) in outputs.items():
                self._canned[name] = self.cuda.mem_alloc(max(nbytes, 1))
                self.cuda.memcpy_dtod(self._canned[name], address, nbytes)
            return
        if self._lib is None:
            from pycuda import compiler

            major, minor = self.cuda.Context.get_device().compute_capability()
            self._lib = _LibCuda()
            cubin = compiler.compile(SPIN_SOURCE, no_extern_c=True, arch=f"sm_{major}{minor}")
            self._module, self._spin = self._lib.load(cubin, "spin")
        self._lib.launch_spin(self._spin, handle, self.ns)
        for name, (address, nbytes) in outputs.items():
            self._lib.copy_async(address, int(self._canned[name]), nbytes, handle)
        self.runs += 1

    def close(self) -> None:
        for alloc in self._canned.values():
            alloc.free()
        self._canned.clear()
        if self._lib is not None and self._module is not None:
            self._lib.unload(self._module)
            self._module = self._spin = None
