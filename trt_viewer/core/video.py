"""Video encoders for annotated recordings (core.outputs.AnnotatedOutput's).

H.264 (libx264, yuv420p) in MP4, M4V, MOV and MKV, and MJPEG in AVI, through PyAV: its
errors (a full disk) are reported, and MP4/MOV are written as fragments of about a
second, flushed as they complete, so a process killed midway leaves a file that plays up
to the last fragment. Where PyAV or its H.264 encoder is missing, OpenCV's writers take
over (MPEG-4 Part 2 `mp4v` instead of H.264, with a warning).

An encoder is given a file that exists (its output stages it) and the size of the first
frame; it raises OSError when it cannot write.
"""

from __future__ import annotations

import errno
import logging
import math
from fractions import Fraction
from pathlib import Path
from types import ModuleType
from typing import Any, Protocol

import cv2
import numpy as np

log = logging.getLogger(__name__)

H264_ENCODER = "libx264"
# suffix -> (container format, codec, pixel format)
PYAV_FORMATS = {
    ".mp4": ("mp4", H264_ENCODER, "yuv420p"),
    ".m4v": ("mp4", H264_ENCODER, "yuv420p"),
    ".mov": ("mov", H264_ENCODER, "yuv420p"),
    ".mkv": ("matroska", H264_ENCODER, "yuv420p"),
    ".avi": ("avi", "mjpeg", "yuvj420p"),
}
OPENCV_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
VIDEO_SUFFIXES = frozenset(PYAV_FORMATS)
# Fragments start at each keyframe and are written out as they complete.
FRAGMENTED = {"movflags": "frag_keyframe+empty_moov+default_base_moof"}
KEYFRAME_SECONDS = 1.0
X264_OPTIONS = {"preset": "superfast"}  # 1080p: ~65 FPS on 2 cores (veryfast ~45, mp4v ~120)


class VideoEncoder(Protocol):
    codec: str  # what the file holds: "h264", "mjpeg", "mp4v"

    def write(self, image: np.ndarray) -> None:
        """One BGR frame; raises OSError when it cannot be written."""

    def close(self) -> None:
        """Finalise the file (the trailer); releases everything even when it raises OSError."""


def frame_rate(fps: float) -> Fraction:
    """The rate a stream is written at: the source's, as an exact fraction (30000/1001)."""
    if not math.isfinite(fps) or fps <= 0:
        fps = 30.0
    return Fraction(fps).limit_denominator(1001)


def open_encoder(path: Path, size: tuple[int, int], fps: float) -> VideoEncoder:
    """An encoder writing `path` (whose suffix names the format) at `size` (w, h)."""
    suffix = path.suffix.lower()
    container, codec, pix_fmt = PYAV_FORMATS[suffix]
    try:
        av = _import_av()
        if codec not in av.codecs_available:
            raise LookupError(f"its FFmpeg has no {codec} encoder")
    except (ImportError, LookupError) as exc:
        why = f"PyAV is not available ({exc})" if isinstance(exc, ImportError) else f"PyAV: {exc}"
        if codec == H264_ENCODER and OPENCV_FOURCC[suffix] == "mp4v":
            log.warning("%s: recording MPEG-4 Part 2 (OpenCV's mp4v), not H.264: %s", path, why)
        return OpenCVEncoder(path, OPENCV_FOURCC[suffix], size, fps)
    return PyAVEncoder(av, path, container, codec, pix_fmt, size, fps)


def _import_av() -> ModuleType:
    import av

    return av


def _as_oserror(exc: Exception) -> OSError:
    """PyAV's errors as a plain OSError with FFmpeg's message."""
    code = getattr(exc, "errno", None)
    if not isinstance(code, int) or not 0 < code < 4096:
        code = errno.EIO
    return OSError(code, getattr(exc, "strerror", None) or str(exc))


def _bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


