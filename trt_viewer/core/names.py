"""Class names: --names file, sidecar file, model metadata, COCO for 80 classes, else class_N."""

from __future__ import annotations

import ast
import json
from pathlib import Path

from trt_viewer.errors import InputError

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


def read_names_file(path: Path) -> list[str]:
    try:
        text = path.read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise InputError(f"cannot read class names from {path}: {exc}") from None
    names = [line.strip() for line in text.splitlines() if line.strip()]
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


def sidecar_names(model_path: Path) -> Path | None:
    for candidate in (model_path.with_suffix(".names"), model_path.parent / "classes.txt"):
        if candidate.is_file():
            return candidate
    return None


def resolve_names(
    model_path: Path | None,
    metadata: dict[str, str] | None,
    num_classes: int | None,
    names_file: Path | None = None,
) -> tuple[list[str], str]:
    """The class names and where they came from, by the precedence in the module docstring."""
    if names_file is not None:
        return read_names_file(names_file), str(names_file)
    if model_path is not None:
        side = sidecar_names(model_path)
        if side is not None:
            return read_names_file(side), str(side)
    for key in METADATA_KEYS:
        names = parse_names((metadata or {}).get(key, ""))
        if names:
            return names, f"model metadata '{key}'"
    if num_classes == 80:
        return list(COCO_CLASSES), "COCO"
    return [f"class_{i}" for i in range(num_classes or 0)], "none found"
