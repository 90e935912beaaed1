"""GPU figures: trt_viewer around a TensorRT engine of a fixed 1.0 ms, on 1080p frames.

TensorRT cannot be installed on the GPU machine used here (docs/tensorrt.md), so the engine
is the stand-in from tests/fakes with its work replaced by a kernel that spins for exactly
`--engine-ms` on the stream TensorRT is given (tests/fakes/real_cuda.py TimedCudaMemory);
its outputs are the real model's (computed once with ONNX Runtime), so the decode and NMS
work on real numbers. Everything else is real: pycuda, page-locked memory, the three
streams, events, the letterbox kernel, the pipeline.

1. pinned versus pageable host-to-device copies of one 1080p BGR frame;
2. the host copy of a 1080p frame into page-locked memory (GPU preprocessing's staging
   copy): cached or write-combined memory, 1, 2 or 4 copying threads;
3. `trt-viewer bench` (trt_viewer.bench.run_bench) on people.mp4 frames resized to 1080p,
   held in memory: with GPU preprocessing, the same without drawing, with the CPU
   letterbox, and the sequential loop and pipeline for each staging variant of 2.;
4. memory over a long pipeline run (benchmarks/bench_memory.py): RSS and free GPU memory.

    python3 benchmarks/bench_gpu.py --model .gpudata/models/yolox_nano.onnx \
        --source .gpudata/media/people.mp4 --out $OUT

Writes gpu_bench.json (everything) and prints a summary.
"""

from __future__ import annotations

import argparse
import json
import sys
import tempfile
import time
from functools import partial
from pathlib import Path
from typing import Any

import numpy as np

ROOT = Path(__file__).resolve().parent.parent
sys.path[:0] = [str(ROOT), str(ROOT / "tests"), str(ROOT / "benchmarks")]


def distinct_frames(n: int = 16) -> list[np.ndarray]:
    """Random 1080p frames, together larger than any CPU cache."""
    rng = np.random.default_rng(0)
    return [rng.integers(0, 255, (1080, 1920, 3), np.uint8) for _ in range(n)]


def copies(cuda: Any, reps: int) -> dict[str, Any]:
    """p50 wall time of copy + stream synchronize, and GPU time between events, per 1080p frame."""
    frames = distinct_frames()
    frame = frames[0]
    pinned = cuda.pagelocked_empty(frame.shape, np.uint8)
    pinned[:] = frame
    device = cuda.mem_alloc(frame.nbytes)
    stream = cuda.Stream()
    start, end = cuda.Event(), cuda.Event()
    out: dict[str, Any] = {"bytes": int(frame.nbytes)}
    for name, hosts in (("pageable", frames), ("pinned", [pinned])):
        walls, gpus = [], []
        for i in range(reps + 10):
            host = hosts[i % len(hosts)]
            t0 = time.perf_counter()
            start.record(stream)
            cuda.memcpy_htod_async(device, host, stream)
            end.record(stream)
            stream.synchronize()
            if i >= 10:
                walls.append(time.perf_counter() - t0)
                gpus.append(start.time_till(end) / 1e3)
        wall, gpu = float(np.median(walls)), float(np.median(gpus))
        out[name] = {"wall_p50_ms": round(wall * 1e3, 4), "gpu_p50_ms": round(gpu * 1e3, 4),
                     "gb_per_s": round(frame.nbytes / wall / 1e9, 2)}
    out["pinned_speedup"] = round(out["pageable"]["wall_p50_ms"] / out["pinned"]["wall_p50_ms"], 2)
    device.free()
    pinned.base.free()
    return out


def staging(cuda: Any, reps: int) -> dict[str, float]:
    """p50 ms of copying a 1080p frame (from DRAM) into page-locked memory, per variant."""
    from trt_viewer.backends.trt.frame_buffer import FrameCopier

    frames = distinct_frames()
    out: dict[str, float] = {}
    for wc in (False, True):
        flags = int(cuda.host_alloc_flags.WRITECOMBINED) if wc else 0
        host = cuda.pagelocked_empty(frames[0].shape, np.uint8, mem_flags=flags)
        for threads in (0, 1, 2, 4):  # 0: OpenCV's channel-swapping copy (the default)
            copier = FrameCopier(threads)
            times = []
            for i in range(reps + 10):
                t0 = time.perf_counter()
                copier.copy(host, frames[i % len(frames)])
                if i >= 10:
                    times.append(time.perf_counter() - t0)
            copier.close()
            how = f"{threads}_threads" if threads else "opencv"
            out[f"{'write_combined' if wc else 'cached'}_{how}_ms"] = round(float(np.median(times)) * 1e3, 4)
        host.base.free()
    return out


def standin_tensorrt(engine_ms: float) -> tuple[Any, Any, Any]:
    """The stand-in `tensorrt` module on the real GPU: (device, held primary context,
    TimedCudaMemory). The context stays pushed, so the stand-in's device buffers outlive
    each backend; pop and detach it at the end, and close the memory."""
    import pycuda.driver as cuda
    from fakes.fake_tensorrt import STYLES, Device, make_tensorrt
    from fakes.real_cuda import TimedCudaMemory

    cuda.init()
    dev = cuda.Device(0)
    held = dev.retain_primary_context()
    held.push()
    memory = TimedCudaMemory(cuda, engine_ms)
    major, minor = dev.compute_capability()
    sys.modules["tensorrt"] = make_tensorrt(STYLES["10"], Device(memory, dev.name(), f"{major}.{minor}"))
    return dev, held, memory


