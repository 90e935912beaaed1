"""Memory over a long run: resident memory (RSS) and, on TensorRT, free GPU memory.

The trt_viewer pipeline (reader thread, inference, drawing in a background sink, as
`trt-viewer run` does) processes N frames from memory; RSS and free GPU memory are read
every `--every` frames. Growth is counted from the first sample after the warm-up (the
first `--every` frames: allocators, caches and lazily built tables settle there) to the end.
The goal: RSS grows by at most 20 MB over 20,000 frames, and GPU memory stays flat.

    python benchmarks/bench_memory.py --model M --source people.mp4 --frames 20000 [--json]

(The GPU figures come from benchmarks/bench_gpu.py, which runs this with the stand-in
TensorRT engine on a real GPU.)
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from contextlib import nullcontext
from pathlib import Path
from typing import Any

MIB = 1 << 20


def rss_bytes() -> int:
    """Resident set size of this process, from /proc (Linux), else the peak from getrusage."""
    try:
        with open("/proc/self/status", encoding="ascii") as f:
            for line in f:
                if line.startswith("VmRSS:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    import resource

    return int(resource.getrusage(resource.RUSAGE_SELF).ru_maxrss) * 1024


def children_rss_bytes() -> int:
    """Resident set size of this process's children (the decoder process), from /proc."""
    total = 0
    try:
        tasks = list(Path("/proc/self/task").iterdir())
    except OSError:
        return 0
    pids: set[str] = set()
    for task in tasks:
        try:
            pids.update((task / "children").read_text().split())
        except OSError:
            continue
    for pid in pids:
        try:
            for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                if line.startswith("VmRSS:"):
                    total += int(line.split()[1]) * 1024
        except OSError:
            continue
    return total


def gpu_free_bytes(backend: Any) -> int | None:
    if getattr(backend, "name", "") != "tensorrt":
        return None
    import pycuda.driver as cuda  # the backend's context is current in this thread

    return int(cuda.mem_get_info()[0])


def measure(backend: Any, source_spec: str, frames: int, every: int, gpu_preprocess: bool | None,
            frame_size: tuple[int, int] | None = None, log: Any = sys.stderr,
            decode: str | None = None) -> dict[str, Any]:
    """decode: None serves frames from memory; a decoder (--decode) plays the file itself,
    looping as the viewer does, until `frames` were processed."""
    from trt_viewer.bench.frames import MemorySource, load_frames
    from trt_viewer.core.drawing import draw_detections
    from trt_viewer.run.detector import Detector
    from trt_viewer.run.flight import Result
    from trt_viewer.run.player import Listener, Player, PlayOptions
    from trt_viewer.run.sink import BackgroundSink

    detector = Detector(backend, gpu_preprocess=gpu_preprocess)
    images = load_frames(source_spec, size=frame_size)
    drawn = [0]

    def show(result: Result) -> None:
        draw_detections(result.frame.image.copy(), result.detections, detector.names)
        drawn[0] += 1

    samples: list[dict[str, Any]] = []
    sink: BackgroundSink[Result] = BackgroundSink(show)
    start = time.perf_counter()

    class Sampling(Listener):
        def result(self, result: Result) -> None:
            sink.put(result)
            n = player.frames
            if n % every == 0 or n == frames:
                free = gpu_free_bytes(backend)
                samples.append({"frame": n, "seconds": round(time.perf_counter() - start, 2),
                                "rss_mb": round(rss_bytes() / MIB, 2),
                                "children_rss_mb": round(children_rss_bytes() / MIB, 2),
                                "gpu_free_mb": None if free is None else round(free / MIB, 2)})
                print(f"  {samples[-1]}", file=log, flush=True)
            if n >= frames:
                player.stop()

    if decode is None:
        source = MemorySource(source_spec, images, frames)
        player = Player(Sampling(), PlayOptions(interactive=False))
        player.run(lambda: nullcontext(detector), source_spec, lambda spec: source)
    else:  # the viewer's way through a file: looped, every frame kept for the view
        player = Player(Sampling(), PlayOptions(interactive=True, loop=True, decode=decode))
        player.run(lambda: nullcontext(detector), source_spec)
    sink.close()
    base, last = samples[0], samples[-1]
    report = {
        "frames": frames,
        "drawn": drawn[0],
        "fps": round(frames / (time.perf_counter() - start), 1),
        "letterbox": "GPU" if detector.cpu_letterbox_reason is None else f"CPU ({detector.cpu_letterbox_reason})",
        "rss_growth_mb": round(last["rss_mb"] - base["rss_mb"], 2),
        "rss_max_mb": max(s["rss_mb"] for s in samples),
        # The decoder process's own memory (decode="cpu"), sampled beside this one's.
        "children_rss_growth_mb": round(last["children_rss_mb"] - base["children_rss_mb"], 2),
        "samples": samples,
    }
    if base["gpu_free_mb"] is not None:
        frees = [s["gpu_free_mb"] for s in samples]
        report["gpu_free_change_mb"] = round(last["gpu_free_mb"] - base["gpu_free_mb"], 2)
        report["gpu_free_range_mb"] = round(max(frees) - min(frees), 2)
    return report


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--model", required=True)
    ap.add_argument("--source", required=True)
    ap.add_argument("--frames", type=int, default=20000)
    ap.add_argument("--every", type=int, default=1000)
    ap.add_argument("--frame-size", type=int, nargs=2, metavar=("W", "H"))
    ap.add_argument("--json", action="store_true")
    ap.add_argument("--decode", help="decode the file as it plays with this decoder (default: frames from memory)")
    args = ap.parse_args()
    sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
    from trt_viewer.backends import open_backend
    from trt_viewer.bench.run import machine

    with open_backend(args.model) as backend:
        report = measure(backend, args.source, args.frames, args.every, None,
                         tuple(args.frame_size) if args.frame_size else None, decode=args.decode)
    report["machine"] = machine()
    report["backend"] = backend.name
    if args.json:
        print(json.dumps(report))
    else:
        print(f"{report['frames']} frames at {report['fps']} FPS ({report['backend']}, letterbox on the "
              f"{report['letterbox']}); RSS {report['samples'][0]['rss_mb']} MB after {args.every} frames, "
              f"{report['samples'][-1]['rss_mb']} MB at the end: growth {report['rss_growth_mb']} MB; "
              f"{report['machine']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
