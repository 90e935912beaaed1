"""Frame sources: video file, image, folder of images, camera index, stream URL."""

from __future__ import annotations

import functools
import logging
import os
import re
import stat
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

import cv2
import numpy as np

from trt_viewer.errors import InputError

IMAGE_EXTENSIONS = frozenset(
    {".jpg", ".jpeg", ".png", ".bmp", ".webp", ".tif", ".tiff", ".jp2", ".pgm", ".ppm"}
)
URL_PATTERN = re.compile(r"^(rtsp|rtsps|rtmp|rtmps|rtp|http|https|ftp|udp|tcp|srt)://", re.IGNORECASE)
# URLs that may name a whole file (a video served over HTTP or FTP): a file when the stream
# reports a frame count, else live (an HLS or MJPEG live feed). The other schemes are live.
FILE_URL_PATTERN = re.compile(r"^(http|https|ftp)://", re.IGNORECASE)
OPEN_TIMEOUT_MS = 5000
READ_TIMEOUT_MS = 5000  # FFmpeg gives up on a read that blocks this long
# A live read that fails after blocking this long hit the read timeout: the stream was lost,
# it did not say it was over.
STALLED_S = 0.8 * READ_TIMEOUT_MS / 1000
# Above 99 OpenCV takes an index as a backend and a camera (200 is V4L camera 0).
MAX_CAMERA_INDEX = 99

log = logging.getLogger(__name__)


NO_PIXELS = np.zeros((0, 0, 3), np.uint8)  # a settled frame whose pixels nobody needed


class Lender(Protocol):
    """Lends a frame's pixels from memory the decoder reuses (a slot of a shared ring, a
    decoder's surface on the GPU) until the frame is settled."""

    def pixels(self) -> np.ndarray:
        """The frame as host BGR pixels of its own (a copy, or a download from the GPU)."""

    def scaled(self, wh: tuple[int, int]) -> np.ndarray:
        """The frame as host BGR pixels scaled to wh (width, height) as cv2.resize
        INTER_LINEAR scales them, made where the frame is (a viewer's picture: on the GPU
        only the scaled picture crosses to the host)."""

    def give_back(self) -> None:
        """The decoder may reuse the memory."""


@dataclass
class Frame:
    index: int
    image: np.ndarray  # BGR uint8 HxWx3 (borrowed while `lender` is set; NO_PIXELS once dropped)
    name: str  # file name for image inputs, else the source as given
    timestamp: float  # seconds: position in a file, else time.monotonic() at capture
    device: Any = None  # the frame on the GPU (core.device_frames.DeviceImage), where decoded there
    lender: Lender | None = field(default=None, repr=False)
    hw: tuple[int, int] = (0, 0)  # (H, W), kept when the pixels are dropped
    _fetched: bool = field(default=False, init=False, repr=False, compare=False)  # pixels came from the lender
    _holders: int = field(default=1, init=False, repr=False, compare=False)  # settles due before the lender goes back
    # The lender and the pixels change under this: a viewer's thread may fetch the frame
    # on screen while the player's thread settles it.
    _lock: threading.Lock = field(default_factory=threading.Lock, init=False, repr=False, compare=False)

    def __post_init__(self) -> None:
        if self.hw == (0, 0):
            self.hw = (int(self.image.shape[0]), int(self.image.shape[1]))

    def host_image(self) -> np.ndarray:
        """The pixels on the host, fetched from the decoder's memory if they are still
        there only (a frame decoded on the GPU, for a buffer that takes host pixels)."""
        with self._lock:
            return self._fetch()

    def _fetch(self) -> np.ndarray:
        if self.lender is not None and self.image is NO_PIXELS:
            self.image = self.lender.pixels()  # a copy of its own: settle() keeps it as is
            self._fetched = True
        return self.image

    def scaled(self, wh: tuple[int, int]) -> np.ndarray:
        """The pixels scaled to wh (width, height) with cv2.resize INTER_LINEAR: by the
        lender where they are still only in the decoder's memory (a frame on the GPU: no
        full-size copy to the host), else from the host pixels (the frame itself at its own
        size). Empty for a frame settled without its pixels."""
        with self._lock:
            if self.lender is not None and self.image is NO_PIXELS:
                return self.lender.scaled(wh)
            image = self.image
        h, w = image.shape[:2]
        if (w, h) == wh or image.size == 0:
            return image
        return cv2.resize(image, wh, interpolation=cv2.INTER_LINEAR)

    def hold(self) -> Frame:
        """One more holder of the decoder's memory (the viewer's frame on screen, while the
        player keeps the same frame): the memory goes back when every holder has settled."""
        with self._lock:
            if self.lender is not None:
                self._holders += 1
        return self

    @property
    def lent(self) -> bool:
        """Whether the frame still holds its decoder's memory."""
        return self.lender is not None

    def settle(self, keep_pixels: bool = True) -> None:
        """Done with the decoder's memory (the model has the frame): the pixels become the
        frame's own where kept, else are dropped, and the memory goes back to the decoder
        once no other holder has it (hold()). Runs in the thread that reads, or any thread
        where the lender pushes its own context (a download from the GPU needs it)."""
        with self._lock:
            if self.lender is None:
                return
            if self._holders > 1:  # another holder goes on with it: only this one is done
                self._holders -= 1
                if keep_pixels:
                    self._fetch()
                return
            self._give_back(keep_pixels)

    def detach(self) -> None:
        """The decoder is closing: the pixels are fetched for every holder there still is,
        and the memory goes back now."""
        with self._lock:
            if self.lender is not None:
                self._give_back(True)

    def _give_back(self, keep_pixels: bool) -> None:
        lender, self.lender = self.lender, None
        assert lender is not None
        try:
            if not keep_pixels:
                self.image = NO_PIXELS
            elif not self._fetched:
                self.image = lender.pixels()
        finally:
            self.device = None
            lender.give_back()


