"""Frames decoded beforehand and served from memory.

Reading from memory costs next to nothing, so what is measured is what trt_viewer adds
around the model, not the video decoder (at 1000 FPS no CPU decodes 1080p H.264). Only a
few distinct frames are kept (a 1080p frame is 6 MB) and served in a cycle.
"""

from __future__ import annotations

import cv2
import numpy as np

from trt_viewer.core.sources import Frame, Source, open_source
from trt_viewer.errors import InputError

DISTINCT_FRAMES = 48


def load_frames(spec: str, count: int = DISTINCT_FRAMES, size: tuple[int, int] | None = None,
                step: int = 1) -> list[np.ndarray]:
    """Up to `count` frames of `spec` (every `step`-th), resized to `size` (width, height)."""
    source = open_source(spec)
    frames: list[np.ndarray] = []
    try:
        n = 0
        while len(frames) < count:
            frame = source.read()
            if frame is None:
                break
            n += 1
            if (n - 1) % step:
                continue
            image = frame.image
            if size is not None and (image.shape[1], image.shape[0]) != tuple(size):
                image = cv2.resize(image, tuple(size), interpolation=cv2.INTER_LINEAR)
            frames.append(np.ascontiguousarray(image))
    finally:
        source.close()
    if not frames:
        raise InputError(f"{spec} gave no frame")
    return frames


class MemorySource(Source):
    """`length` frames cycling through `images`, as a file would give them (not live)."""

    def __init__(self, spec: str, images: list[np.ndarray], length: int, fps: float = 30.0) -> None:
        super().__init__(spec)
        self.images = images
        self.length = length
        self.fps = fps
        self._next = 0

    def read(self) -> Frame | None:
        if self._next >= (self.length or 0):
            return None
        i = self._next
        self._next += 1
        self.frames_read += 1
        return Frame(i, self.images[i % len(self.images)], self.spec, i / (self.fps or 30.0))
