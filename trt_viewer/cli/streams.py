"""`trt-viewer run --source a --source b ...`: several streams in one run.

Each stream is a headless Player of its own, in a thread of its own, with its own backend:
for a Triton URL that is one connection per stream to the same model, so the server's
dynamic batcher can put frames of different streams into one batch. Streams share
nothing but the progress bar and, with `--detections -`, standard output.

Outputs: with several sources every output file names its stream through a placeholder,
`{stream}` (its number, 0 for the first --source) or `{stem}` (its file name without the
extension; `camera0` for camera 0, the last part of a URL's path); a path without one is
refused, as are two streams whose outputs would be the same file. `--detections -` writes
the JSONL of all streams to standard output. Every JSONL record carries `stream`.

A stream that fails (a file that cannot be read, a live stream lost, a server gone) ends
alone with one line naming it; the others run to their end, and the exit code is 1. The
summary gives each stream's frames and FPS, and the total: all frames over the run's time.
"""

from __future__ import annotations

import argparse
import json
import re
import sys
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, TextIO

from trt_viewer.backends import ENGINE_SUFFIXES, is_model_url
from trt_viewer.cli.conflicts import refuse_overwriting, same_file
from trt_viewer.cli.progress import Progress
from trt_viewer.cli.run import STDOUT, WHOLE_RUN, detector_opener, make_summary, print_summary, tracking_options
from trt_viewer.cli.signals import Interrupted, stop_on_signals
from trt_viewer.core.outputs import check_output_path
from trt_viewer.core.sources import URL_PATTERN
from trt_viewer.errors import InputError, RunError, first_line
from trt_viewer.run.flight import Result
from trt_viewer.run.player import Listener, Player, PlayOptions
from trt_viewer.run.recording import Recorder
from trt_viewer.run.session import SourceInfo

PLACEHOLDERS = ("{stream}", "{stem}")
OUTPUT_OPTIONS = (("output", "--output"), ("detections", "--detections"), ("mot", "--mot"))
JOIN_POLL_S = 0.2  # the main thread wakes this often, so that a signal is handled at once


def stem(spec: str) -> str:
    """A source's `{stem}`: a file's name without its extension, `camera0`, or the last part
    of a URL's path (else its host), in characters safe in a file name."""
    text = spec.strip()
    if re.fullmatch(r"\d+", text) and not Path(text).exists():
        name = f"camera{text}"
    elif URL_PATTERN.match(text):
        rest = text.split("://", 1)[1].split("?", 1)[0].rstrip("/")
        parts = rest.split("/")
        name = Path(parts[-1]).stem if len(parts) > 1 else re.sub(r":\d+$", "", parts[0].rsplit("@", 1)[-1])
    else:
        name = Path(text).stem or Path(text).name
    return re.sub(r"[^A-Za-z0-9._-]+", "_", name).strip("._") or "stream"


def expand(path: str, index: int, spec: str) -> str:
    return path.replace("{stream}", str(index)).replace("{stem}", stem(spec))


def single_stream(args: argparse.Namespace) -> None:
    """One --source (or none, with --demo): run.py's path, with the source as a string and
    any placeholder filled in for stream 0, so that a script works for one source as for many."""
    sources = args.source or []
    args.source = sources[0] if sources else None
    if args.source is not None:
        for option, _ in OUTPUT_OPTIONS:
            value = getattr(args, option)
            if value and value != STDOUT:
                setattr(args, option, expand(value, 0, args.source))


@dataclass
class Stream:
    """One source of the run and what became of it."""

    index: int
    spec: str
    outputs: dict[str, str]  # option ("output", "detections", "mot") -> path, placeholders filled in
    player: Player | None = None
    listener: StreamListener | None = None
    failure: BaseException | None = None
    seconds: float = 0.0
    thread: threading.Thread | None = field(default=None, repr=False)

    @property
    def label(self) -> str:
        return f"stream {self.index} ({self.spec})"


class SharedProgress:
    """One progress bar for all streams: frames of every stream over their sum."""

    def __init__(self, streams: list[Stream], quiet: bool, max_frames: int | None) -> None:
        self._streams = streams
        self._quiet = quiet
        self._max = max_frames
        self._lengths: dict[int, int | None] = {}
        self._lock = threading.Lock()
        self.bar = Progress(None)

    def opened(self, stream: Stream, info: SourceInfo | None) -> None:
        """A stream's source opened (None: it never will, the stream failed first). The bar
        starts once every stream is known, where every length is known (no live source)."""
        length: int | None = 0
        if info is not None:
            length = info.length if not info.live else None
            if length and self._max:
                length = min(length, self._max)
            length = length or None
        with self._lock:
            self._lengths.setdefault(stream.index, length)
            if len(self._lengths) == len(self._streams) and not self._quiet and self.bar.total is None:
                lengths = list(self._lengths.values())
                self.bar = Progress(sum(n for n in lengths if n) if None not in lengths else None)

    def update(self) -> None:
        with self._lock:
            self.bar.update(sum(s.player.frames for s in self._streams if s.player is not None))

    def finish(self) -> None:
        with self._lock:
            self.bar.finish()


