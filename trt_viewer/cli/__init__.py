"""The `trt-viewer` command: no subcommand opens the GUI; `run` reviews headless."""

from __future__ import annotations

import argparse
import logging
import os
import sys
import traceback
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager

from trt_viewer import __version__
from trt_viewer.cli.args import fraction, positive, size
from trt_viewer.cli.signals import Interrupted, exit_code, raised_signal, raising_on_signals
from trt_viewer.errors import TrtViewerError, first_line
from trt_viewer.run.decoding import DECODE_CHOICES

Command = Callable[[argparse.Namespace], int]


def add_detection_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--conf", type=fraction, default=0.3, help="confidence threshold (default 0.3)")
    p.add_argument("--nms", type=fraction, default=0.45, help="NMS IoU threshold (default 0.45)")
    p.add_argument("--agnostic", action="store_true", help="class-agnostic NMS")
    p.add_argument("--max-det", type=positive, default=300, help="most detections per frame")
    p.add_argument(
        "--preprocess", choices=("auto", "current", "legacy"), default="auto",
        help="letterbox preset: current YOLOX (BGR 0..255) or legacy (<0.1.1: RGB, ImageNet mean/std)",
    )
    p.add_argument(
        "--layout", choices=("auto", "raw", "decoded", "end2end"), default="auto",
        help="model output layout (default: detected)",
    )
    p.add_argument("--names", metavar="FILE", help="class names, one per line")
    p.add_argument(
        "--input-size", type=size, nargs=2, metavar=("H", "W"),
        help="input size for models with a dynamic input (default: the model's own, else 640 640)",
    )


def add_backend_options(p: argparse.ArgumentParser) -> None:
    """How the model runs, for `run` and `bench` alike."""
    p.add_argument(
        "--decode", choices=DECODE_CHOICES, default="auto",
        help="how video files are decoded: cpu (FFmpeg in a decoder process of its own), thread (FFmpeg "
        "in a thread of this one, as before), auto (default: the best this machine has)",
    )
    p.add_argument(
        "--gpu-preprocess", action=argparse.BooleanOptionalAction, default=None,
        help="letterbox on the GPU with a CUDA kernel (TensorRT; default: where nvcc can build "
        "it, else on the CPU)",
    )
    p.add_argument(
        "--ort-lanes", type=positive, metavar="N",
        help="ONNX Runtime: sessions run side by side, each single-threaded (default: 2 on a CPU of "
        "two or more cores; 1 turns frames in flight off; TRT_VIEWER_ORT_LANES overrides the default)",
    )


def add_tracking_options(p: argparse.ArgumentParser) -> None:
    p.add_argument("--track", choices=("bytetrack", "sort", "none"),
                   help="give detections persistent ids (default: none, or bytetrack with --line/--zone)")
    p.add_argument("--track-across-classes", action="store_true",
                   help="one track may change class (default: tracks never change class)")
    p.add_argument("--line", action="append", default=[], metavar="X1,Y1,X2,Y2[,NAME]",
                   help="count tracks crossing this line, in and out per class (repeatable; pixels of the frame)")
    p.add_argument("--zone", metavar="FILE",
                   help='polygon zones to count occupancy and dwell in, as JSON: '
                   '{"zones": [{"name": ..., "points": [[x, y], ...]}]}')
    p.add_argument("--mot", metavar="FILE", help="tracks in MOTChallenge format (frame,id,x,y,w,h,score,-1,-1,-1)")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="trt-viewer",
        description="Real-time YOLOX detection on TensorRT engines and ONNX models. "
        "With no command, opens the viewer window.",
    )
    parser.add_argument("--version", action="version", version=f"trt-viewer {__version__}")
    parser.add_argument("--model", help="model to open in the window (.engine, .plan, .onnx)")
    parser.add_argument("--source", help="video file, image, folder, camera index or stream URL")
    parser.add_argument("--names", metavar="FILE",
                        help="class names for the model the window opens on, one per line (remembered for it)")
    sub = parser.add_subparsers(dest="command", metavar="COMMAND")

    run = sub.add_parser(
        "run", help="headless review: every frame processed",
        description="Run a model over a source without a window, every frame processed.",
    )
    run.add_argument("--model", required=False, help="model file (.onnx, .engine, .plan, .trt)")
    run.add_argument("--source", action="append", help="video file, image, folder of images, camera index or stream "
                     "URL; repeat it to run several streams at once (outputs then need {stream} or {stem} in "
                     "their names)")
    run.add_argument("--demo", action="store_true", help="use the built-in demo model and video")
    run.add_argument("--output", "-o", help="annotated video (.mp4, .avi, .mkv) or image file")
    run.add_argument("--detections", help="detections file: .jsonl (one object per frame) or .csv; - for JSONL "
                     "on standard output")
    add_detection_options(run)
    add_backend_options(run)
    add_tracking_options(run)
    run.add_argument("--max-frames", type=positive, help="stop after this many frames")
    run.add_argument("--json-summary", action="store_true", help="print the summary as one JSON line on stdout")
    run.add_argument("--quiet", "-q", action="store_true", help="no progress bar")
    run.set_defaults(func=_lazy("trt_viewer.cli.run", "run_command"))

    # Imported here: they take helpers from this module, which is complete by now.
    from trt_viewer.cli import bench, build, inspect, triton_repo

    build.add_parser(sub)
    inspect.add_parser(sub)
    bench.add_parser(sub)
    triton_repo.add_parser(sub)
    return parser