class Source:
    """One opened source; read() gives the next frame or None at the end.

    end_reason is "" until read() has returned None, then "ended" (the source said it was
    over: the end of a file or folder, a stream closed by its server) or "lost" (a live
    source went away: a read blocked until the read timeout, a read failed after frames
    came, a camera stopped giving frames). skipped_names lists the files of a folder that
    could not be read and were skipped (each logged once as a warning); skipped counts them.
    """

    live = False  # live sources drop stale frames instead of queueing them
    length: int | None = None  # frame count where known, for progress and seeking
    fps: float | None = None
    seekable = False
    image_files = False  # each frame is an image file of its own (a folder)
    # read() only hands over a frame decoded elsewhere (a decoder process, the GPU's
    # decoder) and never blocks long: the player's thread calls it itself, with no reader
    # thread between (whose every frame would wait for the GIL: docs/performance.md).
    decoded_elsewhere = False
    downloads = 0  # frames copied from the GPU to the host (a decoder on the GPU counts them)
    decoder = "cpu (thread)"  # what decodes it, as the viewer names it: FFmpeg/OpenCV in this process

    def __init__(self, spec: str) -> None:
        self.spec = spec
        self.frames_read = 0
        self.end_reason = ""
        self.skipped_names: list[str] = []

    @property
    def skipped(self) -> int:
        """Images of a folder that could not be read and were skipped."""
        return len(self.skipped_names)

    def read(self) -> Frame | None:
        raise NotImplementedError

    def poll(self, timeout: float = 0.0) -> bool:
        """Whether read() would return at once (a frame, the end or an error waits),
        waiting up to `timeout` seconds for one; only sources decoded elsewhere wait."""
        return True

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
    if image.shape[2] == 1:
        return cv2.cvtColor(image, cv2.COLOR_GRAY2BGR)
    if image.shape[2] == 4:
        return cv2.cvtColor(image, cv2.COLOR_BGRA2BGR)
    return image


def read_image(path: Path) -> np.ndarray:
    quiet_opencv()  # a truncated PNG is a warning from OpenCV, and an error here
    # imdecode via np.fromfile reads paths that imread mangles (non-ASCII on Windows).
    try:
        data = np.fromfile(str(path), np.uint8)
    except OSError as exc:
        raise InputError(f"cannot read image {path}: {exc.strerror or exc}") from None
    except MemoryError:
        raise InputError(f"cannot read image {path}: too large to load") from None
    try:
        image = cv2.imdecode(data, cv2.IMREAD_COLOR) if data.size else None
    except cv2.error:  # an image too large for OpenCV (CV_IO_MAX_IMAGE_PIXELS), a bad header
        raise InputError(f"cannot decode image {path}: too large or malformed for OpenCV") from None
    if image is None:
        raise InputError(f"cannot decode image {path}: not an image OpenCV can read")
    return _to_bgr(image)


