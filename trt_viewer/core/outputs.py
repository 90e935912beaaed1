"""Where a run's results go: detections as JSONL or CSV, annotated video or images.

Nothing is lost or destroyed:

- A file that does not exist yet is created in place (exclusively). One that exists is
  left alone while `<stem>.part<suffix>` beside it is written (`clip.part.mp4`; then
  `clip.part2.mp4`... if that name is taken), and replaces it only at `close(keep=True)`,
  by a rename in the same folder. `close(keep=False)` removes what the writer created
  and leaves an existing file as it was. Writers are context managers: leaving the
  block by an exception before anything was written discards, otherwise keeps.
- A write that fails (a full disk) raises RunError("cannot write <file>: <reason>");
  detections files are cut back to the last whole frame, so they hold whole lines only.
  A kept file is synced to disk before it is reported written.
"""

from __future__ import annotations

import csv
import io
import json
import os
import stat
from pathlib import Path
from types import TracebackType
from typing import Any, TextIO, TypeVar

import cv2
import numpy as np

from trt_viewer.core.detections import Detections
from trt_viewer.core.sources import IMAGE_EXTENSIONS
from trt_viewer.core.video import OPENCV_FOURCC, VIDEO_SUFFIXES, VideoEncoder, open_encoder
from trt_viewer.errors import InputError, RunError

VIDEO_FOURCC = OPENCV_FOURCC  # the encoders where PyAV is missing (the names of old)
CSV_FIELDS = ("frame", "source", "width", "height", "x1", "y1", "x2", "y2", "score", "class_id", "label", "track_id")
PART_TRIES = 100  # clip.part.mp4, clip.part2.mp4 ... clip.part99.mp4


def check_output_path(path: Path, what: str) -> Path:
    """Refuse before any work is done: a folder that does not exist, a folder given for a
    file, or no permission to write (the folder, or an existing file)."""
    path = path.expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{what} {path}: folder {parent} does not exist")
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give a file name")
    if path.exists():
        if not os.access(path, os.W_OK):
            raise InputError(f"{what} {path} exists and is read-only")
        if not path.is_file():
            return path  # a device or a pipe (/dev/null): written in place
        parent = Path(os.path.realpath(path)).parent  # a link's file is replaced beside it
    if not os.access(parent, os.W_OK | os.X_OK):
        raise InputError(f"{what} {path}: folder {parent} is not writable")
    return path


def frame_record(
    index: int, source: str, image_hw: tuple[int, int], detections: Detections, names: list[str],
    events: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    """One frame's JSONL object; `events` (lines crossed, zones entered or left) only where
    the run counts and the frame had some."""
    record = {
        "frame": index,
        "source": source,
        "width": int(image_hw[1]),
        "height": int(image_hw[0]),
        "detections": detections.to_records(names),
    }
    if events:
        record["events"] = events
    return record


def _reason(exc: OSError) -> str:
    return exc.strerror or str(exc) or type(exc).__name__


class StagedFile:
    """The file an output writes until it is closed: the target itself when it does not
    exist (created exclusively), else `<stem>.part<suffix>` beside it, renamed over it
    only by close(keep=True). A target that is not a regular file (/dev/null, a pipe) is
    written in place and never removed. `file` is the open, unbuffered file."""

    def __init__(self, target: Path, what: str) -> None:
        self.target = target
        self.replaces: Path | None = None  # the existing file close(keep=True) replaces
        self.created = True  # whether `path` is ours to remove
        self.closed = False
        try:
            self.path, fd = self._open(target)
        except OSError as exc:
            raise InputError(f"cannot write {what} {target}: {_reason(exc)}") from None
        self.file = open(fd, "wb", buffering=0)  # noqa: SIM115 (closed by close())

    def _open(self, target: Path) -> tuple[Path, int]:
        flags = os.O_WRONLY | os.O_CREAT | os.O_EXCL | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0)
        try:
            return target, os.open(target, flags, 0o666)
        except FileExistsError:
            pass
        st = os.stat(target)  # it exists (a broken link raises: not ours to follow)
        if not stat.S_ISREG(st.st_mode):
            self.created = False
            return target, os.open(target, os.O_WRONLY | getattr(os, "O_CLOEXEC", 0))
        if not os.access(target, os.W_OK):
            raise PermissionError(13, "the file exists and is read-only")
        real = Path(os.path.realpath(target))  # through a link, the file it names is replaced
        for n in range(1, PART_TRIES):
            part = real.with_name(f"{real.stem}.part{n if n > 1 else ''}{real.suffix}")
            try:
                fd = os.open(part, flags, 0o666)
            except FileExistsError:
                continue  # a part file left by a killed run holds a recording: keep it
            self.replaces = real
            return part, fd
        raise FileExistsError(17, f"{real.stem}.part{real.suffix} to .part{PART_TRIES - 1} all exist")

    @property
    def in_place(self) -> bool:
        return self.replaces is None

    def close(self, keep: bool, error: OSError | None = None) -> None:
        """Close the file; keep: sync it and rename it over the target (if staged), else
        remove it. `error`: the writer could not finish the file; it is then neither
        renamed nor removed, and the RunError says where it is. Idempotent."""
        if self.closed:
            return
        self.closed = True
        try:
            self.file.close()
        except OSError as exc:
            error = error or exc
        if not keep:
            self._remove()
            return
        if error is None:
            try:
                self._commit()
            except OSError as exc:
                error = exc
        if error is not None:
            where = "" if self.in_place else f"; what was written is in {self.path}"
            raise RunError(f"cannot write {self.target}: {_reason(error)}{where}")

    def _commit(self) -> None:
        if not self.created:
            return
        _fsync(self.path)
        if self.replaces is not None:
            try:
                os.chmod(self.path, stat.S_IMODE(os.stat(self.replaces).st_mode))
            except OSError:
                pass
            os.replace(self.path, self.replaces)
            _fsync_folder(self.replaces.parent)

    def _remove(self) -> None:
        if self.created:
            try:
                os.unlink(self.path)
            except FileNotFoundError:
                pass


