"""Decode + NMS time per frame for 3549 anchors (416x416) and 8400 anchors (640x640).

    python benchmarks/bench_postprocess.py --model yolox_nano.onnx --source people.mp4

The 3549-anchor case uses the real model's outputs on the video's frames. YOLOX models at
640x640 give 8400 anchors; for them each level of those same real outputs is resized to
the 640 grids (80x80, 40x40, 20x20), keeping real score statistics and clusters.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import cv2
import numpy as np

from trt_viewer.backends import open_backend
from trt_viewer.core.layouts import Postprocessor
from trt_viewer.core.spec import TensorSpec
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.run.detector import Detector


def real_outputs(model: str, source: str, frames: int) -> tuple[list[np.ndarray], list[float], tuple[int, int]]:
    with open_backend(model) as backend:
        det = Detector(backend)
        buf = det.allocate_input()
        cap = cv2.VideoCapture(source)
        preds, ratios = [], []
        hw = (0, 0)
        while len(preds) < frames:
            ok, frame = cap.read()
            if not ok:
                break
            ratios.append(det.preprocess(frame, buf))
            preds.append(next(iter(det.infer(buf).values())))
            hw = frame.shape[:2]
        return preds, ratios, hw


def to_640(pred: np.ndarray) -> np.ndarray:
    """[1, 3549, C] on 52/26/13 grids -> [1, 8400, C] on 80/40/20 grids."""
    levels, start = [], 0
    for side, new in ((52, 80), (26, 40), (13, 20)):
        grid = pred[0, start:start + side * side].reshape(side, side, -1)
        start += side * side
        resized = np.stack(
            [cv2.resize(grid[..., c], (new, new), interpolation=cv2.INTER_NEAREST) for c in range(grid.shape[-1])],
            axis=-1,
        )
        levels.append(resized.reshape(new * new, -1))
    return np.concatenate(levels)[None].astype(np.float32)


def time_postprocess(preds: list[np.ndarray], ratios: list[float], input_hw: tuple[int, int],
                     frame_hw: tuple[int, int], repeats: int) -> tuple[float, float, float]:
    spec = TensorSpec("output", preds[0].shape, np.dtype(np.float32))
    post = Postprocessor([spec], input_hw, "raw")
    cfg = PostprocessConfig()
    times, found = [], 0
    for _ in range(repeats):
        for pred, ratio in zip(preds, ratios):
            t = time.perf_counter()
            dets = post({"output": pred}, ratio, frame_hw, cfg)
            times.append(time.perf_counter() - t)
            found += len(dets)
    p50, p95 = np.percentile(times, [50, 95]) * 1e3
    return float(p50), float(p95), found / len(times)


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--model", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--frames", type=int, default=400)
    ap.add_argument("--repeats", type=int, default=5)
    args = ap.parse_args()
    preds, ratios, frame_hw = real_outputs(args.model, args.source, args.frames)
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}")
    p50, p95, mean = time_postprocess(preds, ratios, (416, 416), frame_hw, args.repeats)
    print(f"3549 anchors: p50 {p50:.3f} ms, p95 {p95:.3f} ms ({mean:.1f} detections/frame)")
    big = [to_640(p) for p in preds]
    ratios640 = [min(640 / frame_hw[0], 640 / frame_hw[1])] * len(big)
    p50, p95, mean = time_postprocess(big, ratios640, (640, 640), frame_hw, args.repeats)
    print(f"8400 anchors: p50 {p50:.3f} ms, p95 {p95:.3f} ms ({mean:.1f} detections/frame)")


if __name__ == "__main__":
    main()
