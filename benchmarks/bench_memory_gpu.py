"""Memory over a long run on the GPU machine with real video decoding: the stand-in
TensorRT engine of bench_gpu.py, the file decoded as it plays by each decoder asked for,
looped through the viewer's loop (bench_memory.measure with `decode`) until N frames.
RSS and free GPU memory every 1,000 frames; the goal: both flat over 20,000 frames.

    python3 benchmarks/bench_memory_gpu.py --model .gpudata/models/yolox_nano.onnx \\
        --source .gpudata/media/people_1080p.mp4 --frames 20000 --decoders cpu,nvdec
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--engine-ms", type=float, default=1.0)
    ap.add_argument("--decoders", default="cpu,nvdec")
    args = ap.parse_args()
    from bench_gpu import build_engine, standin_tensorrt
    from bench_memory import measure

    from trt_viewer.backends import open_backend

    dev, held, memory = standin_tensorrt(args.engine_ms)
    reports = {}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = build_engine(Path(args.model), Path(tmp))
            for decode in args.decoders.split(","):
                with open_backend(engine) as backend:
                    report = measure(backend, args.source, args.frames, args.every, True, decode=decode)
                report.pop("samples")
                reports[decode] = report
                print(f"-- {decode}: {json.dumps(report)}", flush=True)
    finally:
        memory.close()
        import pycuda.driver as cuda

        cuda.Context.pop()
        held.detach()
    print(json.dumps({"device": dev.name(), "frames": args.frames, "reports": reports}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