class StreamListener(Listener):
    """One stream's outputs, opened once its source is known (a video takes its frame rate)."""

    def __init__(self, stream: Stream, args: argparse.Namespace, progress: SharedProgress) -> None:
        self.stream = stream
        self.args = args
        self.progress = progress
        self.recorder: Recorder | None = None

    def source_opened(self, info: SourceInfo) -> None:
        player = self.stream.player
        assert player is not None and player.detector is not None
        outputs = self.stream.outputs
        video, detections, mot = outputs.get("output"), outputs.get("detections"), outputs.get("mot")
        to: Path | TextIO | None = sys.stdout if detections == STDOUT else Path(detections) if detections else None
        # Every JSONL record names its stream: standard output carries them all.
        self.recorder = Recorder(player.detector.names, video=Path(video) if video else None, fps=info.fps,
                                 detections=to, draw_in_place=True, stats=player.stage_stats,
                                 tracks=Path(mot) if mot else None, extra_fields={"stream": self.stream.index})
        self.progress.opened(self.stream, info)

    def result(self, result: Result) -> None:
        assert self.recorder is not None
        self.recorder.write(result)
        self.progress.update()


def plan_streams(model: str, args: argparse.Namespace) -> list[Stream]:
    """The streams and their outputs, checked before anything opens: every output names its
    stream, none overwrites an input (the model, a names or zones file, any stream's source)
    and no two are the same file."""
    sources: list[str] = args.source
    if Path(model).suffix.lower() in ENGINE_SUFFIXES and not is_model_url(model):
        raise InputError("several --source need an ONNX model or a model on a Triton server; a TensorRT engine "
                         "runs one stream per run (to serve it to several, see trt-viewer triton-repo)")
    if args.detections == STDOUT and args.json_summary:
        raise InputError("--detections - and --json-summary both write to standard output; choose one")
    for option, flag in OUTPUT_OPTIONS:
        value = getattr(args, option)
        if value and value != STDOUT and not any(p in value for p in PLACEHOLDERS):
            example = Path(value).with_name(f"{Path(value).stem}_{{stream}}{Path(value).suffix}")
            raise InputError(f"{flag} {value} would be written by each of the {len(sources)} streams: put {{stream}} "
                             f"(the stream's number) or {{stem}} (its source's name) in it, e.g. {example}")
    streams = []
    for index, spec in enumerate(sources):
        outputs = {option: (value if value == STDOUT else expand(value, index, spec))
                   for option, _ in OUTPUT_OPTIONS if (value := getattr(args, option))}
        streams.append(Stream(index, spec, outputs))
    named = [(s, option, path) for s in streams for option, path in s.outputs.items() if path != STDOUT]
    for position, (a, _option_a, path_a) in enumerate(named):
        for b, _option_b, path_b in named[position + 1:]:
            if a is not b and same_file(Path(path_a), Path(path_b)):
                raise InputError(f"{a.label} and {b.label} would both write {path_a}: use {{stream}} in the "
                                 "name, which differs for every stream")
    what = {"output": "output", "detections": "detections file", "mot": "tracks file"}
    labelled = [(f"{what[option]} of {s.label}", path) for s, option, path in named]
    for label, path in labelled:
        check_output_path(Path(path), label)
    for spec in sources:
        refuse_overwriting(model, spec, args.names, labelled)
    if args.zone and any(same_file(Path(args.zone), Path(path)) for _, path in labelled):
        raise InputError(f"an output is the zones file {args.zone}; choose another file name")
    return streams


def run_streams(args: argparse.Namespace) -> int:
    model = args.model
    if args.demo and not model:
        from trt_viewer import demo

        model = str(demo.demo_model_path())
    if not model:
        raise InputError("run needs --model (or --demo)")
    streams = plan_streams(model, args)
    tracking = tracking_options(args)
    opener = detector_opener(model, args)
    progress = SharedProgress(streams, args.quiet, args.max_frames)
    options = PlayOptions(interactive=False, max_frames=args.max_frames, stats_window=WHOLE_RUN, tracking=tracking,
                          decode=args.decode, pixels="lend" if args.output else "drop")  # as cli/run.py
    for stream in streams:
        stream.listener = StreamListener(stream, args, progress)
        stream.player = Player(stream.listener, options)

    def play(stream: Stream) -> None:
        assert stream.player is not None and stream.listener is not None
        started = time.perf_counter()
        try:
            stream.player.run(opener, stream.spec)
        except (KeyboardInterrupt, Exception) as exc:
            stream.failure = exc
        finally:
            recorder = stream.listener.recorder
            if recorder is not None:
                # As in a run of one: what was produced is written before anything is reported.
                try:
                    recorder.close(keep=stream.failure is None or recorder.written > 0)
                except Exception as exc:
                    stream.failure = stream.failure or exc
            stream.seconds = time.perf_counter() - started
            if recorder is None:
                progress.opened(stream, None)

    def stop_all() -> None:
        for stream in streams:
            if stream.player is not None:
                stream.player.stop()

    started = time.perf_counter()
    with stop_on_signals(stop_all) as received:
        try:
            for stream in streams:
                stream.thread = threading.Thread(target=play, args=(stream,), name=f"stream-{stream.index}",
                                                 daemon=True)
                stream.thread.start()
            for stream in streams:
                assert stream.thread is not None
                while stream.thread.is_alive():
                    stream.thread.join(JOIN_POLL_S)
        except KeyboardInterrupt:  # a second signal: stop at once, after the streams let go of their files
            stop_all()
            for stream in streams:
                if stream.thread is not None:
                    stream.thread.join()
            raise
        finally:
            progress.finish()
    elapsed = time.perf_counter() - started
    return report(model, streams, elapsed, args, received.signum)