def _lazy(module: str, name: str) -> Command:
    """Import a command's module only when it runs, so `--help` stays fast."""

    def call(args: argparse.Namespace) -> int:
        import importlib

        return int(getattr(importlib.import_module(module), name)(args))

    return call


def _open_gui(args: argparse.Namespace) -> int:
    try:
        from trt_viewer.gui.app import run_app
    except ImportError as exc:
        raise TrtViewerError(f"the viewer window cannot start: {exc}") from None
    return int(run_app(model=args.model, source=args.source, names=args.names))


class _WarningLine(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        return f"trt-viewer: {record.levelname.lower()}: {record.getMessage()}"


@contextmanager
def _warnings_on_stderr() -> Iterator[None]:
    """The package's warnings (a skipped image, names that do not fit the model) as lines
    of their own on stderr, like its errors."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setLevel(logging.WARNING)
    handler.setFormatter(_WarningLine())
    logger = logging.getLogger("trt_viewer")
    logger.addHandler(handler)
    try:
        yield
    finally:
        logger.removeHandler(handler)


def main(argv: Sequence[str] | None = None) -> int:
    with raising_on_signals(), _warnings_on_stderr():
        try:
            args = build_parser().parse_args(argv)
            func: Command = getattr(args, "func", _open_gui)
            return func(args)
        except TrtViewerError as exc:
            if _interrupted(exc):
                return _say_interrupted(KeyboardInterrupt())
            print(f"trt-viewer: error: {exc}", file=sys.stderr)
            return exc.exit_code
        except KeyboardInterrupt as exc:
            return _say_interrupted(exc)
        except BrokenPipeError:
            # Whoever read our standard output stopped (`| head`): say so once, and keep
            # Python from failing again when it flushes stdout at exit.
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            print("trt-viewer: error: standard output was closed before everything was written", file=sys.stderr)
            return 1
        except Exception as exc:  # the last line of defence: one line, not a traceback
            signum = raised_signal()
            if signum is not None:
                return _say_interrupted(Interrupted(signum))
            if _interrupted(exc):
                return _say_interrupted(KeyboardInterrupt())
            if os.environ.get("TRT_VIEWER_DEBUG"):
                traceback.print_exc()
            print(f"trt-viewer: error: {first_line(exc, typed=True)}", file=sys.stderr)
            return 1


def _interrupted(exc: BaseException) -> bool:
    """An error raised while a Ctrl+C was being handled (an import cut short by it can
    surface as an ImportError): the interrupt is the cause, not the error."""
    seen: set[int] = set()
    cause: BaseException | None = exc
    while cause is not None and id(cause) not in seen:
        if isinstance(cause, KeyboardInterrupt):
            return True
        seen.add(id(cause))
        cause = cause.__context__
    return False


def _say_interrupted(exc: KeyboardInterrupt) -> int:
    print("trt-viewer: interrupted", file=sys.stderr)
    return exit_code(exc)
