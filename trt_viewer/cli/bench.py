"""`trt-viewer bench --model M --source S`: the model alone, the sequential loop and the
trt_viewer pipeline, measured in one run (see trt_viewer/bench).

Importing this module is cheap (argparse only); the measuring code loads when it runs.
"""

from __future__ import annotations

import argparse
import json
import sys
from typing import Any

from trt_viewer.cli.args import not_negative, positive

DESCRIPTION = (
    "Measure, in interleaved rounds of one run, decoding alone (every frame read, nothing "
    "else), the model alone (inference on inputs letterboxed beforehand), the classic "
    "sequential loop (read, letterbox, infer, decode, NMS, draw, one after another) and the "
    "trt_viewer pipeline (reader thread, frames in flight, drawing in the background). "
    "Reports FPS, per-stage p50/p95 times (GPU times from CUDA events on TensorRT) and the "
    "ratios, among them pipeline / min(decode, model): the real ceiling."
)


def add_parser(sub: Any) -> argparse.ArgumentParser:
    """Register `bench` on the subparsers of the `trt-viewer` parser."""
    from trt_viewer.cli import add_backend_options, add_detection_options  # complete by now

    p: argparse.ArgumentParser = sub.add_parser(
        "bench", help="measure decoding, the model alone, the sequential loop and the pipeline",
        description=DESCRIPTION
    )
    p.add_argument("--model", required=True, help="model file (.onnx, .engine, .plan, .trt)")
    p.add_argument("--source", required=True, help="video file, image or folder of images")
    p.add_argument("--frames", type=positive, default=300, help="frames measured per mode and round (default 300)")
    p.add_argument("--rounds", type=positive, default=3, help="interleaved rounds (default 3)")
    p.add_argument("--warmup", type=not_negative, default=10, help="frames run before the clock starts (default 10)")
    p.add_argument("--modes", default="decode,model,sequential,pipeline",
                   help="which to measure, comma-separated (default decode,model,sequential,pipeline)")
    p.add_argument("--in-memory", action="store_true",
                   help="decode a few frames first and serve them from memory (measures trt_viewer, not the "
                   "decoder; by default the source is decoded as it plays, as users run it)")
    p.add_argument("--frame-size", type=positive, nargs=2, metavar=("W", "H"),
                   help="resize the frames to W x H first, e.g. 1920 1080 (implies --in-memory)")
    add_backend_options(p)
    p.add_argument("--copy-threads", type=not_negative, metavar="N",
                   help="TensorRT GPU letterbox: copy raw frames over N Python threads (default 0: OpenCV's copy)")
    p.add_argument("--no-write-combined", action="store_true",
                   help="TensorRT GPU letterbox: ordinary page-locked memory for raw frames")
    p.add_argument("--no-qimage", action="store_true", help="leave out the QImage conversion stage")
    p.add_argument("--no-draw", action="store_true", help="leave out drawing (and the QImage conversion)")
    p.add_argument("--json", action="store_true", help="print the report as one JSON object on stdout")
    add_detection_options(p)
    p.set_defaults(func=bench_command)
    return p


def bench_command(args: argparse.Namespace) -> int:
    from trt_viewer.bench.report import format_text
    from trt_viewer.bench.run import BenchOptions, run_bench
    from trt_viewer.core.yolox import PostprocessConfig

    opts = BenchOptions(
        model=args.model,
        source=args.source,
        frames=args.frames,
        rounds=args.rounds,
        warmup=args.warmup,
        in_memory=args.in_memory,
        decode=args.decode,
        frame_size=tuple(args.frame_size) if args.frame_size else None,
        gpu_preprocess=args.gpu_preprocess,
        ort_workers=args.ort_lanes,
        copy_threads=args.copy_threads,
        write_combined=False if args.no_write_combined else None,
        modes=tuple(m.strip() for m in args.modes.split(",") if m.strip()),
        qimage=not args.no_qimage,
        draw=not args.no_draw,
        input_size=tuple(args.input_size) if args.input_size else None,
        preset=args.preprocess,
        layout=args.layout,
        names_file=args.names,
        config=PostprocessConfig(conf=args.conf, nms=args.nms, agnostic=args.agnostic, max_det=args.max_det),
    )
    report = run_bench(opts, progress=lambda line: print(line, file=sys.stderr, flush=True))
    if args.json:
        print(json.dumps(report), flush=True)
    else:
        print(format_text(report), flush=True)
    return 0