class ImageFilesSource(Source):
    """One image or a folder of images, in natural order.

    A folder's unreadable images are skipped, each with one warning, and listed in
    skipped_names; a frame's index stays its image's position in the folder. A folder none
    of whose images can be read fails at its end. A single image is checked at open (its
    decoded image is passed as `first`), and fails in read() if it cannot be read again."""

    image_files = True

    def __init__(self, spec: str, paths: list[Path], first: np.ndarray | None = None,
                 *, folder: bool = False) -> None:
        super().__init__(spec)
        self.paths = paths
        self.length = len(paths)
        self.seekable = True
        self.folder = folder
        self._next = 0
        self._first = first  # already decoded to check it at open: not decoded twice
        self._failed: set[int] = set()  # positions of the images that could not be read

    def read(self) -> Frame | None:
        while self._next < len(self.paths):
            index, path = self._next, self.paths[self._next]
            self._next += 1
            image, self._first = self._first, None
            if image is None:
                try:
                    image = read_image(path)
                except InputError as exc:
                    if not self.folder:
                        raise
                    self._skip(index, path, exc)
                    continue
            self.frames_read += 1
            return Frame(index, image, path.name, 0.0)
        self.end_reason = "ended"
        if self.folder and self.paths and len(self._failed) == len(self.paths):
            raise InputError(f"no image in folder {self.spec} could be read")
        return None

    def _skip(self, index: int, path: Path, exc: InputError) -> None:
        if index in self._failed:  # seen again after a seek: said once already
            return
        self._failed.add(index)
        self.skipped_names.append(path.name)
        log.warning("%s; skipped", exc)

    def seek(self, index: int) -> None:
        self._next = max(0, min(index, len(self.paths)))
        self._first = None
        self.end_reason = ""


def _natural_key(path: Path) -> list[object]:
    return [int(t) if t.isdigit() else t.lower() for t in re.split(r"(\d+)", path.name)]


class CaptureSource(Source):
    """Anything cv2.VideoCapture opens: video file, camera, stream URL, a video over HTTP.

    `capture` is a cv2.VideoCapture or anything with its read/get/set/release. A file ends
    "ended" (shortfall counts the frames its header promised beyond the last good one). A
    live source ends "ended" when a read comes back empty at once (the server closed the
    stream) and "lost" when the empty read took `stalled_s` or more (the read timeout hit)
    or raised; a camera has no end of its own: when it stops giving frames it is "lost".
    """

    stalled_s = STALLED_S

    def __init__(self, spec: str, capture: cv2.VideoCapture, live: bool, *, camera: bool = False) -> None:
        super().__init__(spec)
        self.capture = capture
        self.live = live
        self.camera = camera
        fps = capture.get(cv2.CAP_PROP_FPS)
        self.fps = fps if 0 < fps < 1000 else None
        count = int(capture.get(cv2.CAP_PROP_FRAME_COUNT))
        self.length = count if count > 0 and not live else None
        self.seekable = self.length is not None
        self._index = 0
        self._ended = False
        self._lost = False  # the last empty read hit the read timeout or raised
        first = self._grab()
        if first is None:
            capture.release()
            what = "stream" if live else "video"
            raise InputError(f"cannot decode {what} {spec}: no frame could be read")
        self._pending: np.ndarray | None = first
        self.first_hw = (int(first.shape[0]), int(first.shape[1]))

    def _grab(self, out: np.ndarray | None = None) -> np.ndarray | None:
        start = time.monotonic()
        try:
            # OpenCV decodes into `out` where the frame has its shape, else into a new array.
            ok, image = self.capture.read() if out is None else self.capture.read(out)
        except cv2.error:  # FFmpeg or a camera driver gave up mid-stream
            self._lost = True
            return None
        if ok and image is not None and image.size:
            return _to_bgr(image)
        self._lost = time.monotonic() - start >= self.stalled_s
        return None

    def read(self) -> Frame | None:
        return self.read_into(None)

    def read_into(self, out: np.ndarray | None) -> Frame | None:
        """read(), decoding into `out` (HxWx3 uint8) where the frame fits it exactly; the
        frame's image is `out` then, else an array of its own."""
        image, self._pending = self._pending, None
        if image is None and not self._ended:
            image = self._grab(out)
            if image is None:
                self._ended = True
                self.end_reason = "lost" if self.live and (self._lost or self.camera) else "ended"
        if image is None:
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
        self._index, self._pending, self._ended, self.end_reason = index, None, False, ""

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
    cv_logging = getattr(getattr(cv2, "utils", None), "logging", None)
    if cv_logging is not None:
        cv_logging.setLogLevel(cv_logging.LOG_LEVEL_ERROR)


def _open_capture(target: str | int, api: int, decode_threads: int | None = None) -> cv2.VideoCapture | None:
    """The capture, opened or not; None where OpenCV refused the arguments themselves.
    decode_threads: FFmpeg's decoding threads for a file (None: OpenCV's choice)."""
    quiet_opencv()
    params = [cv2.CAP_PROP_OPEN_TIMEOUT_MSEC, OPEN_TIMEOUT_MS, cv2.CAP_PROP_READ_TIMEOUT_MSEC, READ_TIMEOUT_MS]
    if decode_threads:
        params += [cv2.CAP_PROP_N_THREADS, decode_threads]
    try:
        return cv2.VideoCapture(target, api, params)
    except cv2.error:
        pass
    try:
        return cv2.VideoCapture(target, api)
    except cv2.error:
        return None


