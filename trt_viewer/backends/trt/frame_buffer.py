"""Page-locked buffers holding one raw BGR frame each, for GPU preprocessing.

The reader thread fills a buffer with a plain copy (no CUDA call: the CUDA context stays
with the inference thread); the inference thread copies it to the device and the letterbox
kernel runs there. The frame size is not known when the buffer is made: a frame larger than
the buffer is kept by reference instead, and the inference thread grows the buffer (that
needs CUDA) and copies the frame in, so later frames of that size fit again.

That copy is most of the host's work per frame (6 MB for 1080p), so:
- the buffers are write-combined page-locked memory where allowed: the CPU only writes
  them and the GPU only reads them, and write-combined stores skip reading the lines into
  the cache first (CUDA's advice for upload buffers);
- a large frame can be copied in row bands by a few threads (numpy lets go of the GIL
  while it copies). One thread is the default: on the H100 machine four threads halved
  the copy of a lone frame (0.36 against 0.75 ms) but cut the pipeline from about 930 to
  about 655 FPS, the band threads competing with the inference thread for the GIL.
  Environment: TRT_VIEWER_COPY_THREADS (default 1) and TRT_VIEWER_WRITE_COMBINED=0 to
  turn write-combining off.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np

DEFAULT_CAPACITY = 1920 * 1080 * 3  # bytes: a 1080p frame
MIN_BAND = 1 << 20  # bytes: smaller copies are not worth a thread


def copy_threads() -> int:
    text = os.environ.get("TRT_VIEWER_COPY_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 1


def write_combined() -> bool:
    return os.environ.get("TRT_VIEWER_WRITE_COMBINED", "1").strip() not in ("0", "false", "no")


class FrameCopier:
    """Copies frames into page-locked memory, in row bands over `threads` threads."""

    def __init__(self, threads: int) -> None:
        self.threads = max(1, threads)
        self._pool = ThreadPoolExecutor(self.threads - 1, "trt-viewer-copy") if self.threads > 1 else None

    def copy(self, dst: np.ndarray, src: np.ndarray) -> None:
        parts = min(self.threads, max(1, src.nbytes // MIN_BAND), src.shape[0])
        if parts <= 1 or self._pool is None:
            np.copyto(dst, src)
            return
        rows = src.shape[0]
        bounds = [rows * i // parts for i in range(parts + 1)]
        bands = list(zip(bounds[:-1], bounds[1:]))
        futures = [self._pool.submit(np.copyto, dst[a:b], src[a:b]) for a, b in bands[1:]]
        a, b = bands[0]
        np.copyto(dst[a:b], src[a:b])
        for future in futures:
            future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class FrameBuffer:
    def __init__(self, host: np.ndarray, copier: FrameCopier | None = None) -> None:
        self.host = host  # 1-D uint8, page-locked
        self.copier = copier or FrameCopier(1)
        self.shape: tuple[int, int] | None = None  # (h, w) of the frame it holds
        self.pending: np.ndarray | None = None  # a frame too large for `host`

    @property
    def capacity(self) -> int:
        return int(self.host.size)

    def fill(self, image: np.ndarray) -> None:
        """Hold `image` (BGR uint8 HxWx3); any thread, no CUDA call."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a HxWx3 BGR image, got shape {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"expected a uint8 BGR image, got {image.dtype}")
        h, w = int(image.shape[0]), int(image.shape[1])
        if h * w * 3 <= self.capacity:
            self.copier.copy(self.host[: h * w * 3].reshape(h, w, 3), image)
            self.pending = None
        else:
            self.pending = image
        self.shape = (h, w)

    def frame(self) -> np.ndarray:
        """The held frame as a page-locked HxWx3 view (after any pending copy)."""
        if self.shape is None or self.pending is not None:
            raise RuntimeError("the frame buffer holds no frame yet")
        h, w = self.shape
        return self.host[: h * w * 3].reshape(h, w, 3)
