"""Frames that stay on the GPU where they were decoded (NVDEC), as the letterbox takes them.

Pure data: device addresses and pitches, no CUDA call. The memory belongs to whoever made
the image (run/nvdec.py's pool) until the frame is settled (core.sources.Frame.settle).
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class DeviceImage:
    """An NV12 frame in device memory: a Y plane (H rows) and an interleaved UV plane
    (H/2 rows of W/2 pairs), each with its row pitch in bytes."""

    y: int
    uv: int
    y_pitch: int
    uv_pitch: int
    hw: tuple[int, int]  # (H, W) of the picture

    @property
    def nbytes(self) -> int:
        h, w = self.hw
        return h * w + (h // 2) * w
