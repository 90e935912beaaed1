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
