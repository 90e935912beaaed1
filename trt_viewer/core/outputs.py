"""Where a run's results go: detections as JSONL or CSV, annotated video or images."""

from __future__ import annotations

import csv
import json
from pathlib import Path
from typing import IO, Any

import cv2
import numpy as np

from trt_viewer.core.detections import Detections
from trt_viewer.core.sources import IMAGE_EXTENSIONS
from trt_viewer.errors import InputError, RunError

VIDEO_FOURCC = {".mp4": "mp4v", ".m4v": "mp4v", ".mov": "mp4v", ".avi": "MJPG", ".mkv": "MJPG"}
CSV_FIELDS = ("frame", "source", "width", "height", "x1", "y1", "x2", "y2", "score", "class_id", "label")


def check_output_path(path: Path, what: str) -> Path:
    """Refuse before any work is done: a folder that does not exist, or no write access."""
    path = path.expanduser()
    parent = path.parent if str(path.parent) else Path(".")
    if not parent.is_dir():
        raise InputError(f"{what} {path}: folder {parent} does not exist")
    if path.is_dir():
        raise InputError(f"{what} {path} is a folder; give a file name")
    return path


def frame_record(
    index: int, source: str, image_hw: tuple[int, int], detections: Detections, names: list[str]
) -> dict[str, Any]:
    return {
        "frame": index,
        "source": source,
        "width": int(image_hw[1]),
        "height": int(image_hw[0]),
        "detections": detections.to_records(names),
    }


class DetectionsWriter:
    """One JSONL object per frame, or one CSV row per detection, flushed frame by frame
    so that a run that fails midway leaves a valid file up to the last finished frame."""

    def __init__(self, path: Path) -> None:
        self.path = check_output_path(path, "detections file")
        self.format = "csv" if self.path.suffix.lower() == ".csv" else "jsonl"
        try:
            self._file: IO[str] = self.path.open("w", encoding="utf-8", newline="")
        except OSError as exc:
            raise InputError(f"cannot write {self.path}: {exc.strerror or exc}") from None
        self._csv = csv.writer(self._file) if self.format == "csv" else None
        if self._csv is not None:
            self._csv.writerow(CSV_FIELDS)
            self._file.flush()

    def write(self, record: dict[str, Any]) -> None:
        if self._csv is None:
            text = json.dumps(record, separators=(",", ":")) + "\n"
        else:
            head = [record["frame"], record["source"], record["width"], record["height"]]
            rows = [head + d["box"] + [d["score"], d["class_id"], d["label"]] for d in record["detections"]]
            buf = _LineBuffer()
            csv.writer(buf).writerows(rows)
            text = buf.text
        try:
            self._file.write(text)  # one write per frame: no half-written frame on failure
            self._file.flush()
        except OSError as exc:
            raise RunError(f"cannot write {self.path}: {exc.strerror or exc}") from None

    def close(self) -> None:
        self._file.close()


class _LineBuffer:
    def __init__(self) -> None:
        self.text = ""

    def write(self, s: str) -> None:
        self.text += s


class AnnotatedOutput:
    """Annotated frames to a video file, or to an image file for single-image sources."""

    def __init__(self, path: Path, fps: float | None) -> None:
        self.path = check_output_path(path, "output")
        suffix = self.path.suffix.lower()
        self.is_image = suffix in IMAGE_EXTENSIONS
        if not self.is_image and suffix not in VIDEO_FOURCC:
            known = ", ".join(sorted(VIDEO_FOURCC)) + " or an image type"
            raise InputError(f"output {self.path}: unknown file type {suffix or '(none)'}; use {known}")
        self.fps = fps if fps and fps > 0 else 30.0
        self._writer: cv2.VideoWriter | None = None
        self.frames = 0

    def write(self, image: np.ndarray) -> None:
        if self.is_image:
            if self.frames:
                raise RunError(f"output {self.path} is an image but the source has more than one frame; "
                               "use a video file")
            if not cv2.imwrite(str(self.path), image):
                raise RunError(f"cannot write image {self.path}")
            self.frames += 1
            return
        if self._writer is None:
            h, w = image.shape[:2]
            fourcc = cv2.VideoWriter.fourcc(*VIDEO_FOURCC[self.path.suffix.lower()])
            self._writer = cv2.VideoWriter(str(self.path), fourcc, self.fps, (w, h))
            if not self._writer.isOpened():
                raise RunError(f"cannot write video {self.path}")
            self._size = (w, h)
        if (image.shape[1], image.shape[0]) != self._size:
            # Folders of images differ in size; a video cannot, so fit each frame in.
            image = cv2.resize(image, self._size, interpolation=cv2.INTER_AREA)
        self._writer.write(image)
        self.frames += 1

    def close(self) -> None:
        if self._writer is not None:
            self._writer.release()
