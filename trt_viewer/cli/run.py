"""`trt-viewer run`: headless review of a source, every frame processed."""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path
from typing import Any

from trt_viewer.backends import open_backend
from trt_viewer.cli.progress import Progress
from trt_viewer.core.detector import Detector
from trt_viewer.core.drawing import draw_detections
from trt_viewer.core.outputs import AnnotatedOutput, DetectionsWriter, check_output_path, frame_record
from trt_viewer.core.pipeline import BackgroundSink, Pipeline, Result
from trt_viewer.core.sources import open_source
from trt_viewer.core.stats import StageStats
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.errors import InputError, RunError, TrtViewerError


def _model_and_source(args: argparse.Namespace) -> tuple[str, str]:
    if args.demo:
        from trt_viewer import demo

        return args.model or str(demo.demo_model_path()), args.source or str(demo.ensure_demo_video())
    missing = [flag for flag, value in (("--model", args.model), ("--source", args.source)) if not value]
    if missing:
        raise InputError(f"run needs {' and '.join(missing)} (or --demo)")
    return args.model, args.source


def detector_from_args(backend: Any, args: argparse.Namespace) -> Detector:
    names_file = Path(args.names).expanduser() if args.names else None
    if names_file is not None and not names_file.is_file():
        raise InputError(f"class names file {names_file} does not exist")
    config = PostprocessConfig(conf=args.conf, nms=args.nms, agnostic=args.agnostic, max_det=args.max_det)
    return Detector(
        backend, preset=args.preprocess, layout=args.layout, config=config, names_file=names_file,
        gpu_preprocess=getattr(args, "gpu_preprocess", None),
    )


class Recorder:
    """Draws and writes each result, in the sink thread, timing both."""

    def __init__(self, detector: Detector, stats: StageStats, video: AnnotatedOutput | None,
                 writer: DetectionsWriter | None) -> None:
        self.detector = detector
        self.stats = stats
        self.video = video
        self.writer = writer
        self.written = 0

    def __call__(self, result: Result) -> None:
        frame = result.frame
        if self.video is not None:
            t0 = time.perf_counter()
            image = draw_detections(frame.image, result.detections, self.detector.names)
            t1 = time.perf_counter()
            self.video.write(image)
            self.stats.add("draw", t1 - t0)
            self.stats.add("write", time.perf_counter() - t1)
        if self.writer is not None:
            record = frame_record(
                frame.index, frame.name, frame.image.shape[:2], result.detections, self.detector.names
            )
            self.writer.write(record)
        self.written += 1

    def close(self) -> None:
        for out in (self.video, self.writer):
            if out is not None:
                out.close()


def run_command(args: argparse.Namespace) -> int:
    model, source_spec = _model_and_source(args)
    # Output folders are checked before the model loads: a typo costs nothing.
    for path, what in ((args.output, "output"), (args.detections, "detections file")):
        if path:
            check_output_path(Path(path), what)
    stats = StageStats()
    input_size = tuple(args.input_size) if args.input_size else None
    with open_backend(model, input_size=input_size) as backend:  # type: ignore[arg-type]
        detector = detector_from_args(backend, args)
        source = open_source(source_spec)
        video = AnnotatedOutput(Path(args.output), source.fps) if args.output else None
        writer = DetectionsWriter(Path(args.detections)) if args.detections else None
        recorder = Recorder(detector, stats, video, writer)
        sink: BackgroundSink[Result] = BackgroundSink(recorder)
        pipeline = Pipeline(source, detector)
        total = source.length if not source.live else None
        if total and args.max_frames:
            total = min(total, args.max_frames)
        progress = Progress(None if args.quiet else total)
        failure: BaseException | None = None
        started = time.perf_counter()
        try:
            for result in pipeline:
                stats.add_all(result.timings)
                sink.put(result)
                progress.update(pipeline.frames)
                if args.max_frames and pipeline.frames >= args.max_frames:
                    break
        except (TrtViewerError, KeyboardInterrupt, Exception) as exc:
            failure = exc
        finally:
            pipeline.stop()
            try:
                sink.close()  # what was produced is written before anything is reported
            except BaseException as exc:
                failure = failure or exc
            recorder.close()
            progress.finish()
        elapsed = time.perf_counter() - started
        summary = make_summary(model, source_spec, backend, detector, pipeline, stats, elapsed, recorder)
        print_summary(summary, args.json_summary)
        if source.shortfall:
            print(
                f"trt-viewer: warning: {source_spec}: the header claims {source.length} frames but "
                f"only {source.length - source.shortfall} decoded; stopped at the last good frame",
                file=sys.stderr,
            )
        if failure is not None:
            if recorder.written:
                print(f"trt-viewer: {recorder.written} frames were written before the failure", file=sys.stderr)
                if isinstance(failure, InputError):  # bad input met midway is a run failure
                    raise RunError(str(failure)) from None
            raise failure
    return 0


def make_summary(model: str, source: str, backend: Any, detector: Detector, pipeline: Pipeline,
                 stats: StageStats, elapsed: float, recorder: Recorder) -> dict[str, Any]:
    return {
        "model": model,
        "source": source,
        "backend": backend.name,
        "layout": detector.layout,
        "input_size": list(detector.input_hw),
        "frames": recorder.written,
        "seconds": round(elapsed, 3),
        "fps": round(recorder.written / elapsed, 2) if elapsed > 0 else 0.0,
        "dropped": pipeline.dropped,
        "stages": stats.summary(),
    }


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    stages = " | ".join(
        f"{name} {v['p50_ms']:.2f}/{v['p95_ms']:.2f}" for name, v in summary["stages"].items()
    )
    dropped = f", {summary['dropped']} dropped" if summary["dropped"] else ""
    print(
        f"{summary['frames']} frames in {summary['seconds']:.2f} s, {summary['fps']:.1f} FPS"
        f"{dropped} ({summary['backend']}, {summary['layout']})\n"
        f"stage p50/p95 ms: {stages}",
        file=sys.stderr,
    )
    if as_json:
        print(json.dumps(summary), flush=True)
