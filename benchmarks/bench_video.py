"""Real video on the GPU machine: the pipeline decoding a 1080p H.264 file, against
decoding alone, the model alone and the sequential loop, under a few thread settings.

The engine is bench_gpu.py's stand-in (a fixed `--engine-ms` of GPU work, real outputs).
Each variant is one `trt-viewer bench` run (decode, model, sequential, pipeline in
interleaved rounds) on the file as users run it (decoded as it plays, not from memory):
  base        OpenCV's defaults (FFmpeg and OpenCV each one thread per core)
  cv_N        cv2.setNumThreads(N): OpenCV's own pool (the staging copy, resizes)
  decode_N    FFmpeg decoding threads N
  ahead_N     the reader prepares N frames ahead instead of 2
  si_S        sys.setswitchinterval(S): how long a thread may keep the GIL from another
              that wants it (5 ms by default)
  no_draw     as `trt-viewer run` with JSONL only: nothing drawn
  thread, cpu, nvdec   the decoder (--decode): FFmpeg in a thread of the process (the
              default of these variants, as before), FFmpeg in a decoder process, NVDEC
  blocking    CUDA streams created blocking, as before STREAM_NON_BLOCKING (they then
              wait for work on the legacy default stream, and it for them)
  spinwait    the wait for a frame's outputs spins on a core, as CUDA's default does (it
              sleeps, BLOCKING_SYNC, since the H200's run 11; before, `bsync` asked for that)
Parts join with +, e.g. cpu+no_draw.

    python3 benchmarks/bench_video.py --model .gpudata/models/yolox_nano.onnx \\
        --source .gpudata/media/people_1080p.mp4 --out $OUT [--variants base,cv_2,...]
"""

from __future__ import annotations

import argparse
import json
import os
import sys
import tempfile
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]

VARIANTS = ("base", "cv_1", "cv_2", "cv_4", "decode_4", "decode_8", "decode_4+cv_2", "ahead_6", "si_0.001",
            "si_0.0005", "no_draw")


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the ONNX model the stand-in engine is built from")
    ap.add_argument("--source", required=True, help="a video file (1080p H.264)")
    ap.add_argument("--out", default=".")
    ap.add_argument("--engine-ms", type=float, default=1.0)
    ap.add_argument("--frames", type=int, default=560)
    ap.add_argument("--warmup", type=int, default=30)
    ap.add_argument("--rounds", type=int, default=2)
    ap.add_argument("--variants", default=",".join(VARIANTS))
    args = ap.parse_args()

    import importlib

    # trt_viewer first: it sets OpenCV's pool to sleep before cv2 loads (trt_viewer/__init__.py).
    importlib.import_module("trt_viewer")
    import cv2
    from bench_gpu import build_engine, standin_tensorrt

    from trt_viewer.backends.base import STREAM_NON_BLOCKING
    from trt_viewer.bench.report import format_text
    from trt_viewer.bench.run import BenchOptions, machine, run_bench

    dev, held, memory = standin_tensorrt(args.engine_ms)
    default_threads = cv2.getNumThreads()
    default_interval = sys.getswitchinterval()
    results: dict[str, Any] = {"device": dev.name(), "machine": machine(), "engine_ms": args.engine_ms,
                               "opencv_threads_default": default_threads, "variants": {}}
    try:
        with tempfile.TemporaryDirectory() as tmp:
            engine = build_engine(Path(args.model), Path(tmp))
            for variant in args.variants.split(","):
                parts = variant.split("+")
                settings = dict(part.split("_", 1) for part in parts if "_" in part and part != "no_draw")
                decode = next((p for p in parts if p in ("thread", "cpu", "nvdec", "auto")), "thread")
                cv2.setNumThreads(int(settings.get("cv", default_threads)))
                stream_flags(0 if "blocking" in parts else STREAM_NON_BLOCKING)
                # spinwait: the wait for a frame's outputs spins, as before BLOCKING_SYNC (lanes.py)
                os.environ["TRT_VIEWER_BLOCKING_SYNC"] = "0" if "spinwait" in parts else "1"
                sys.setswitchinterval(float(settings.get("si", default_interval)))
                opts = BenchOptions(
                    model=str(engine), source=args.source, frames=args.frames, rounds=args.rounds,
                    warmup=args.warmup, gpu_preprocess=True, draw="no_draw" not in parts, qimage=False, decode=decode,
                    modes=("decode", "model", "sequential", "pipeline"),
                    decode_threads=int(settings["decode"]) if "decode" in settings else None,
                    read_ahead=int(settings.get("ahead", 2)),
                )
                report = run_bench(opts, progress=lambda line: print(line, flush=True))
                results["variants"][variant] = report
                print(f"-- {variant}\n{format_text(report)}", flush=True)
            cv2.setNumThreads(default_threads)
            stream_flags(STREAM_NON_BLOCKING)
            sys.setswitchinterval(default_interval)
    finally:
        memory.close()
        (Path(args.out) / "video_bench.json").write_text(json.dumps(results, indent=1))
        import pycuda.driver as cuda

        cuda.Context.pop()
        held.detach()
    def idle(report: dict[str, Any], stage: str) -> float | None:
        value = report["modes"]["pipeline"]["stages"].get(stage, {}).get("mean_ms")
        return None if value is None else float(value)

    summary = {v: (r["modes"]["pipeline"]["fps"], r["ratios"].get("pipeline/sequential"),
                   r["ratios"].get("pipeline/ceiling"), r["modes"]["decode"]["fps"],
                   idle(r, "gpu_idle"), idle(r, "submit_late"))
               for v, r in results["variants"].items()}
    print("variant: pipeline FPS, pipeline/sequential, pipeline/ceiling, decode FPS, "
          "engine idle per frame (mean ms), of it before the frame was queued")
    for v, s in summary.items():
        print(f"  {v}: {s}")
    return 0


def stream_flags(flags: int) -> None:
    """The flags every stream of trt_viewer is created with from now on (the `blocking` variant)."""
    from trt_viewer.backends import base
    from trt_viewer.backends.trt import lanes

    base.STREAM_NON_BLOCKING = lanes.STREAM_NON_BLOCKING = flags  # type: ignore[misc]


if __name__ == "__main__":
    sys.exit(main())
