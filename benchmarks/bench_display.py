"""Display cost of one annotated 1080p frame: draw, convert to QImage, paint on screen.

What the viewer does per frame: the worker renders the frame with
trt_viewer.gui.frames.render (scaled to the view's size, converted to RGB32 straight into a
QImage, the boxes drawn there); the GUI thread sets it on the real VideoView, which paints
it (repaint() paints and flushes the window at once). Timed apart: render, paint. The goal:
at most 3 ms p50 from annotated frame to screen. Run it under Xvfb for a real X11 window
(`xvfb-run -s "-screen 0 1920x1200x24" python benchmarks/bench_display.py`), or with
QT_QPA_PLATFORM=offscreen.

    python benchmarks/bench_display.py [--model M --source S] [--frames 300] [--json]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent


def frames_and_detections(model: str | None, source: str | None, count: int) -> tuple[list[np.ndarray], list[Any]]:
    """1080p frames and the model's real detections on them (when a model is given)."""
    from trt_viewer.bench.frames import load_frames
    from trt_viewer.core.detections import Detections

    # every 50th frame: people.mp4 shows one or two people most of the time
    images = load_frames(source, 24, (1920, 1080), step=50) if source else [
        np.random.default_rng(i).integers(0, 255, (1080, 1920, 3), np.uint8) for i in range(4)]
    if model is None:
        boxes = np.array([[100 + 150 * i, 200, 260 + 150 * i, 700] for i in range(8)], np.float32)
        found = Detections(boxes, np.full(8, 0.8, np.float32), np.zeros(8, np.int64))
        return images, [found] * len(images)
    from trt_viewer.backends import open_backend
    from trt_viewer.run.detector import Detector

    with open_backend(model) as backend:
        detector = Detector(backend)
        return images, [detector.detect(image) for image in images]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model")
    ap.add_argument("--source")
    ap.add_argument("--frames", type=int, default=300)
    ap.add_argument("--view", type=int, nargs=2, default=(1920, 1080), metavar=("W", "H"),
                    help="size of the view widget (default 1920 1080: the frame 1:1)")
    ap.add_argument("--json", action="store_true")
    args = ap.parse_args()
    sys.path.insert(0, str(ROOT))
    os.environ.setdefault("QT_QPA_PLATFORM", "xcb" if os.environ.get("DISPLAY") else "offscreen")

    from PySide6.QtWidgets import QApplication

    from trt_viewer.core.names import COCO_CLASSES
    from trt_viewer.gui.frames import render
    from trt_viewer.gui.view import VideoView

    images, found = frames_and_detections(args.model, args.source, args.frames)
    app = QApplication.instance() or QApplication([])
    view = VideoView()
    view.hud_enabled = False
    view.resize(*args.view)
    view.show()
    for _ in range(20):
        app.processEvents()
    width, height, ratio = view.device_size()
    times: dict[str, list[float]] = {"render": [], "paint": [], "total": []}
    for i in range(args.frames + 20):
        image, dets = images[i % len(images)], found[i % len(images)]
        t0 = time.perf_counter()
        qimage = render(image, dets, COCO_CLASSES, (width, height), ratio)
        t1 = time.perf_counter()
        view.set_image(qimage)
        view.repaint()  # paints and flushes now, as the event loop would on its next pass
        t2 = time.perf_counter()
        app.processEvents()
        if i >= 20:  # warm-up: fonts, backing store
            for k, v in (("render", t1 - t0), ("paint", t2 - t1), ("total", t2 - t0)):
                times[k].append(v)
    from trt_viewer.bench.run import machine

    report = {
        "platform": app.platformName(),
        "view": [width, height],
        "frame": [1920, 1080],
        "detections_per_frame": round(float(np.mean([len(d) for d in found])), 1),
        "frames": args.frames,
        "machine": machine(),
        "stages": {k: {"p50_ms": round(float(np.percentile(v, 50)) * 1e3, 3),
                       "p95_ms": round(float(np.percentile(v, 95)) * 1e3, 3)} for k, v in times.items()},
    }
    if args.json:
        print(json.dumps(report))
    else:
        print(f"1080p annotated frame to screen ({report['platform']}, view {width}x{height}, "
              f"{report['detections_per_frame']} boxes per frame), ms p50/p95: "
              + ", ".join(f"{k} {v['p50_ms']:.2f}/{v['p95_ms']:.2f}" for k, v in report["stages"].items()))
        print(report["machine"])
    view.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