def build_engine(onnx_path: Path, folder: Path) -> Path:
    import argparse as ap

    from trt_viewer.cli import build as build_cli

    parser = ap.ArgumentParser()
    build_cli.add_parser(parser.add_subparsers())
    engine = folder / "standin.engine"
    args = parser.parse_args(["build", str(onnx_path), "-o", str(engine)])
    if args.func(args) != 0:
        raise SystemExit("the stand-in engine did not build")
    return engine


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True, help="the ONNX model the stand-in engine is built from")
    ap.add_argument("--source", required=True)
    ap.add_argument("--out", default=".")
    ap.add_argument("--engine-ms", type=float, default=1.0)
    ap.add_argument("--frames", type=int, default=2000)
    ap.add_argument("--cpu-frames", type=int, default=500, help="frames per run with the CPU letterbox")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--warmup", type=int, default=50)
    ap.add_argument("--memory-frames", type=int, default=20000)
    ap.add_argument("--memory-every", type=int, default=1000)
    ap.add_argument("--video", help="a real video file (1080p H.264, tools/make_1080p.py): `bench` decoding it as "
                    "it plays, with the decoder process and with NVDEC")
    args = ap.parse_args()

    import pycuda.driver as cuda

    from trt_viewer.bench.report import format_text
    from trt_viewer.bench.run import BenchOptions, machine, run_bench

    dev, held, memory = standin_tensorrt(args.engine_ms)
    results: dict[str, Any] = {"device": dev.name(), "machine": machine(), "engine_ms": args.engine_ms}
    out = Path(args.out)
    failed = []

    def section(name: str, work: Any) -> None:
        """Run one part; a failure is printed and the other parts still run (device time is scarce)."""
        try:
            work()
        except Exception:
            import traceback

            traceback.print_exc()
            failed.append(name)

    def bench(engine: Path, key: str, gpu_pre: bool, frames: int, draw: bool,
              modes: tuple[str, ...] = ("model", "sequential", "pipeline"), env: dict[str, str] | None = None,
              decode: str | None = None) -> None:
        import os

        saved = {k: os.environ.get(k) for k in env or {}}
        os.environ.update(env or {})
        try:
            if decode is None:  # frames held in memory, resized to 1080p
                opts = BenchOptions(model=str(engine), source=args.source, frames=frames, rounds=args.rounds,
                                    warmup=args.warmup, frame_size=(1920, 1080), gpu_preprocess=gpu_pre, draw=draw,
                                    modes=modes)
            else:  # the video file decoded as it plays
                opts = BenchOptions(model=str(engine), source=args.video, frames=frames, rounds=args.rounds,
                                    warmup=args.warmup, gpu_preprocess=gpu_pre, draw=draw, modes=modes,
                                    decode=decode, qimage=False)
            results[key] = run_bench(opts, progress=lambda line: print(line, flush=True))
            results[key]["setup"]["env"] = env or {}
        finally:
            for k, v in saved.items():
                os.environ.pop(k) if v is None else os.environ.__setitem__(k, v)
        print(f"-- {key} {env or ''}\n{format_text(results[key])}", flush=True)

    def memory_run(engine: Path) -> None:
        from bench_memory import measure

        from trt_viewer.backends import open_backend

        with open_backend(engine) as backend:
            results["memory"] = measure(backend, args.source, args.memory_frames, args.memory_every, True,
                                        (1920, 1080), log=sys.stdout)
        m = results["memory"]
        print(f"memory over {m['frames']} frames ({m['fps']} FPS, letterbox on the {m['letterbox']}): "
              f"RSS growth {m['rss_growth_mb']} MB, free GPU memory change {m.get('gpu_free_change_mb')} MB "
              f"(range {m.get('gpu_free_range_mb')} MB)", flush=True)

    try:
        def copy_run() -> None:
            results["copies"] = copies(cuda, 200)
            print(f"1080p frame host-to-device: {json.dumps(results['copies'])}", flush=True)

        section("copies", copy_run)

        def staging_run() -> None:
            results["staging"] = staging(cuda, 200)
            print(f"1080p frame into page-locked memory, p50 ms: {json.dumps(results['staging'])}", flush=True)

        section("staging", staging_run)
        with tempfile.TemporaryDirectory() as tmp:
            engine = build_engine(Path(args.model), Path(tmp))
            for key, gpu_pre, frames, draw in (("bench_gpu_letterbox", True, args.frames, True),
                                               ("bench_gpu_letterbox_no_draw", True, args.cpu_frames, False),
                                               ("bench_cpu_letterbox", False, args.cpu_frames, True)):
                section(key, partial(bench, engine, key, gpu_pre, frames, draw))
            for wc, threads in (("0", "0"), ("1", "0"), ("1", "1"), ("1", "4")):
                key = f"staging_wc{wc}_threads{threads}"
                env = {"TRT_VIEWER_WRITE_COMBINED": wc, "TRT_VIEWER_COPY_THREADS": threads}
                section(key, partial(bench, engine, key, True, args.cpu_frames * 2, True,
                                     ("sequential", "pipeline"), env))
            if args.video:
                for decode in ("cpu", "nvdec"):
                    for draw in (True, False):
                        key = f"video_{decode}" + ("" if draw else "_no_draw")
                        section(key, partial(bench, engine, key, True, args.cpu_frames, draw,
                                             ("decode", "model", "sequential", "pipeline"), None, decode))
            section("memory", partial(memory_run, engine))
    finally:
        section("close", memory.close)
        results["failed"] = failed
        (out / "gpu_bench.json").write_text(json.dumps(results, indent=1))
        cuda.Context.pop()
        held.detach()
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
