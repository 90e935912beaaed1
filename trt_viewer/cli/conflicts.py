"""Outputs that would destroy inputs are refused before anything is opened for writing.

`-o clip.mp4` on `--source clip.mp4`, `--detections model.onnx`, `-o same.mkv
--detections same.mkv`: each would overwrite what the run reads or writes. Paths are
compared by the file they name (os.path.samefile: links and hard links too), falling back
to resolved paths for files that do not exist yet.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

from trt_viewer.core.sources import IMAGE_EXTENSIONS, URL_PATTERN
from trt_viewer.errors import InputError


def same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return a.resolve() == b.resolve()
    except OSError:
        return False


def refuse_overwriting(model: str, source: str, names: str | None, outputs: list[tuple[str, str]]) -> None:
    """outputs: (what, path) pairs, e.g. ("output", "clip.mp4"). InputError, one line,
    where an output is the model, the names file, the source (or an image of a source
    folder), or another output."""
    inputs = [("model", Path(model).expanduser())]
    if names:
        inputs.append(("class names file", Path(names).expanduser()))
    folder: Path | None = None
    if not URL_PATTERN.match(source.strip()):
        src = Path(source).expanduser()
        if src.is_dir():
            folder = src.resolve()
        elif src.exists():
            inputs.append(("source", src))
    paths = [(what, Path(text).expanduser()) for what, text in outputs]
    for what, path in paths:
        for kind, given in inputs:
            if same_file(path, given):
                raise InputError(f"{what} {path} is the {kind}: it would be overwritten; choose another file name")
        if folder is not None and path.suffix.lower() in IMAGE_EXTENSIONS and path.resolve().parent == folder:
            raise InputError(f"{what} {path} is an image inside the source folder {source}; write it elsewhere")
    for (what_a, a), (what_b, b) in itertools.combinations(paths, 2):
        if same_file(a, b):
            raise InputError(f"{what_a} and {what_b} are the same file {a}; give each its own")