class _Fitter:
    """Each frame at the first frame's size (folders of images differ in size; a video
    cannot), then padded by one edge pixel to the encoder's even size where needed."""

    def __init__(self, size: tuple[int, int], even: bool) -> None:
        self.size = size
        w, h = size
        self.coded = (w + (w & 1), h + (h & 1)) if even else size

    def __call__(self, image: np.ndarray) -> np.ndarray:
        image = _bgr(image)
        if (image.shape[1], image.shape[0]) != self.size:
            image = cv2.resize(image, self.size, interpolation=cv2.INTER_AREA)
        if self.coded != self.size:
            dw, dh = self.coded[0] - self.size[0], self.coded[1] - self.size[1]
            image = cv2.copyMakeBorder(image, 0, dh, 0, dw, cv2.BORDER_REPLICATE)
        return np.ascontiguousarray(image)


class PyAVEncoder:
    def __init__(self, av: Any, path: Path, container: str, codec: str, pix_fmt: str,
                 size: tuple[int, int], fps: float) -> None:
        self._av = av
        self.codec = "h264" if codec == H264_ENCODER else codec
        self._pix_fmt = pix_fmt
        self._fit = _Fitter(size, even=pix_fmt == "yuv420p")
        rate = frame_rate(fps)
        options = {"flush_packets": "1"}  # each finished fragment (or cluster) goes to the file at once
        if container in ("mp4", "mov"):
            options.update(FRAGMENTED)
        codec_options = dict(X264_OPTIONS) if codec == H264_ENCODER else {}
        self._container: Any = None
        try:
            # An absolute path: FFmpeg would read "a:b.mp4" as protocol "a".
            self._container = av.open(str(path.absolute()), "w", format=container, options=options)
            stream = self._container.add_stream(codec, rate=rate, options=codec_options)
            stream.width, stream.height = self._fit.coded
            stream.pix_fmt = pix_fmt
            cc = stream.codec_context
            cc.gop_size = max(1, round(float(rate) * KEYFRAME_SECONDS))
            cc.colorspace = 6  # BT.601 (SMPTE 170M): the matrix swscale converts BGR with
            cc.color_range = 2 if pix_fmt == "yuvj420p" else 1
        except av.FFmpegError as exc:
            self._release()
            raise _as_oserror(exc) from exc
        except BaseException:
            self._release()
            raise
        self._stream = stream
        self._pts = 0

    def write(self, image: np.ndarray) -> None:
        av = self._av
        frame = av.VideoFrame.from_ndarray(self._fit(image), format="bgr24").reformat(format=self._pix_fmt)
        frame.pts = self._pts
        self._pts += 1
        try:
            self._container.mux(self._stream.encode(frame))
        except av.FFmpegError as exc:
            raise _as_oserror(exc) from exc

    def close(self) -> None:
        if self._container is None:
            return
        av = self._av
        try:
            self._container.mux(self._stream.encode(None))  # what the encoder holds back
            self._container.close()  # the trailer
        except av.FFmpegError as exc:
            raise _as_oserror(exc) from exc
        finally:
            self._release()

    def _release(self) -> None:
        container, self._container = self._container, None
        if container is not None:
            try:
                container.close()
            except Exception:
                pass


class OpenCVEncoder:
    """OpenCV's VideoWriter: reports a file it cannot open, but not a failed write."""

    def __init__(self, path: Path, fourcc: str, size: tuple[int, int], fps: float) -> None:
        self.codec = fourcc.lower().replace("mjpg", "mjpeg")
        self._fit = _Fitter(size, even=False)
        try:
            str(path).encode("utf-8")
        except UnicodeEncodeError:  # OpenCV crashes on one (a file system name that is not UTF-8)
            raise OSError(errno.EINVAL, "OpenCV cannot write to a file name that is not UTF-8") from None
        self._writer: cv2.VideoWriter | None = cv2.VideoWriter(
            str(path), cv2.VideoWriter.fourcc(*fourcc), float(frame_rate(fps)), size
        )
        if not self._writer.isOpened():
            self._writer = None
            raise OSError(errno.EIO, f"OpenCV cannot open a {fourcc} video writer")

    def write(self, image: np.ndarray) -> None:
        assert self._writer is not None
        self._writer.write(self._fit(image))

    def close(self) -> None:
        writer, self._writer = self._writer, None
        if writer is not None:
            writer.release()
