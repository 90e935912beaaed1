"""System shared memory for a Triton server on this host: POSIX objects in /dev/shm that
the server reads the input from and writes the outputs into, registered by the backend."""

from __future__ import annotations

import contextlib
import mmap
import os
from pathlib import Path

import numpy as np

from trt_viewer.backends.base import HostInput

SHM_DIR = Path("/dev/shm")


class ShmRegion:
    """A POSIX shared memory object (/dev/shm/KEY) mapped here, for Triton to read or write.

    Made with os/mmap rather than multiprocessing.shared_memory, which starts a resource
    tracker process and warns at exit."""

    def __init__(self, name: str, size: int) -> None:
        self.name = name  # what the server knows it by; the key is "/" + name
        self.key = "/" + name
        self.size = max(1, int(size))
        self.registered = False
        path = SHM_DIR / name
        fd = os.open(path, os.O_CREAT | os.O_EXCL | os.O_RDWR, 0o600)
        try:
            os.ftruncate(fd, self.size)
            self._map: mmap.mmap | None = mmap.mmap(fd, self.size)
        except BaseException:
            with contextlib.suppress(OSError):
                os.unlink(path)
            raise
        finally:
            os.close(fd)
        self._path: Path | None = path

    def array(self, dtype: np.dtype, shape: tuple[int, ...], offset: int = 0) -> np.ndarray:
        assert self._map is not None
        count = int(np.prod(shape)) if shape else 1
        return np.frombuffer(self._map, dtype=dtype, count=count, offset=offset).reshape(shape)

    def destroy(self) -> None:
        """Unlink the object; the mapping goes now, or with the last array that views it."""
        if self._path is not None:
            with contextlib.suppress(OSError):
                os.unlink(self._path)
            self._path = None
        if self._map is not None:
            try:
                self._map.close()
            except BufferError:  # arrays still view it (a pooled buffer): freed with them
                pass
            self._map = None


class SharedInput(HostInput):
    """The model's input tensor in a shared memory region the server reads at submit()."""

    def __init__(self, region: ShmRegion, dtype: np.dtype, shape: tuple[int, ...]) -> None:
        super().__init__(region.array(dtype, shape))
        self.region = region