def _never_ran(stream: Stream) -> bool:
    """The model or the source did not open, or bad input showed at the first frame."""
    listener = stream.listener
    return listener is None or listener.recorder is None or (
        isinstance(stream.failure, InputError) and stream.player is not None and stream.player.frames == 0)


def _stream_failure(stream: Stream) -> BaseException | None:
    """What ended the stream badly, as run.py's run of one would say it (None: it did not)."""
    player, failure = stream.player, stream.failure
    assert player is not None
    info = player.source_info
    if failure is None and info is not None and info.live and player.end == "lost":
        return RunError(f"the stream was lost (no frame came, or it broke off) after {player.frames} frames")
    return failure


def report(model: str, streams: list[Stream], elapsed: float, args: argparse.Namespace,
           signum: int | None) -> int:
    """The summary, each stream's lines, and the exit code."""
    failures = {s.index: f for s in streams if (f := _stream_failure(s)) is not None
                and not isinstance(f, KeyboardInterrupt)}
    if failures and len(failures) == len(streams) and all(_never_ran(s) for s in streams):
        messages = {first_line(f) for f in failures.values()}
        first = failures[streams[0].index]
        if len(messages) == 1 and isinstance(first, InputError):
            raise first  # the model did not open (the same for every stream): one line, as for one source
    summaries = []
    for stream in streams:
        player = stream.player
        assert player is not None
        listener = stream.listener
        written = listener.recorder.written if listener is not None and listener.recorder is not None else 0
        if player.detector is not None and not _never_ran(stream):
            summary = make_summary(model, stream.spec, player, stream.seconds, written)
        else:
            summary = {"source": stream.spec, "frames": 0, "seconds": round(stream.seconds, 3), "fps": 0.0,
                       "end": player.end or "failed"}
        failure = failures.get(stream.index)
        summary = {"stream": stream.index, **summary, "error": first_line(failure) if failure else None}
        summaries.append(summary)
    total = sum(s["frames"] for s in summaries)
    backend = next((s["backend"] for s in summaries if "backend" in s), "")
    combined = {"model": model, "backend": backend, "streams": summaries, "frames": total,
                "seconds": round(elapsed, 3), "fps": round(total / elapsed, 2) if elapsed > 0 else 0.0,
                "failed": len(failures)}
    print_streams(combined, args.json_summary)
    for stream in streams:
        player = stream.player
        assert player is not None
        info = player.source_info
        if player.shortfall and info is not None and info.length:
            print(f"trt-viewer: warning: {stream.label}: the header claims {info.length} frames but only "
                  f"{info.length - player.shortfall} decoded; stopped at the last good frame", file=sys.stderr)
        if stream.index not in failures and info is not None and info.live and player.end == "ended":
            print(f"trt-viewer: {stream.label}: the stream ended after {player.frames} frames", file=sys.stderr)
    for index, failure in failures.items():
        stream = streams[index]
        print(f"trt-viewer: error: {stream.label}: {first_line(failure)}", file=sys.stderr)
        written = summaries[index]["frames"]
        if written:
            print(f"trt-viewer: {stream.label}: {written} frames were written before the failure", file=sys.stderr)
    if signum is not None:
        raise Interrupted(signum)  # stopped by a signal: summary, then its exit code
    if failures:
        everything_bad_input = all(isinstance(f, InputError) for f in failures.values()) and \
            len(failures) == len(streams) and all(_never_ran(s) for s in streams)
        print(f"trt-viewer: {len(failures)} of {len(streams)} streams failed", file=sys.stderr)
        return 2 if everything_bad_input else 1
    return 0


def print_streams(combined: dict[str, Any], as_json: bool) -> None:
    for summary in combined["streams"]:
        head = f"stream {summary['stream']} {summary['source']}: "
        if summary.get("stages") is None:
            print(head + "did not run", file=sys.stderr)
            continue
        print(head, end="", file=sys.stderr)
        print_summary(summary, as_json=False)
    print(f"total: {combined['frames']} frames of {len(combined['streams'])} streams in {combined['seconds']:.2f} s, "
          f"{combined['fps']:.1f} FPS" + (f", {combined['failed']} failed" if combined["failed"] else ""),
          file=sys.stderr)
    if as_json:
        print(json.dumps(combined), flush=True)