def _opened(capture: cv2.VideoCapture | None, failure: str) -> cv2.VideoCapture:
    """The capture if it opened; else released, and InputError(failure)."""
    if capture is not None and capture.isOpened():
        return capture
    if capture is not None:
        capture.release()
    raise InputError(failure)


def open_camera(index: int) -> CaptureSource:
    if not 0 <= index <= MAX_CAMERA_INDEX:  # OpenCV would read 700 as DirectShow camera 0
        raise InputError(f"no camera at index {index}")
    capture = _opened(_open_capture(index, cv2.CAP_ANY), f"no camera at index {index}")
    try:
        return CaptureSource(str(index), capture, live=True, camera=True)
    except InputError:
        raise InputError(f"camera {index} opened but gave no frame") from None


def open_stream(url: str) -> CaptureSource:
    """A stream URL. One over HTTP(S) or FTP whose stream counts its frames is a file
    (every frame read, seekable); everything else is live."""
    capture = _opened(_open_capture(url, cv2.CAP_FFMPEG), f"cannot open stream {url}")
    live = not (FILE_URL_PATTERN.match(url) and capture.get(cv2.CAP_PROP_FRAME_COUNT) > 0)
    return CaptureSource(url, capture, live=live)


def _is_video_device(path: Path) -> bool:
    """A video4linux device (/dev/video0), which OpenCV opens as a camera by its path."""
    try:
        name = path.resolve().name
    except (OSError, RuntimeError):
        return False
    return name.startswith("video") and Path("/sys/class/video4linux", name).exists()


def _not_a_file(mode: int) -> str:
    if stat.S_ISFIFO(mode):
        return "a named pipe (FIFO)"
    if stat.S_ISSOCK(mode):
        return "a socket"
    if stat.S_ISCHR(mode) or stat.S_ISBLK(mode):
        return "a device"
    return "not a regular file"


def _shown(spec: str, limit: int = 120) -> str:
    return spec if len(spec) <= limit else spec[:limit] + "..."


def _folder_images(path: Path) -> list[Path]:
    try:
        images = [p for p in path.iterdir() if p.suffix.lower() in IMAGE_EXTENSIONS and p.is_file()]
    except OSError as exc:
        raise InputError(f"cannot read folder {path}: {exc.strerror or exc}") from None
    return sorted(images, key=_natural_key)


def open_source(spec: str, decode_threads: int | None = None) -> Source:
    """Open a source from what the user typed; InputError with one line if unusable.

    An all-digit name is a file or folder where one of that name exists, else a camera index.
    decode_threads: FFmpeg's threads for decoding a video file (None: OpenCV's choice, one
    per core)."""
    spec = spec.strip()
    if not spec:
        raise InputError("no source given")
    if URL_PATTERN.match(spec):
        return open_stream(spec)
    path = Path(spec).expanduser()
    try:
        mode = path.stat().st_mode
    except (OSError, ValueError) as exc:  # missing, a NUL in the name, a name too long...
        if re.fullmatch(r"[0-9]+", spec):
            return open_camera(int(spec))
        if isinstance(exc, (FileNotFoundError, NotADirectoryError, ValueError)):
            raise InputError(f"source {_shown(spec)} does not exist") from None
        raise InputError(f"cannot open source {_shown(spec)}: {exc.strerror or exc}") from None
    if stat.S_ISDIR(mode):
        images = _folder_images(path)
        if not images:
            raise InputError(f"folder {path} holds no images")
        return ImageFilesSource(spec, images, folder=True)
    if stat.S_ISCHR(mode) and _is_video_device(path):
        capture = _opened(_open_capture(str(path), cv2.CAP_V4L2), f"cannot open camera {spec}")
        return CaptureSource(spec, capture, live=True, camera=True)
    if not stat.S_ISREG(mode):  # a FIFO or a terminal would block the open, a disk is no video
        raise InputError(f"source {spec} is {_not_a_file(mode)}, not a video or image file")
    if not os.access(path, os.R_OK):
        raise InputError(f"source {spec} is not readable")
    if path.suffix.lower() in IMAGE_EXTENSIONS:
        return ImageFilesSource(spec, [path], first=read_image(path))  # fails now, not in the reader
    failure = f"cannot decode video {spec}: not a format OpenCV can read"
    capture = _opened(_open_capture(str(path), cv2.CAP_ANY, decode_threads), failure)
    return CaptureSource(spec, capture, live=False)
