"""Several streams against one Triton model: total FPS for 1, 2 and 4 streams, and the batch
sizes the server ran (from its inference statistics), beside the same streams on in-process
ONNX Runtime.

    python benchmarks/bench_triton_streams.py [--data ../shared] [--frames 200] [--rounds 2]
        [--streams 1,2,4] [--queue-delay-us 500] [--out benchmarks/results/cpu_triton_streams.json]

Starts the project's test server (tests/triton_server.py: tritonserver 2.51 through PyTriton,
YOLOX-Nano in ONNX Runtime inside a bound function, dynamic batching up to 8, one model
instance) on free 127.0.0.1 ports; each measurement is `trt-viewer run --model grpc://...
--source people.mp4` repeated N times (--max-frames per stream), timed by the run's own
summary; the configurations are interleaved over the rounds and their means reported.
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
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tests"))

from triton_server import Served, TritonServer  # noqa: E402


def batch_stats(server: TritonServer, model: str) -> dict[int, int]:
    import tritonclient.grpc as grpcclient

    with grpcclient.InferenceServerClient(f"127.0.0.1:{server.grpc_port}") as client:
        stats = client.get_inference_statistics(model, as_json=True)["model_stats"][0]
    return {int(b["batch_size"]): int(b["compute_infer"]["count"]) for b in stats.get("batch_stats", [])}


def run(model: str, source: Path, streams: int, frames: int) -> dict[str, Any]:
    argv = [sys.executable, "-m", "trt_viewer", "run", "--model", model, "--max-frames", str(frames), "-q",
            "--json-summary"]
    for _ in range(streams):
        argv += ["--source", str(source)]
    started = time.perf_counter()
    done = subprocess.run(argv, capture_output=True, text=True, cwd=ROOT, timeout=600)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(argv)} failed:\n{done.stderr}")
    summary = json.loads(done.stdout.strip().splitlines()[-1])
    if "streams" not in summary:  # a run of one source sums itself up without a list of streams
        summary["streams"] = [dict(summary)]
    summary["wall_s"] = time.perf_counter() - started
    return summary


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data", type=Path, default=ROOT.parent / "shared")
    parser.add_argument("--frames", type=int, default=200, help="frames per stream")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--streams", default="1,2,4")
    parser.add_argument("--queue-delay-us", type=int, default=500)
    parser.add_argument("--out", type=Path, default=ROOT / "benchmarks/results/cpu_triton_streams.json")
    args = parser.parse_args()
    model_file = (args.data / "models/yolox_nano.onnx").resolve()
    source = (args.data / "media/people.mp4").resolve()
    counts = [int(n) for n in args.streams.split(",")]
    served = [Served("yolox_nano", model_file, queue_delay_us=args.queue_delay_us)]
    rows: dict[tuple[str, int], list[dict[str, Any]]] = {}
    with TritonServer(served) as server:
        url = f"{server.grpc_url}/yolox_nano"
        run(url, source, 1, 20)  # warm-up: the model's first batches, the client's imports
        for _ in range(args.rounds):
            for n in counts:
                for kind, model in (("triton", url), ("onnxruntime", str(model_file))):
                    before = batch_stats(server, "yolox_nano")
                    summary = run(model, source, n, args.frames)
                    after = batch_stats(server, "yolox_nano")
                    batches = {size: after.get(size, 0) - before.get(size, 0) for size in after}
                    summary["server_batches"] = {size: c for size, c in sorted(batches.items()) if c}
                    rows.setdefault((kind, n), []).append(summary)
                    print(f"{kind} x{n}: {summary['fps']:.1f} FPS total, batches {summary['server_batches']}",
                          file=sys.stderr)
    results = []
    for (kind, n), runs in sorted(rows.items(), key=lambda item: (item[0][0] != "triton", item[0][1])):
        batches: dict[int, int] = {}
        for r in runs:
            for size, c in r["server_batches"].items():
                batches[size] = batches.get(size, 0) + c
        executions = sum(batches.values())
        results.append({
            "model": kind, "streams": n,
            "total_fps": round(statistics.mean(r["fps"] for r in runs), 1),
            "per_stream_fps": round(statistics.mean(s["fps"] for r in runs for s in r["streams"]), 1),
            "infer_p50_ms": round(statistics.mean(s["stages"]["infer"]["p50_ms"] for r in runs for s in r["streams"]),
                                  1),
            "server_batches": {str(k): v for k, v in sorted(batches.items())},
            "mean_batch": round(sum(k * v for k, v in batches.items()) / executions, 2) if executions else None,
            "rounds": [r["fps"] for r in runs],
        })
    record = {
        "machine": {"cpu": platform.processor() or platform.machine(), "cores": os.cpu_count(),
                    "python": platform.python_version()},
        "settings": {"frames_per_stream": args.frames, "rounds": args.rounds, "source": source.name,
                     "model": model_file.name, "queue_delay_us": args.queue_delay_us, "lanes": 4,
                     "server": "tritonserver 2.51 (PyTriton 0.7), ONNX Runtime in a bound function, 1 instance"},
        "results": results,
    }
    args.out.write_text(json.dumps(record, indent=1) + "\n")
    print("| model | streams | total FPS | per stream FPS | infer p50 ms | server batches (size: count) | mean batch |")
    print("| --- | --- | --- | --- | --- | --- | --- |")
    for r in results:
        batches = ", ".join(f"{k}: {v}" for k, v in r["server_batches"].items()) or "-"
        print(f"| {r['model']} | {r['streams']} | {r['total_fps']} | {r['per_stream_fps']} | {r['infer_p50_ms']} | "
              f"{batches} | {r['mean_batch'] or '-'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
