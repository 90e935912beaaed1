"""`trt-viewer bench` without the command line: options in, report (a dict) out.

One backend and one Detector serve every mode. Rounds interleave the modes (model,
sequential, pipeline, model, ...) so that a change in the machine's load during the run
hits all of them alike; each mode's FPS is the median of its rounds.
"""

from __future__ import annotations

import os
import platform
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from trt_viewer.backends import open_backend
from trt_viewer.backends.base import DeviceContext
from trt_viewer.bench import loops
from trt_viewer.bench.display import qimage_converter
from trt_viewer.bench.frames import DISTINCT_FRAMES, MemorySource, load_frames
from trt_viewer.bench.report import MODES, summarize
from trt_viewer.core.sources import Source
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.errors import InputError
from trt_viewer.run.decoding import source_opener
from trt_viewer.run.detector import Detector


@dataclass
class BenchOptions:
    model: str
    source: str
    frames: int = 300  # recorded per mode and round
    rounds: int = 3
    warmup: int = 10
    in_memory: bool = False
    frame_size: tuple[int, int] | None = None  # (width, height): resize frames (in memory)
    gpu_preprocess: bool | None = None
    ort_workers: int | None = None
    decode_threads: int | None = None  # FFmpeg's threads for a video file (None: OpenCV's choice)
    decode: str = "auto"  # the decoder for a video file (run.decoding.DECODE_CHOICES)
    read_ahead: int = 2  # frames the pipeline's reader prepares ahead
    copy_threads: int | None = None
    write_combined: bool | None = None
    modes: tuple[str, ...] = MODES
    qimage: bool = True
    draw: bool = True
    input_size: tuple[int, int] | None = None
    preset: str = "auto"
    layout: str = "auto"
    names_file: str | None = None
    config: PostprocessConfig = field(default_factory=PostprocessConfig)


def machine() -> str:
    cpu = platform.processor() or platform.machine()
    try:
        with open("/proc/cpuinfo", encoding="utf-8") as f:
            names = [line.split(":", 1)[1].strip() for line in f if line.startswith("model name")]
        cpu = names[0] if names else cpu
    except OSError:
        pass
    cores = len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else os.cpu_count()
    return f"{cpu}, {cores} cores, Python {platform.python_version()}, numpy {np.__version__}, OpenCV {cv2.__version__}"


def _sources(opts: BenchOptions, device: DeviceContext | None = None,
             ) -> tuple[Callable[[int], Source], list[np.ndarray], tuple[int, int]]:
    """A factory of fresh sources of n frames, some frames for the model alone, and the frame size.
    `device`: the backend's CUDA context, for a decoder on the GPU."""
    if opts.frames <= 0 or opts.rounds <= 0 or opts.warmup < 0:
        raise InputError("--frames and --rounds must be positive, --warmup not negative")
    in_memory = opts.in_memory or opts.frame_size is not None
    images = load_frames(opts.source, DISTINCT_FRAMES if in_memory else 4, opts.frame_size)
    size = (images[0].shape[1], images[0].shape[0])
    if in_memory:
        return (lambda n: MemorySource(opts.source, images, n)), images, size
    opened = source_opener(opts.decode, opts.decode_threads, device=device)
    return (lambda n: opened(opts.source)), images, size


def run_bench(opts: BenchOptions, progress: Callable[[str], None] | None = None) -> dict[str, Any]:
    unknown = set(opts.modes) - set(MODES)
    if unknown or not opts.modes:
        raise InputError(f"unknown mode(s) {', '.join(sorted(unknown)) or '(none)'}; choose from {', '.join(MODES)}")
    say = progress or (lambda text: None)
    make_source, images, frame_size = _sources(opts)  # bad input is told before the model loads
    if not opts.draw:
        display, display_note = None, "left out (--no-draw)"
    else:
        display, display_note = qimage_converter() if opts.qimage else (None, "left out (--no-qimage)")
    notes = [] if display is not None else [f"QImage conversion {display_note}"]
    if not opts.draw:
        notes.append("drawing left out (--no-draw)")
    runs: dict[str, list[loops.Run]] = {m: [] for m in opts.modes}
    with open_backend(opts.model, input_size=opts.input_size, ort_workers=opts.ort_workers,
                      copy_threads=opts.copy_threads, write_combined=opts.write_combined) as backend:
        if backend.capabilities.gpu_timing:
            backend.gpu_timing = True  # CUDA events around each step (TensorRT)
        names = Path(opts.names_file).expanduser() if opts.names_file else None
        if names is not None and not names.is_file():
            raise InputError(f"class names file {names} does not exist")
        detector = Detector(backend, preset=opts.preset, layout=opts.layout, config=opts.config,
                            names_file=names, gpu_preprocess=opts.gpu_preprocess)
        if opts.decode in ("auto", "nvdec") and opts.gpu_preprocess is not False:
            make_source, images, frame_size = _sources(opts, backend.device_context())
        n, w = opts.frames, opts.warmup
        for r in range(opts.rounds):
            for mode in opts.modes:
                if mode == "decode":
                    run = loops.decode_alone(make_source(n + w), n, w)
                elif mode == "model":
                    run = loops.model_alone(detector, images, n, w)
                elif mode == "sequential":
                    run = loops.sequential(detector, make_source(n + w), n, w, display, opts.draw)
                else:
                    run = loops.pipeline(detector, make_source(n + w), n, w, display, opts.draw, opts.read_ahead)
                runs[mode].append(run)
            say(f"round {r + 1}/{opts.rounds}: " + ", ".join(f"{m} {runs[m][-1].fps:.1f} FPS" for m in opts.modes))
        reason = detector.cpu_letterbox_reason
        if set(opts.modes) == {"model"}:
            reason = "the model alone runs on inputs letterboxed beforehand"
        info = backend.describe()
    report = summarize(runs)
    report["setup"] = {
        "model": opts.model,
        "source": opts.source,
        "backend": info["backend"],
        "device": info.get("device"),
        "precision": info["precision"],
        "input_size": info["input_size"],
        "lanes": info.get("lanes", 1),
        "frame_size": list(frame_size),
        "in_memory": opts.in_memory or opts.frame_size is not None,
        "decode": "memory" if opts.in_memory or opts.frame_size is not None else opts.decode,
        "frames_per_run": opts.frames,
        "warmup": opts.warmup,
        "rounds": opts.rounds,
        "letterbox": "GPU (CUDA kernel)" if reason is None else f"CPU ({reason})",
        "qimage": display_note if display is not None else None,
        "machine": machine(),
        "argv": sys.argv,
        "notes": notes,
    }
    return report
