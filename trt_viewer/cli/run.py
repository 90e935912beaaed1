"""`trt-viewer run`: headless review of a source, every frame processed.

A Player that never pauses, loops or paces (the viewer's loop, headless) feeds a Recorder
(annotated video, detections) and the progress bar; the summary comes at the end.
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, TextIO

from trt_viewer.backends import open_backend
from trt_viewer.cli.conflicts import refuse_overwriting, same_file
from trt_viewer.cli.progress import Progress
from trt_viewer.cli.signals import Interrupted, stop_on_signals
from trt_viewer.core.outputs import check_output_path
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.errors import InputError, RunError
from trt_viewer.run.detector import Detector
from trt_viewer.run.flight import Result
from trt_viewer.run.player import Listener, Player, PlayOptions
from trt_viewer.run.recording import Recorder
from trt_viewer.run.session import SourceInfo
from trt_viewer.run.tracking import TrackingOptions

WHOLE_RUN = 1 << 20  # frames: the summary's stage figures cover the whole run
STDOUT = "-"  # --detections -: JSONL on standard output


def _model_and_source(args: argparse.Namespace) -> tuple[str, str]:
    if args.demo:
        from trt_viewer import demo

        source = args.source
        if not source:
            # The first start renders the clip (tens of seconds on a small machine): show it.
            frames = demo.VIDEO_SECONDS * demo.VIDEO_FPS
            progress = Progress(None if args.quiet else frames, label="rendering the demo clip (first run only)")
            try:
                source = str(demo.ensure_demo_video(lambda done, total: progress.update(done)))
            finally:
                progress.finish()
        return args.model or str(demo.demo_model_path()), source
    missing = [flag for flag, value in (("--model", args.model), ("--source", args.source)) if not value]
    if missing:
        raise InputError(f"run needs {' and '.join(missing)} (or --demo)")
    return args.model, args.source


def detector_opener(model: str, args: argparse.Namespace) -> Callable[[], AbstractContextManager[Detector]]:
    """Opens the model and wraps it in a Detector set up from the command line; the
    backend is closed when the context ends."""
    names_file = Path(args.names).expanduser() if args.names else None
    if names_file is not None and not names_file.is_file():
        raise InputError(f"class names file {names_file} does not exist")
    config = PostprocessConfig(conf=args.conf, nms=args.nms, agnostic=args.agnostic, max_det=args.max_det)
    input_size = (args.input_size[0], args.input_size[1]) if args.input_size else None

    @contextmanager
    def opened() -> Iterator[Detector]:
        with open_backend(model, input_size=input_size, ort_workers=args.ort_lanes) as backend:
            yield Detector(backend, preset=args.preprocess, layout=args.layout, config=config,
                           names_file=names_file, gpu_preprocess=args.gpu_preprocess)

    return opened


class _Review(Listener):
    """Opens the outputs once the source is known (a video takes its frame rate), then
    hands each result to the recorder and counts it on the progress bar."""

    def __init__(self, args: argparse.Namespace) -> None:
        self.args = args
        self.player: Player | None = None
        self.recorder: Recorder | None = None
        self.progress = Progress(None)

    def source_opened(self, info: SourceInfo) -> None:
        assert self.player is not None and self.player.detector is not None
        args = self.args
        detections: Path | TextIO | None = None
        if args.detections:
            detections = sys.stdout if args.detections == STDOUT else Path(args.detections)
        self.recorder = Recorder(
            self.player.detector.names, video=Path(args.output) if args.output else None,
            detections=detections, fps=info.fps, draw_in_place=True, stats=self.player.stage_stats,
            tracks=Path(args.mot) if args.mot else None,
        )
        total = info.length if not info.live else None
        if total and args.max_frames:
            total = min(total, args.max_frames)
        self.progress = Progress(None if args.quiet else total)

    def result(self, result: Result) -> None:
        assert self.recorder is not None and self.player is not None
        self.recorder.write(result)
        self.progress.update(self.player.frames)


def check_outputs(model: str, source: str, args: argparse.Namespace) -> None:
    """Everything about the outputs that can be known before the model loads: a typo, a
    folder that is missing or read-only, or an output that would overwrite an input."""
    if args.detections == STDOUT and args.json_summary:
        raise InputError("--detections - and --json-summary both write to standard output; choose one")
    outputs = [(what, path) for what, path in (("output", args.output), ("detections file", args.detections),
                                               ("tracks file", args.mot))
               if path and path != STDOUT]
    for what, path in outputs:
        check_output_path(Path(path), what)
    refuse_overwriting(model, source, args.names, outputs)
    if args.zone and any(same_file(Path(args.zone), Path(path)) for _, path in outputs):
        raise InputError(f"an output is the zones file {args.zone}; choose another file name")


def tracking_options(args: argparse.Namespace) -> TrackingOptions | None:
    """What --track, --line, --zone and --mot ask for (lines and zones parsed now, before
    the model loads); None: no tracking."""
    counting = bool(args.line or args.zone)
    name = args.track or ("bytetrack" if counting or args.mot else "none")
    if name == "none":
        if counting or args.mot:
            raise InputError("--line, --zone and --mot need tracking: leave out --track none")
        return None
    options = TrackingOptions(tracker=name, across_classes=args.track_across_classes, lines=tuple(args.line),
                              zones_file=Path(args.zone).expanduser() if args.zone else None)
    options.check()
    return options


def run_command(args: argparse.Namespace) -> int:
    # Several --source: a stream each, side by side (cli/streams.py); one goes on below.
    from trt_viewer.cli import streams

    if args.source and len(args.source) > 1:
        return streams.run_streams(args)
    streams.single_stream(args)
    model, source_spec = _model_and_source(args)
    check_outputs(model, source_spec, args)
    tracking = tracking_options(args)
    opener = detector_opener(model, args)
    review = _Review(args)
    player = review.player = Player(review, PlayOptions(
        interactive=False, max_frames=args.max_frames, stats_window=WHOLE_RUN, tracking=tracking,
        decode=args.decode,
        # Only the annotated video looks at the pixels after the model: its writer draws on
        # the decoder's memory and gives it back (Recorder), no copy.
        pixels="lend" if args.output else "drop",
    ))
    failure: BaseException | None = None
    started = time.perf_counter()
    with stop_on_signals(player.stop) as received:
        try:
            player.run(opener, source_spec)
        except (KeyboardInterrupt, Exception) as exc:
            failure = exc
        finally:
            recorder = review.recorder
            if recorder is not None:
                # What was produced is written before anything is reported; a run that
                # failed before writing a frame leaves any file it would replace alone.
                try:
                    recorder.close(keep=failure is None or recorder.written > 0)
                except Exception as exc:
                    failure = failure or exc
            review.progress.finish()
    if received.signum is not None and failure is None:
        failure = Interrupted(received.signum)  # stopped by a signal: summary, then its exit code
    elapsed = time.perf_counter() - started
    if review.recorder is None or (isinstance(failure, InputError) and player.frames == 0):
        # The model or the source did not open, or bad input showed at the first frame (a
        # line outside it): nothing ran, so there is nothing to sum up.
        assert failure is not None
        raise failure
    written = review.recorder.written
    print_summary(make_summary(model, source_spec, player, elapsed, written), args.json_summary)
    info = player.source_info
    if player.shortfall and info is not None and info.length:
        print(
            f"trt-viewer: warning: {source_spec}: the header claims {info.length} frames but "
            f"only {info.length - player.shortfall} decoded; stopped at the last good frame",
            file=sys.stderr,
        )
    if failure is None and info is not None and info.live and player.end in ("ended", "lost"):
        # A live source has no end of its own: say how it stopped rather than finish quietly.
        if player.end == "lost":
            failure = RunError(f"{source_spec}: the stream was lost (no frame came, or it broke off) "
                               f"after {player.frames} frames")
        else:
            print(f"trt-viewer: {source_spec}: the stream ended after {player.frames} frames", file=sys.stderr)
    if failure is not None:
        if written and not isinstance(failure, KeyboardInterrupt):
            print(f"trt-viewer: {written} frames were written before the failure", file=sys.stderr)
            if isinstance(failure, InputError):  # bad input met midway is a run failure
                raise RunError(str(failure)) from None
        raise failure
    return 0


def make_summary(model: str, source: str, player: Player, elapsed: float, written: int) -> dict[str, Any]:
    detector = player.detector
    assert detector is not None
    return {
        "model": model,
        "source": source,
        "backend": detector.backend.name,
        "layout": detector.layout,
        "input_size": list(detector.input_hw),
        "frames": written,
        "seconds": round(elapsed, 3),
        "fps": round(written / elapsed, 2) if elapsed > 0 else 0.0,
        "dropped": player.dropped,
        "skipped": len(player.skipped),
        "end": player.end,
        "stages": player.stage_stats.summary(),
        "counts": player.tracking.counts(detector.names) if player.tracking is not None else {},
    }


def print_summary(summary: dict[str, Any], as_json: bool) -> None:
    stages = " | ".join(
        f"{name} {v['p50_ms']:.2f}/{v['p95_ms']:.2f}" for name, v in summary["stages"].items()
    )
    dropped = f", {summary['dropped']} dropped" if summary["dropped"] else ""
    if summary["skipped"]:
        dropped += f", {summary['skipped']} unreadable image{'s' if summary['skipped'] > 1 else ''} skipped"
    print(
        f"{summary['frames']} frames in {summary['seconds']:.2f} s, {summary['fps']:.1f} FPS"
        f"{dropped} ({summary['backend']}, {summary['layout']})\n"
        f"stage p50/p95 ms: {stages}",
        file=sys.stderr,
    )
    for name, line in summary["counts"].get("lines", {}).items():
        per_class = ", ".join(f"{label} {line['in'].get(label, 0)}/{line['out'].get(label, 0)}"
                              for label in sorted({*line["in"], *line["out"]}))
        print(f"line {name}: {line['in_total']} in, {line['out_total']} out"
              + (f" ({per_class} in/out)" if per_class else ""), file=sys.stderr)
    for name, zone in summary["counts"].get("zones", {}).items():
        entered = ", ".join(f"{label} {n}" for label, n in zone["entered"].items()) or "nobody"
        print(f"zone {name}: entered by {entered}", file=sys.stderr)
    if as_json:
        print(json.dumps(summary), flush=True)
