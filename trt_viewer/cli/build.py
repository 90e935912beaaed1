"""`trt-viewer build MODEL.onnx -o MODEL.engine`: build a TensorRT engine.

Importing this module is cheap (argparse only): TensorRT loads when the command runs.
"""

from __future__ import annotations

import argparse
import logging
import sys
from pathlib import Path
from typing import Any

from trt_viewer.cli.args import not_negative, positive, positive_number, size

DESCRIPTION = (
    "Build a TensorRT engine from a YOLOX ONNX model. FP16 uses the builder flag where the "
    "installed TensorRT has one, else (TensorRT 11) converts the model to FP16 first; INT8 "
    "calibrates on sample images (TensorRT 10 and older) or takes a model quantized with Q/DQ "
    "nodes. The class names are written next to the engine (MODEL.names)."
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `build` on the subparsers of the `trt-viewer` parser."""

    p: argparse.ArgumentParser = sub.add_parser(
        "build", help="build a TensorRT engine from an ONNX model", description=DESCRIPTION
    )
    p.add_argument("model", help="ONNX model (.onnx)")
    p.add_argument("-o", "--output", required=True, help="engine file to write (.engine, .plan or .trt)")
    p.add_argument("--fp16", action="store_true", help="build in FP16 (inputs and outputs stay float32)")
    p.add_argument("--int8", action="store_true", help="build in INT8 (needs --calib-images, or a Q/DQ model)")
    p.add_argument("--calib-images", metavar="DIR", help="folder of sample images for INT8 calibration")
    p.add_argument("--workspace", type=positive_number, metavar="GiB",
                   help="most GPU memory TensorRT may use while building")
    p.add_argument(
        "--input-size", type=size, nargs=2, metavar=("H", "W"),
        help="input size for models with a dynamic input (default 640 640)",
    )
    p.add_argument("--min-batch", type=positive, help="smallest batch of a dynamic-batch model (default 1)")
    p.add_argument("--opt-batch", type=positive, help="batch TensorRT tunes for (default 1)")
    p.add_argument("--max-batch", type=positive, help="largest batch of a dynamic-batch model (default 1)")
    p.add_argument("--timing-cache", metavar="FILE", help="reuse and update TensorRT's timing cache in FILE")
    p.add_argument("--names", metavar="FILE", help="class names, one per line (default: from the model)")
    p.add_argument(
        "--preprocess", choices=("auto", "current", "legacy"), default="auto",
        help="letterbox for calibration images (default: as the model's metadata says)",
    )
    p.add_argument(
        "--embed-metadata", action="store_true",
        help="prefix the engine with its names and input size (Ultralytics style; other TensorRT "
        "tools cannot load such a file)",
    )
    p.add_argument("--device", type=not_negative, default=0, help="CUDA device for INT8 calibration (default 0)")
    p.add_argument("--verbose", "-v", action="store_true", help="show TensorRT's informational messages")
    p.set_defaults(func=build_command)
    return p


def _batch(args: argparse.Namespace) -> tuple[int, int, int] | None:
    given = (args.min_batch, args.opt_batch, args.max_batch)
    if given == (None, None, None):
        return None
    lo = args.min_batch or 1
    hi = args.max_batch or max(lo, args.opt_batch or lo)
    return lo, args.opt_batch or lo, hi


class _NoteHandler(logging.Handler):
    """TensorRT's messages, printed through the progress display so lines do not collide."""

    def __init__(self, progress: Any, level: int) -> None:
        super().__init__(level)
        self.progress = progress

    def emit(self, record: logging.LogRecord) -> None:
        self.progress.note(f"TensorRT {record.levelname.lower()}: {record.getMessage()}")


def build_command(args: argparse.Namespace) -> int:
    from trt_viewer.backends.trt.builder import BuildOptions, build_engine
    from trt_viewer.backends.trt.log import LOGGER
    from trt_viewer.backends.trt.progress import BuildProgress

    opts = BuildOptions(
        onnx=Path(args.model).expanduser(),
        output=Path(args.output).expanduser(),
        fp16=args.fp16,
        int8=args.int8,
        calib_images=Path(args.calib_images).expanduser() if args.calib_images else None,
        workspace_gib=args.workspace,
        input_size=tuple(args.input_size) if args.input_size else None,
        batch=_batch(args),
        timing_cache=Path(args.timing_cache).expanduser() if args.timing_cache else None,
        names_file=Path(args.names).expanduser() if args.names else None,
        preprocess=args.preprocess,
        embed_metadata=args.embed_metadata,
        device=args.device,
    )
    progress = BuildProgress(sys.stderr)
    handler = _NoteHandler(progress, logging.INFO if args.verbose else logging.WARNING)
    LOGGER.addHandler(handler)
    saved = LOGGER.level, LOGGER.propagate
    LOGGER.setLevel(handler.level)
    LOGGER.propagate = False
    try:
        result = build_engine(opts, progress)
    finally:
        LOGGER.removeHandler(handler)
        LOGGER.setLevel(saved[0])
        LOGGER.propagate = saved[1]
    from trt_viewer.cli.inspect import megabytes

    pmin, popt, pmax = result.profile
    batch = f", batch {pmin[0]}-{pmax[0]}" if pmax[0] > 1 else ""
    print(
        f"wrote {result.output} ({megabytes(result.size_bytes)}, {result.precision}, "
        f"{popt[2]}x{popt[3]}{batch}, TensorRT {result.tensorrt}) in {result.seconds:.1f} s",
        file=sys.stderr,
    )
    if result.names_file is not None:
        print(f"class names ({result.names_source}) in {result.names_file}", file=sys.stderr)
    for note in result.notes:
        print(f"note: {note}", file=sys.stderr)
    return 0
