"""Throughput on a real video: the model alone, the classic sequential loop, and
`trt-viewer run`, interleaved in one run so that a noisy shared machine hits all three alike.

    python benchmarks/bench_run.py --model M.onnx --source people.mp4 [--rounds 3] [--frames N]

Prints FPS per round and the medians, and the ratios run/model and run/sequential.
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import statistics
import subprocess
import sys
import time

import cv2
import numpy as np

from trt_viewer.backends import open_backend
from trt_viewer.core.detector import Detector
from trt_viewer.core.drawing import draw_detections


def read_frames(source: str, limit: int | None) -> list[np.ndarray]:
    cap = cv2.VideoCapture(source)
    frames = []
    while limit is None or len(frames) < limit:
        ok, frame = cap.read()
        if not ok:
            break
        frames.append(frame)
    return frames


def model_alone(model: str, frames: list[np.ndarray]) -> float:
    """Back-to-back inference on frames letterboxed beforehand: the ceiling for the rest."""
    with open_backend(model) as backend:
        det = Detector(backend)
        buffers = [det.allocate_input() for _ in range(8)]
        for i, buf in enumerate(buffers):
            det.preprocess(frames[i % len(frames)], buf)
        det.infer(buffers[0])  # warm-up
        start = time.perf_counter()
        for i in range(len(frames)):
            det.infer(buffers[i % len(buffers)])
        return len(frames) / (time.perf_counter() - start)


def sequential(model: str, source: str, limit: int | None) -> float:
    """Read, letterbox, infer, decode, per-class NMS, draw: one after another."""
    with open_backend(model) as backend:
        det = Detector(backend)
        buf = det.allocate_input()
        cap = cv2.VideoCapture(source)
        det.infer(buf)  # warm-up
        n, start = 0, time.perf_counter()
        while limit is None or n < limit:
            ok, frame = cap.read()
            if not ok:
                break
            draw_detections(frame, det.detect(frame, buf), det.names)
            n += 1
        return n / (time.perf_counter() - start)


def trt_viewer_run(model: str, source: str, limit: int | None) -> float:
    cmd = [sys.executable, "-m", "trt_viewer", "run", "--model", model, "--source", source,
           "--json-summary", "-q"]
    if limit:
        cmd += ["--max-frames", str(limit)]
    out = subprocess.run(cmd, capture_output=True, text=True, check=True)
    return float(json.loads(out.stdout.strip().splitlines()[-1])["fps"])


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--frames", type=int, default=None, help="frames per measurement (default all)")
    args = ap.parse_args()
    frames = read_frames(args.source, args.frames)
    limit = args.frames
    results: dict[str, list[float]] = {"model alone": [], "sequential loop": [], "trt-viewer run": []}
    for r in range(args.rounds):
        results["model alone"].append(model_alone(args.model, frames))
        results["sequential loop"].append(sequential(args.model, args.source, limit))
        results["trt-viewer run"].append(trt_viewer_run(args.model, args.source, limit))
        print(f"round {r + 1}: " + ", ".join(f"{k} {v[-1]:.1f} FPS" for k, v in results.items()), flush=True)
    med = {k: statistics.median(v) for k, v in results.items()}
    print(f"\n{platform.processor() or platform.machine()}, {os.cpu_count()} cores, {len(frames)} frames")
    for k, v in med.items():
        print(f"{k:16s} {v:7.1f} FPS (median of {args.rounds})")
    print(f"run / model alone      {med['trt-viewer run'] / med['model alone']:.3f}")
    print(f"run / sequential loop  {med['trt-viewer run'] / med['sequential loop']:.3f}")


if __name__ == "__main__":
    main()
