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
- by default the copy is OpenCV's BGR-to-RGB conversion: a plain copy with the channels
  swapped, which OpenCV spreads over its own threads in one call without the GIL. The
  buffer then holds RGB and says so (`rgb`); the letterbox kernel takes the channels in
  that order;
- copy_threads=N copies in row bands over N Python threads instead: numpy lets go of the
  GIL while it copies, but each band needs it to start and finish, so the bands compete
  with the inference thread (docs/performance.md has the measurements behind both
  choices). write_combined=False turns write-combining off.
The environment variables TRT_VIEWER_COPY_THREADS and TRT_VIEWER_WRITE_COMBINED override
the defaults (for experiments without changing code).
"""

from __future__ import annotations

import itertools
import os
from concurrent.futures import ThreadPoolExecutor
from typing import Any

import cv2
import numpy as np

from trt_viewer.backends.base import InputBuffer
from trt_viewer.core.device_frames import DeviceImage
from trt_viewer.core.preprocess import CURRENT, Preset, letterbox_ratio

DEFAULT_CAPACITY = 1920 * 1080 * 3  # bytes: a 1080p frame
MIN_BAND = 1 << 20  # bytes: smaller copies are not worth a thread


def copy_threads_setting(stated: int | None = None) -> int:
    """Python threads for the band copy; 0 (the default): OpenCV's channel-swapping copy."""
    if stated is not None:
        return max(0, stated)
    text = os.environ.get("TRT_VIEWER_COPY_THREADS", "").strip()
    return int(text) if text.isdigit() and int(text) > 0 else 0


def write_combined_setting(stated: bool | None = None) -> bool:
    if stated is not None:
        return stated
    return os.environ.get("TRT_VIEWER_WRITE_COMBINED", "1").strip() not in ("0", "false", "no")


class FrameCopier:
    """Copies frames into page-locked memory: with threads=0 by OpenCV, swapping B and R
    (`swaps` is then True), else in row bands over `threads` Python threads."""

    def __init__(self, threads: int) -> None:
        self.threads = max(0, threads)
        self.swaps = self.threads == 0
        self._pool = ThreadPoolExecutor(self.threads - 1, "trt-viewer-copy") if self.threads > 1 else None

    def copy(self, dst: np.ndarray, src: np.ndarray) -> None:
        if self.swaps:
            if cv2.cvtColor(src, cv2.COLOR_BGR2RGB, dst=dst) is not dst:  # never reallocate: dst is pinned
                raise RuntimeError("the frame was not converted into its page-locked buffer")
            return
        parts = min(self.threads, max(1, src.nbytes // MIN_BAND), src.shape[0])
        if parts <= 1 or self._pool is None:
            np.copyto(dst, src)
            return
        rows = src.shape[0]
        bounds = [rows * i // parts for i in range(parts + 1)]
        bands = list(itertools.pairwise(bounds))
        futures = [self._pool.submit(np.copyto, dst[a:b], src[a:b]) for a, b in bands[1:]]
        a, b = bands[0]
        np.copyto(dst[a:b], src[a:b])
        for future in futures:
            future.result()

    def close(self) -> None:
        if self._pool is not None:
            self._pool.shutdown(wait=True)


class FrameBuffer(InputBuffer):
    """A raw frame for the GPU letterbox; input_hw is the engine input it is letterboxed to.
    A frame decoded on the GPU is not copied at all: fill_device() keeps where it is."""

    on_gpu = True
    takes_device = True

    def __init__(self, host: np.ndarray, input_hw: tuple[int, int], copier: FrameCopier | None = None) -> None:
        self.host = host  # 1-D uint8, page-locked
        self.input_hw = input_hw
        self.preset: Preset = CURRENT  # what the kernel letterboxes the held frame with
        self.copier = copier or FrameCopier(0)
        self.shape: tuple[int, int] | None = None  # (h, w) of the frame it holds
        self.rgb = False  # the held frame's channels are R, G, B (the copier swapped them)
        self.pending: np.ndarray | None = None  # a frame too large for `host`
        self.device: DeviceImage | None = None  # a frame on the GPU, letterboxed from there

    @property
    def capacity(self) -> int:
        return int(self.host.size)

    def fill(self, image: np.ndarray, preset: Preset) -> float:
        """Hold `image` (BGR uint8 HxWx3) to letterbox with `preset`; any thread, no CUDA call."""
        if image.ndim != 3 or image.shape[2] != 3:
            raise ValueError(f"expected a HxWx3 BGR image, got shape {image.shape}")
        if image.dtype != np.uint8:
            raise ValueError(f"expected a uint8 BGR image, got {image.dtype}")
        h, w = int(image.shape[0]), int(image.shape[1])
        self.device = None
        if h * w * 3 <= self.capacity:
            self.copier.copy(self.host[: h * w * 3].reshape(h, w, 3), image)
            self.pending = None
            self.rgb = self.copier.swaps
        else:
            self.pending = image
            self.rgb = False
        self.shape = (h, w)
        self.preset = preset
        return letterbox_ratio((h, w), self.input_hw)

    def fill_device(self, image: Any, preset: Preset) -> float:
        """Hold a frame decoded on the GPU (a DeviceImage, valid until the frame is settled,
        after its outputs are collected) to letterbox from there: nothing is copied."""
        if not isinstance(image, DeviceImage):
            raise TypeError(f"expected a DeviceImage, got {type(image).__name__}")
        self.device, self.pending, self.rgb = image, None, False
        self.shape, self.preset = image.hw, preset
        return letterbox_ratio(image.hw, self.input_hw)

    def frame(self) -> np.ndarray:
        """The held frame as a page-locked HxWx3 view (after any pending copy)."""
        if self.shape is None or self.pending is not None:
            raise RuntimeError("the frame buffer holds no frame yet")
        h, w = self.shape
        return self.host[: h * w * 3].reshape(h, w, 3)
