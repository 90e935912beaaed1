"""What a path is to the viewer: a model, a source, or neither; and the file dialogs' filters."""

from __future__ import annotations

import re
from pathlib import Path

from trt_viewer.backends import MODEL_SUFFIXES
from trt_viewer.core.sources import IMAGE_EXTENSIONS, URL_PATTERN
from trt_viewer.run.session import display_name as display_name  # the window's titles and menus use it

# OpenCV opens more than these, but a dropped file is only taken as a video when its
# type says so: a dropped notes.txt gets a clear message, not a decoder error.
VIDEO_EXTENSIONS = frozenset({
    ".mp4", ".m4v", ".mov", ".avi", ".mkv", ".webm", ".wmv", ".flv", ".mpg", ".mpeg",
    ".ts", ".m2ts", ".mts", ".3gp", ".ogv", ".gif", ".h264", ".h265", ".hevc", ".mjpeg",
})

MODEL_FILTER = "Models ({})".format(" ".join(f"*{s}" for s in MODEL_SUFFIXES))
MEDIA_FILTER = "Videos and images ({})".format(
    " ".join(f"*{s}" for s in sorted(VIDEO_EXTENSIONS | IMAGE_EXTENSIONS))
)
ANY_FILTER = "Models, videos and images ({})".format(
    " ".join(f"*{s}" for s in sorted(set(MODEL_SUFFIXES) | VIDEO_EXTENSIONS | IMAGE_EXTENSIONS))
)
CAMERA_SPEC = re.compile(r"^\d+$")


def is_model(path: str | Path) -> bool:
    return Path(path).suffix.lower() in MODEL_SUFFIXES


def is_media(path: str | Path) -> bool:
    p = Path(path)
    return p.is_dir() or p.suffix.lower() in VIDEO_EXTENSIONS | IMAGE_EXTENSIONS


def classify(path: str | Path) -> str:
    """'model', 'source' or 'unknown' for a local path (dropped or picked)."""
    if is_model(path):
        return "model"
    if is_media(path):
        return "source"
    return "unknown"


def is_camera(spec: str) -> bool:
    return bool(CAMERA_SPEC.match(spec.strip()))


def is_stream(spec: str) -> bool:
    return bool(URL_PATTERN.match(spec.strip()))


def spec_exists(spec: str) -> bool:
    """Whether a remembered source may still be offered: files and folders must exist."""
    if is_camera(spec) or is_stream(spec):
        return True
    return Path(spec).expanduser().exists()


def stem_for_output(spec: str) -> str:
    """A file-name-safe stem for snapshots and recordings of this source."""
    if is_camera(spec):
        return f"camera{spec.strip()}"
    base = Path(spec.rstrip("/\\")).stem if not is_stream(spec) else "stream"
    return re.sub(r"[^\w.-]+", "_", base)[:60] or "trt-viewer"
