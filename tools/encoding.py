"""Frames to a video file through PyAV's bundled FFmpeg (the tools that make test videos)."""

from __future__ import annotations

from collections.abc import Iterable
from fractions import Fraction

import av
import numpy as np


def encode(dst: str, images: Iterable[np.ndarray], rate: float, encoder: str = "libx264",
           pix_fmt: str = "yuv420p", options: dict[str, str] | None = None) -> None:
    """BGR frames, all of the first one's size, to `dst` with `encoder`."""
    with av.open(dst, "w") as out:
        stream = None
        for image in images:
            if stream is None:
                stream = out.add_stream(encoder, rate=Fraction(round(rate * 1000), 1000))
                stream.height, stream.width = image.shape[:2]
                stream.pix_fmt = pix_fmt
                stream.options = options or {}
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        if stream is not None:
            for packet in stream.encode():
                out.mux(packet)
