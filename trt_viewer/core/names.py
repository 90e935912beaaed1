"""Class names, first found wins: a --names file; a sidecar beside the model
(`<model>.names`, `<model>.classes.txt`, then `classes.txt`); names in the model's
metadata (`names`, `classes`, `labels`, `class_names`); COCO's 80 when the model has 80
classes; else `class_N`.

Names files hold one name per line, and a name's line is its class id:
- a blank line (or one of only spaces) keeps its slot: class N there is labelled `class_N`,
  so one missing name never shifts the names after it;
- blank lines at the end of the file are no slots (a final newline, or several, is not a
  class);
- a UTF-8 byte order mark (also one left mid-file by joining files), Windows (CRLF) or
  old Mac (CR) line ends and the spaces around a name are dropped.

How many classes the model has comes from its outputs ([1, N, 5+C]); where they do not say
(end-to-end models ending in NMS), from what the backend read in the graph
(`Backend.class_count_hint`) or from a `num_classes` / `nc` metadata key. A names file or
metadata list whose length differs from that count gives one warning; a model whose class
count is unknown and whose names are nowhere gives one warning saying how to name them.
"""

from __future__ import annotations

import ast
import json
import logging
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from trt_viewer.errors import InputError

LOGGER = logging.getLogger(__name__)

COCO_CLASSES = (
    "person", "bicycle", "car", "motorcycle", "airplane", "bus", "train", "truck", "boat",
    "traffic light", "fire hydrant", "stop sign", "parking meter", "bench", "bird", "cat",
    "dog", "horse", "sheep", "cow", "elephant", "bear", "zebra", "giraffe", "backpack",
    "umbrella", "handbag", "tie", "suitcase", "frisbee", "skis", "snowboard", "sports ball",
    "kite", "baseball bat", "baseball glove", "skateboard", "surfboard", "tennis racket",
    "bottle", "wine glass", "cup", "fork", "knife", "spoon", "bowl", "banana", "apple",
    "sandwich", "orange", "broccoli", "carrot", "hot dog", "pizza", "donut", "cake", "chair",
    "couch", "potted plant", "bed", "dining table", "toilet", "tv", "laptop", "mouse",
    "remote", "keyboard", "cell phone", "microwave", "oven", "toaster", "sink",
    "refrigerator", "book", "clock", "vase", "scissors", "teddy bear", "hair drier",
    "toothbrush",
)  # fmt: skip

METADATA_KEYS = ("names", "classes", "labels", "class_names")
COUNT_KEYS = ("num_classes", "nc")  # a class count stated in the metadata
SIDECAR_SUFFIXES = (".names", ".classes.txt")  # <model>.names, <model>.classes.txt
FOLDER_SIDECAR = "classes.txt"
NONE_FOUND = "none found"


def parse_names_text(text: str) -> list[str]:
    """One name per line, the line's position its class id (see the module docstring)."""
    lines = text.replace("\r\n", "\n").replace("\r", "\n").split("\n")
    lines = [line.replace("\ufeff", "").strip() for line in lines]
    while lines and not lines[-1]:
        lines.pop()
    return [line or f"class_{i}" for i, line in enumerate(lines)]


def read_names_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read class names from {path}: {exc}") from None
    names = parse_names_text(text)
    if not names:
        raise InputError(f"class names file {path} is empty")
    return names


def parse_names(value: str) -> list[str] | None:
    """Names stored as a JSON list, a Python dict/list literal, or comma separated."""
    value = value.strip()
    if not value:
        return None
    parsed: object
    try:
        parsed = json.loads(value)
    except ValueError:
        try:
            parsed = ast.literal_eval(value)  # Ultralytics writes "{0: 'person', ...}"
        except (ValueError, SyntaxError):
            parsed = [part.strip() for part in value.split(",")]
    if isinstance(parsed, dict):
        try:
            items = sorted((int(k), str(v)) for k, v in parsed.items())
        except (TypeError, ValueError):
            return None
        if [k for k, _ in items] != list(range(len(items))):
            return None
        return [v for _, v in items]
    if isinstance(parsed, (list, tuple)) and all(isinstance(v, str) for v in parsed):
        return [str(v) for v in parsed] or None
    return None


def metadata_class_count(metadata: Mapping[str, str] | None) -> int | None:
    """The class count a `num_classes` or `nc` metadata key states, if any."""
    for key in COUNT_KEYS:
        value = (metadata or {}).get(key)
        try:
            count = int(str(value).strip())
        except ValueError:
            continue
        if count > 0:
            return count
    return None


def sidecar_names(model_path: Path) -> Path | None:
    candidates = [model_path.with_suffix(s) for s in SIDECAR_SUFFIXES]
    for candidate in (*candidates, model_path.parent / FOLDER_SIDECAR):
        if candidate.is_file():
            return candidate
    return None


def _check_count(names: list[str], what: str, num_classes: int | None) -> None:
    if num_classes is None or len(names) == num_classes:
        return
    n = len(names)
    if n < num_classes:
        unnamed = f"class {n}" if n + 1 == num_classes else f"classes {n} to {num_classes - 1}"
        consequence = f"{unnamed} will be labelled class_N"
    else:
        consequence = f"the last {n - num_classes} names are not used"
    LOGGER.warning("%s has %d names but the model has %d classes; %s", what, n, num_classes, consequence)


def _warn_unknown(model_path: Path | None) -> None:
    model = model_path.name if model_path is not None else "the model"
    sidecar = model_path.with_suffix(".names").name if model_path is not None else "<model>.names"
    LOGGER.warning(
        "class names are unknown: trt-viewer cannot tell how many classes %s has, so its labels will "
        "be class_N; give the names with --names FILE or in %s beside the model (one name per line)",
        model, sidecar,
    )


def resolve_names(
    model_path: Path | None,
    metadata: Mapping[str, str] | None,
    num_classes: int | None,
    names_file: Path | None = None,
) -> tuple[list[str], str]:
    """The class names and where they came from, by the precedence in the module docstring.

    num_classes: C from the model's outputs, or the backend's class_count_hint; None where
    neither says (a `num_classes` / `nc` metadata key is read then)."""
    if num_classes is None:
        num_classes = metadata_class_count(metadata)
    file = names_file
    if file is None and model_path is not None:
        file = sidecar_names(model_path)
    if file is not None:
        names = read_names_file(file)
        _check_count(names, f"class names file {file}", num_classes)
        return names, str(file)
    for key in METADATA_KEYS:
        names_or_none = parse_names((metadata or {}).get(key, ""))
        if names_or_none:
            _check_count(names_or_none, f"the model's metadata '{key}'", num_classes)
            return names_or_none, f"model metadata '{key}'"
    if num_classes == 80:
        return list(COCO_CLASSES), "COCO"
    if num_classes is None:
        _warn_unknown(model_path)
    return [f"class_{i}" for i in range(num_classes or 0)], NONE_FOUND


def describe_classes(classes: Mapping[str, Any], shown: int = 10) -> str:
    """An inspect report's classes ({"count", "source", "names"}) as one line: the count,
    where the names came from, and the first few names."""
    first = ", ".join(classes["names"][:shown]) + (", ..." if classes["count"] > shown else "")
    return f"{classes['count']} ({classes['source']})" + (f": {first}" if first else "")
