"""Engine files: a TensorRT plan, optionally after a metadata prefix.

Ultralytics writes its engines as a 4-byte little-endian length, that many bytes of JSON
(class names, imgsz, ...), then the plan. trt_viewer reads both kinds and writes the
prefix only when asked (`trt-viewer build --embed-metadata`), since other TensorRT tools
cannot load a prefixed file. Its keys: the ONNX model's metadata, `imgsz`, `batch`,
`trt_viewer`, `precision`, `names` where known, and `num_classes` where known (an
end-to-end engine's outputs do not show it: names.resolve_names reads it back).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trt_viewer.core.names import parse_names
from trt_viewer.errors import InputError


@dataclass
class EngineFile:
    plan: bytes
    metadata: dict[str, str] = field(default_factory=dict)  # flattened for Backend.metadata
    input_hw: tuple[int, int] | None = None  # the size stated in the metadata (imgsz)
    prefixed: bool = False


def _split_prefix(data: bytes) -> tuple[dict[str, Any], bytes] | None:
    if len(data) < 6:
        return None
    n = int.from_bytes(data[:4], "little")
    if not 2 <= n <= len(data) - 4 or data[4:5] != b"{":
        return None
    try:
        meta = json.loads(data[4 : 4 + n].decode("utf-8"))
    except (UnicodeDecodeError, ValueError):
        return None
    return (meta, data[4 + n :]) if isinstance(meta, dict) else None


def _input_hw(value: Any) -> tuple[int, int] | None:
    if isinstance(value, int) and value > 0:
        return value, value
    if isinstance(value, (list, tuple)) and len(value) == 2 and all(isinstance(v, int) and v > 0 for v in value):
        return int(value[0]), int(value[1])
    return None


def flatten_metadata(meta: dict[str, Any]) -> dict[str, str]:
    """Strings for Backend.metadata; class names become a JSON list under 'names'."""
    flat: dict[str, str] = {}
    for key, value in meta.items():
        flat[str(key)] = value if isinstance(value, str) else json.dumps(value)
    raw = meta.get("names")
    if raw is not None:
        names = parse_names(raw if isinstance(raw, str) else json.dumps(raw))
        if names:
            flat["names"] = json.dumps(names)
        else:
            flat.pop("names")
    return flat


def read_engine_file(path: Path) -> EngineFile:
    try:
        data = path.read_bytes()
    except OSError as exc:
        raise InputError(f"cannot read engine {path}: {exc.strerror or exc}") from None
    if not data:
        raise InputError(f"engine {path.name} is empty")
    split = _split_prefix(data)
    if split is None:
        return EngineFile(data)
    meta, plan = split
    return EngineFile(plan, flatten_metadata(meta), _input_hw(meta.get("imgsz")), prefixed=True)


def with_prefix(plan: bytes, meta: dict[str, Any]) -> bytes:
    header = json.dumps(meta).encode("utf-8")
    return len(header).to_bytes(4, "little") + header + plan
