"""Frame sources: video file, image, folder of images, camera index, stream URL."""

from __future__ import annotations

import functools
import os
import re
import time
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from trt_viewer.errors import InputError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm"}
)
URL_PATTERN = re.compile(r"^(rtsp|rtsps|rtmp|http|https|udp|tcp|srt)://", re.IGNORECASE)
OPEN_TIMEOUT_MS = 5000


@dataclass
class Frame:
    index: int
    image: np.ndarray  # BGR uint8 HxWx3
    name: str  # file name for image inputs, else the source as given
    timestamp: float  # seconds: position in a file, else time.monotonic() at capture


class Source:
    """One opened source; read() gives the next frame or None at the end."""

    live = False  # live sources drop stale frames instead of queueing them
    length: int | None = None  # frame count where known, for progress and seeking
    fps: float | None = None
    seekable = False

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.frames_read = 0

    def read(self) -> Frame | None:
        raise NotImplementedError

    def seek(self, index: int) -> None:
        raise InputError(f"{self.spec} cannot be seeked")

    def close(self) -> None:
        pass

    @property
    def shortfall(self) -> int:
        """Frames the header promised that never decoded (0 when complete or unknown)."""
        return 0

    def __enter__(self) -> Source:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _to_bgr(image: np.ndarray) -> np.ndarray:
    if image.ndim == 2:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def read_image(path: Path) -> np.ndarray:
    # imdecode via np.fromfile reads paths that imread mangles (non-ASCII on Windows).
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read image {path}: {exc.strerror or exc}") from None
    image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    if image is None:
        raise InputError(f"cannot decode image {path}: not an image OpenCV can read")
    return _to_bgr(image)


class ImageFilesSource(Source):
    """One image or a folder of images, in natural order."""

    def __init__(self, spec: str, paths: list[Path], first: np.ndarray | None = None) -> None:
        super().__init__(spec)
        self.paths = paths
        self.length = len(paths)
        self.seekable = True
        self._next = 0
        self._first = first  # already decoded to check it at open: not decoded twice

    def read(self) -> Frame | None:
        if self._next >= len(self.paths):
            return None
        path = self.paths[self._next]
        image, self._first = self._first, None
        if image is None:
            image = read_image(path)
        frame = Frame(self._next, image, path.name, 0.0)
        self._next += 1
        self.frames_read += 1
        return frame

    def seek(self, index: int) -> None:
        self._next = max(0, min(index, len(self.paths)))
        self._first = None


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class CaptureSource(Source):
    """Anything cv2.VideoCapture opens: video file, camera index or stream URL."""

    def __init__(self, spec: str, capture: cv2.VideoCapture, live: bool) -> None:
        super().__init__(spec)
        self.capture = capture
        self.live = live
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.length = count if count > 0 and not live else None
        self.seekable = self.length is not None
        self._index = 0
        self._ended = False
        first = self._grab()
        if first is None:
            capture.release()
            what = "stream" if live else "video"
            raise InputError(f"cannot decode {what} {spec}: no frame could be read")
        self._pending: np.ndarray | None = first

    def _grab(self) -> np.ndarray | None:
        ok, image = self.capture.read()
        return _to_bgr(image) if ok and image is not None else None

    def read(self) -> Frame | None:
        image, self._pending = self._pending, None
        if image is None and not self._ended:
            image = self._grab()
        if image is None:
            self._ended = True
            return None
        if self.live:
            stamp = time.monotonic()
        else:
            stamp = self._index / self.fps if self.fps else 0.0
        frame = Frame(self._index, image, self.spec, stamp)
        self._index += 1
        self.frames_read += 1
        return frame

    def seek(self, index: int) -> None:
        if not self.seekable:
            super().seek(index)
        index = max(0, min(index, (self.length or 1) - 1))
        self.capture.set(cv2.CAP_PROP_POS_FRAMES, index)
        self._index, self._pending, self._ended = index, None, False

    @property
    def shortfall(self) -> int:
        if self.length is None or not self._ended:
            return 0
        return max(0, self.length - self._index)

    def close(self) -> None:
        self.capture.release()


@functools.cache
def quiet_opencv() -> None:
    """OpenCV's warnings (a missing camera, a probe of a backend) and FFmpeg's decoder
    chatter would land in the user's terminal as noise around the one-line errors raised
    here. Done once, when the first capture opens, not at import: importing a module must
    not change the process. OpenCV reads OPENCV_FFMPEG_LOGLEVEL when FFmpeg first starts;
    a value the user set is kept."""
    os.environ.setdefault("OPENCV_FFMPEG_LOGLEVEL", "-8")  # AV_LOG_QUIET
    logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if logging is not None:
        logging.setLogLevel(logging.LOG_LEVEL_ERROR)


def _open_capture(target: str | int, api: int) -> cv2.VideoCapture:
    quiet_opencv()
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, OPEN_TIMEOUT_MS]
    try:
        return cv2.VideoCapture(target, api, params)
    except cv2.error:
        return cv2.VideoCapture(target, api)


def open_camera(index: int) -> CaptureSource:
    capture = _open_capture(index, cv2.CAP_ANY)
    if not capture.isOpened():
        raise InputError(f"no camera at index {index}")
    try:
        return CaptureSource(str(index), capture, live=True)
    except InputError:
        raise InputError(f"camera {index} opened but gave no frame") from None


def open_source(spec: str) -> Source:
    """Open a source from what the user typed; InputError with one line if unusable."""
    spec = spec.strip()
    if not spec:
        raise InputError("no source given")
    if spec.isdigit():
        return open_camera(int(spec))
    if URL_PATTERN.match(spec):
        capture = _open_capture(spec, cv2.CAP_FFMPEG)
        if not capture.isOpened():
            raise InputError(f"cannot open stream {spec}")
        return CaptureSource(spec, capture, live=True)
    path = Path(spec).expanduser()
    if path.is_dir():
        images = sorted(
            (p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()),
            key=_natural_key,
        )
        if not images:
            raise InputError(f"folder {path} holds no images")
        return ImageFilesSource(spec, images)
    if not path.exists():
        raise InputError(f"source {spec} does not exist")
    if not os.access(path, os.R_OK):
        raise InputError(f"source {spec} is not readable")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageFilesSource(spec, [path], first=read_image(path))  # fails now, not in the reader
    capture = _open_capture(str(path), cv2.CAP_ANY)
    if not capture.isOpened():
        raise InputError(f"cannot decode video {spec}: not a format OpenCV can read")
    return CaptureSource(spec, capture, live=False)
