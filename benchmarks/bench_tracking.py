"""Tracking + counting time per frame: ByteTrack and a Counter (two lines, one zone), for
10 and 50 objects.

    python benchmarks/bench_tracking.py [--frames 3000] [--tracker bytetrack]

Synthetic 1280x720 frames: objects of 4 classes moving at constant speed (bouncing off
the edges), boxes jittered by a pixel, 5 % of detections missing, scores from 0.3 to 1
(some in ByteTrack's low stage). Timed: tracker.update() then counter.update(), per frame;
p50 and p95 in milliseconds. The target is p50 <= 0.5 ms with 50 objects on a 2-core CPU.
"""

from __future__ import annotations

import argparse
import os
import platform
import time

import numpy as np

from trt_viewer.core.detections import Detections
from trt_viewer.track import Counter, LineZone, PolygonZone, make_tracker

W, H = 1280, 720


def frames(n_objects: int, count: int, seed: int = 0) -> list[Detections]:
    rng = np.random.default_rng(seed)
    size = rng.uniform(30, 90, (n_objects, 2))
    pos = rng.uniform((0, 0), (W, H), (n_objects, 2))
    vel = rng.uniform(-6, 6, (n_objects, 2))
    cls = rng.integers(0, 4, n_objects)
    base_score = rng.uniform(0.3, 1.0, n_objects)
    out = []
    for _ in range(count):
        pos += vel
        bounce = (pos < 0) | (pos > (W, H))
        vel[bounce] *= -1
        pos = np.clip(pos, 0, (W, H))
        boxes = np.concatenate([pos - size / 2, pos + size / 2], 1) + rng.normal(0, 1, (n_objects, 4))
        keep = rng.random(n_objects) > 0.05
        scores = np.clip(base_score + rng.normal(0, 0.05, n_objects), 0.3, 1.0)
        out.append(Detections.from_arrays(boxes[keep], scores[keep], cls[keep]))
    return out


def bench(n_objects: int, count: int, tracker_name: str) -> tuple[float, float]:
    data = frames(n_objects, count)
    tracker = make_tracker(tracker_name)
    assert tracker is not None
    counter = Counter([LineZone((W / 2, 0), (W / 2, H), "v"), LineZone((0, H / 2), (W, H / 2), "h")],
                      [PolygonZone([[100, 100], [600, 120], [550, 600], [120, 500]], "zone")])
    times = []
    for i, dets in enumerate(data):
        t0 = time.perf_counter()
        tracked = tracker.update(dets, i / 30)
        counter.update(tracked, i, i / 30)
        times.append(time.perf_counter() - t0)
    ms = np.array(times[50:]) * 1e3  # past the start, where every track is new
    return float(np.percentile(ms, 50)), float(np.percentile(ms, 95))


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--frames", type=int, default=3000)
    p.add_argument("--tracker", default="bytetrack", choices=("bytetrack", "sort"))
    args = p.parse_args()
    print(f"{platform.processor() or platform.machine()}, {os.cpu_count()} cores, numpy {np.__version__}; "
          f"{args.tracker} + Counter (2 lines, 1 zone), {args.frames} frames")
    for n in (10, 50):
        p50, p95 = bench(n, args.frames, args.tracker)
        print(f"{n:3d} objects: p50 {p50:.3f} ms  p95 {p95:.3f} ms")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