def _fsync(path: Path) -> None:
    fd = os.open(path, os.O_RDWR | getattr(os, "O_BINARY", 0) | getattr(os, "O_CLOEXEC", 0))
    try:
        os.fsync(fd)
    finally:
        os.close(fd)


def _fsync_folder(folder: Path) -> None:
    """The rename made durable where the system allows syncing a folder."""
    try:
        fd = os.open(folder, os.O_RDONLY | getattr(os, "O_DIRECTORY", 0))
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass
    finally:
        os.close(fd)


_W = TypeVar("_W", bound="_Closing")


class _Closing:
    """close(keep) on leaving a with-block: discard when an exception left it before
    anything was written."""

    frames: int

    def close(self, keep: bool = True) -> None:
        raise NotImplementedError

    def __enter__(self: _W) -> _W:
        return self

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close(keep=exc_type is None or self.frames > 0)


class DetectionsWriter(_Closing):
    """One JSONL object per frame, or one CSV row per detection, each frame written as a
    whole, so that a run that fails midway leaves a valid file up to the last finished
    frame. `DetectionsWriter.to_stream(sys.stdout)` writes to a stream instead."""

    def __init__(self, path: Path, format: str | None = None) -> None:
        """format: "jsonl", "csv" (None: by the suffix) or "mot" (MOTChallenge tracks:
        frame,id,x,y,w,h,score,-1,-1,-1 with 1-based frames; detections on no track left out)."""
        path = check_output_path(path, "tracks file" if format == "mot" else "detections file")
        self._setup(path, format or ("csv" if path.suffix.lower() == ".csv" else "jsonl"), None)

    def _setup(self, path: Path, format: str, stream: TextIO | None) -> None:
        self.path = path
        self.format = format
        self.frames = 0
        self._stream = stream
        self._staged = StagedFile(path, "detections file") if stream is None else None
        self._end = 0  # the file's length after the last whole frame
        if format == "csv":
            try:
                self._write(_csv_text([CSV_FIELDS]))
            except BaseException:
                self.close(keep=False)
                raise

    @classmethod
    def to_stream(cls, stream: TextIO, *, format: str = "jsonl", name: str = "standard output") -> DetectionsWriter:
        """Write to an open text stream (standard output): flushed frame by frame, never
        closed here; a BrokenPipeError goes to the caller as it is."""
        if format not in ("jsonl", "csv"):
            raise ValueError(f"unknown detections format {format!r}")
        writer = cls.__new__(cls)
        writer._setup(Path(name), format, stream)
        return writer

    def write(self, record: dict[str, Any]) -> None:
        if self.format == "jsonl":
            text = json.dumps(record, separators=(",", ":")) + "\n"
        elif self.format == "mot":
            frame = record["frame"] + 1
            text = "".join(
                f"{frame},{d['track_id']},{x1:.2f},{y1:.2f},{x2 - x1:.2f},{y2 - y1:.2f},{d['score']:.4f},-1,-1,-1\n"
                for d in record["detections"] if d.get("track_id") is not None
                for x1, y1, x2, y2 in [d["box"]]
            )
        else:
            head = [record["frame"], record["source"], record["width"], record["height"]]
            text = _csv_text([head + d["box"] + [d["score"], d["class_id"], d["label"], d.get("track_id", "")]
                              for d in record["detections"]])
        self._write(text)
        self.frames += 1

    def _write(self, text: str) -> None:
        if self._stream is not None:
            self._write_stream(self._stream, text)
            return
        if self._staged is None or self._staged.closed:
            raise RunError(f"cannot write {self.path}: it is closed")
        # File names that were not UTF-8 (surrogate escapes) are written as \udcxx.
        data = text.encode("utf-8", "backslashreplace")
        file = self._staged.file
        try:
            _write_all(file, data)
        except OSError as exc:
            self._cut_back(file)
            raise RunError(f"cannot write {self.path}: {_reason(exc)}") from None
        self._end += len(data)

    def _cut_back(self, file: Any) -> None:
        """Back to the last whole frame (best effort: a pipe cannot be cut)."""
        try:
            os.ftruncate(file.fileno(), self._end)
            file.seek(self._end)
        except (OSError, ValueError):
            pass

    def _write_stream(self, stream: TextIO, text: str) -> None:
        encoding = getattr(stream, "encoding", None) or "utf-8"
        text = text.encode(encoding, "backslashreplace").decode(encoding)
        try:
            stream.write(text)
            stream.flush()
        except BrokenPipeError:
            raise
        except OSError as exc:
            raise RunError(f"cannot write {self.path}: {_reason(exc)}") from None

    def close(self, keep: bool = True) -> None:
        """keep: the file stays (replacing one that was there); else it goes and one that
        was there is untouched. A stream is flushed, not closed. Idempotent."""
        if self._stream is not None:
            stream, self._stream = self._stream, None
            try:
                stream.flush()
            except BrokenPipeError:
                raise
            except OSError as exc:
                raise RunError(f"cannot write {self.path}: {_reason(exc)}") from None
        elif self._staged is not None:
            self._staged.close(keep)


