"""The viewer's picture of an NVDEC frame: scaled on the GPU and only that copied
(Frame.scaled, the viewer now) against the whole frame copied, converted and scaled on
the CPU (Frame.host_image + cv2.resize, the viewer before). One NvdecSource on pycuda's
primary context, both ways on the same frames, alternating, in one run; also checks that
both give the same pixels.

    python3 benchmarks/bench_view_scaling.py VIDEO [--frames 400] [--views 1280x720,1920x1080,960x540]
"""

from __future__ import annotations

import argparse
import json
import time

import cv2
import numpy as np


def main() -> int:
    parser = argparse.ArgumentParser()
    parser.add_argument("video")
    parser.add_argument("--frames", type=int, default=400)
    parser.add_argument("--views", default="1280x720,1920x1080,960x540")
    parser.add_argument("--json", default="")
    args = parser.parse_args()
    views = [tuple(int(v) for v in s.split("x")) for s in args.views.split(",")]

    import pycuda.driver as cuda

    from trt_viewer.backends.base import DeviceContext
    from trt_viewer.run.nvdec import NvdecSource

    cuda.init()
    context = cuda.Device(0).retain_primary_context()
    context.push()
    print(cuda.Device(0).name(), "cores:", len(__import__("os").sched_getaffinity(0)), "OpenCV threads:",
          cv2.getNumThreads())
    report: dict[str, dict[str, float]] = {}
    try:
        for wh in views:
            gpu_ms: list[float] = []
            cpu_ms: list[float] = []
            differing = 0
            with NvdecSource(args.video, DeviceContext(cuda, context, 0)) as source:
                for n in range(args.frames):
                    frame = source.read()
                    if frame is None:
                        break
                    try:
                        t0 = time.perf_counter()
                        on_gpu = frame.scaled(wh)
                        t1 = time.perf_counter()
                        on_cpu = cv2.resize(frame.host_image(), wh, interpolation=cv2.INTER_LINEAR)
                        t2 = time.perf_counter()
                    finally:
                        frame.settle(False)
                    if n >= 10:  # the first frames load the kernel and make the buffers
                        gpu_ms.append((t1 - t0) * 1e3)
                        cpu_ms.append((t2 - t1) * 1e3)
                    differing += int((on_gpu != on_cpu).sum())
                h, w = source.hw
            row = {"frames": len(gpu_ms), "gpu_p50_ms": float(np.median(gpu_ms)), "gpu_mean_ms": float(np.mean(gpu_ms)),
                   "cpu_p50_ms": float(np.median(cpu_ms)), "cpu_mean_ms": float(np.mean(cpu_ms)),
                   "gpu_bytes": wh[0] * wh[1] * 3, "cpu_bytes": h * w * 3 // 2, "differing_values": differing}
            report[f"{wh[0]}x{wh[1]}"] = row
            print(f"{w}x{h} -> {wh[0]}x{wh[1]}: scaled on the GPU {row['gpu_p50_ms']:.3f} ms p50 "
                  f"({row['gpu_mean_ms']:.3f} mean, {row['gpu_bytes'] / 1e6:.2f} MB copied); whole frame + CPU "
                  f"{row['cpu_p50_ms']:.3f} ms p50 ({row['cpu_mean_ms']:.3f} mean, {row['cpu_bytes'] / 1e6:.2f} MB); "
                  f"values differing: {differing}", flush=True)
    finally:
        context.pop()
        context.detach()
    if args.json:
        with open(args.json, "w") as f:
            json.dump(report, f, indent=1)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
