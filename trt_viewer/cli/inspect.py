"""`trt-viewer inspect FILE`: what a TensorRT engine or ONNX model holds.

Importing this module is cheap: TensorRT (engines) or onnx (ONNX models) load when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trt_viewer.cli.args import size
from trt_viewer.core import names

DESCRIPTION = (
    "Show an engine's or ONNX model's TensorRT version, I/O tensors, optimisation profiles, "
    "device memory, detected YOLOX layout, input size and classes. ONNX models need no TensorRT."
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `inspect` on the subparsers of the `trt-viewer` parser."""

    p: argparse.ArgumentParser = sub.add_parser(
        "inspect", help="show what an engine or ONNX model holds", description=DESCRIPTION
    )
    p.add_argument("file", help="engine (.engine, .plan, .trt), ONNX model (.onnx), or a model on a Triton "
                   "server (grpc://HOST:8001/NAME, http://HOST:8000/NAME)")
    p.add_argument(
        "--input-size", type=size, nargs=2, metavar=("H", "W"),
        help="size to check a dynamic model's outputs at (default: its own, else 640 640)",
    )
    p.add_argument("--json", action="store_true", help="print one JSON object")
    p.set_defaults(func=inspect_command)
    return p


def _shape(dims: list[Any]) -> str:
    return "[" + ", ".join("?" if d == -1 else str(d) for d in dims) + "]"


def megabytes(n: int) -> str:
    return f"{n / 1e6:.1f} MB" if n >= 1e5 else f"{n / 1e3:.1f} kB"


def format_report(r: dict[str, Any]) -> str:
    lines = [f"{r['file']}: {r['kind']}, {megabytes(r['size_bytes'])}"]
    if r["kind"] == "onnx":
        lines.append(f"  opset:          {r['opset'] if r['opset'] is not None else 'unknown'}"
                     + (", quantized (Q/DQ)" if r.get("quantized") else ""))
        lines.append(f"  TensorRT:       {r['tensorrt'] or 'not installed (not needed to inspect ONNX)'}")
    else:
        lines.append(f"  TensorRT:       {r['tensorrt']}")
        lines.append(f"  device memory:  {r['device_memory_bytes'] / (1 << 20):.1f} MiB (activations per context)")
        if r["metadata_prefix"]:
            lines.append("  metadata:       prefixed (Ultralytics style)")
    lines.append("  inputs:")
    for t in r["inputs"]:
        lines.append(f"    {t['name']}  {_shape(t['shape'])}  {t['dtype']}")
        for i, p in enumerate(t.get("profiles", [])):
            lines.append(f"      profile {i}: min {_shape(p['min'])}  opt {_shape(p['opt'])}  max {_shape(p['max'])}")
    lines.append("  outputs:")
    at_size = {t["name"]: t for t in r.get("outputs_at_input_size", [])}
    for t in r["outputs"]:
        resolved = at_size.get(t["name"])
        extra = ""
        if resolved is not None and resolved["shape"] != t["shape"]:
            extra = f"  ({_shape(resolved['shape'])} at the input size)"
        lines.append(f"    {t['name']}  {_shape(t['shape'])}  {t['dtype']}{extra}")
    if r.get("input_size"):
        lines.append(f"  input size:     {r['input_size'][0]}x{r['input_size'][1]}")
    lines.append(f"  layout:         {r['layout']}")
    classes = r.get("classes")
    if classes:
        lines.append(f"  classes:        {names.describe_classes(classes)}")
    meta = {k: v for k, v in r.get("metadata", {}).items() if k != "names"}
    for key, value in sorted(meta.items()):
        lines.append(f"  metadata {key}: {value if len(value) <= 80 else value[:77] + '...'}")
    return "\n".join(lines)


def inspect_command(args: argparse.Namespace) -> int:
    from pathlib import Path

    from trt_viewer.backends import is_model_url
    from trt_viewer.backends.trt.report import inspect_file

    size = tuple(args.input_size) if args.input_size else None
    if is_model_url(args.file):
        from trt_viewer.backends import triton_report

        remote = triton_report.inspect_url(args.file, size)
        print(json.dumps(remote) if args.json else triton_report.format_report(remote), file=sys.stdout)
        return 0
    report = inspect_file(Path(args.file).expanduser(), size)
    print(json.dumps(report) if args.json else format_report(report), file=sys.stdout)
    return 0