def _write_all(file: Any, data: bytes) -> None:
    """All of `data` to an unbuffered file, which may take it in parts."""
    view = memoryview(data)
    while view:
        n = file.write(view)
        view = view[n or 0:]


def _csv_text(rows: list[Any]) -> str:
    buf = io.StringIO()
    csv.writer(buf).writerows(rows)
    return buf.getvalue()


class AnnotatedOutput(_Closing):
    """Annotated frames to a video file, or to an image file for single-image sources.

    Videos: H.264 in .mp4/.m4v/.mov/.mkv (fragmented MP4/MOV), MJPEG in .avi (see
    core.video). `codec` says what was written once the first frame is in. Nothing is
    kept when no frame was written."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = check_output_path(path, "output")
        suffix = self.path.suffix.lower()
        self.is_image = suffix in IMAGE_EXTENSIONS
        if not self.is_image and suffix not in VIDEO_SUFFIXES:
            known = ", ".join(sorted(VIDEO_SUFFIXES)) + " or an image type"
            raise InputError(f"output {self.path}: unknown file type {suffix or '(none)'}; use {known}")
        self.fps = fps if fps and fps > 0 else 30.0
        self.frames = 0
        self.codec: str | None = None
        self._encoder: VideoEncoder | None = None
        self._failed: RunError | None = None
        self._staged = StagedFile(self.path, "output")
        if not self.is_image:
            self._staged.file.close()  # the encoder opens the file by its name

    def write(self, image: np.ndarray) -> None:
        if self._staged.closed:
            raise RunError(f"cannot write {self.path}: it is closed")
        if self._failed is not None:
            raise self._failed
        if self.is_image:
            self._write_image(image)
            return
        try:
            if self._encoder is None:
                h, w = image.shape[:2]
                self._encoder = open_encoder(self._staged.path, (w, h), self.fps)
                self.codec = self._encoder.codec
            self._encoder.write(image)
        except OSError as exc:
            self._failed = RunError(f"cannot write {self.path}: {_reason(exc)}")
            raise self._failed from None
        self.frames += 1

    def _write_image(self, image: np.ndarray) -> None:
        if self.frames:
            raise RunError(f"output {self.path} is an image but the source has more than one frame; "
                           "use a video file")
        ok, data = cv2.imencode(self.path.suffix, image)
        if not ok:
            raise RunError(f"cannot write image {self.path}: OpenCV cannot encode it")
        try:
            _write_all(self._staged.file, data.tobytes())
        except OSError as exc:
            raise RunError(f"cannot write {self.path}: {_reason(exc)}") from None
        self.frames += 1
        self.codec = self.path.suffix.lower().lstrip(".")

    def close(self, keep: bool = True) -> None:
        """Finalise the file. keep (and a frame was written): it stays, replacing one that
        was there; else it goes and one that was there is untouched. Idempotent."""
        if self._staged.closed:
            return
        error: OSError | None = None
        encoder, self._encoder = self._encoder, None
        if encoder is not None:
            try:
                encoder.close()
            except OSError as exc:
                error = exc
        self._staged.close(keep and self.frames > 0, error)
