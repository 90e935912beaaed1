"""From per-frame stage times to the report: FPS per mode, stage p50/p95, ratios.

Stages (milliseconds in the report):
  read           source.read(): video decode, or next to nothing from memory (decode alone:
                 only this)
  preprocess     CPU letterbox into the input tensor; with GPU preprocessing only the copy
                 of the raw frame into its page-locked buffer
  enqueue        host time to queue the copies, the letterbox kernel and execute_async_v3
  execute        the part of enqueue spent inside execute_async_v3 (the engine's own call)
  h2d, gpu_letterbox, compute, d2h
                 GPU time between CUDA events: host-to-device copy, letterbox kernel,
                 the engine, device-to-host copies (TensorRT)
  gpu_idle, submit_late
                 the engine idle between the previous frame's compute and this one's, and
                 the part of it before the host had queued this frame (TensorRT; their
                 means are in the JSON, idle that comes every few frames hides in a p50)
  wait, fetch    host time blocked on the GPU; copying the outputs out of pinned memory
  infer          host wall time of the whole inference call(s)
  postprocess    decode + score + per-class NMS + mapping boxes back to the frame
  draw, qimage   boxes drawn on a copy of the frame; that frame converted to a QImage
Derived per frame:
  host           host time outside the engine: preprocess + enqueue - execute + fetch +
                 postprocess (TensorRT; read, draw and qimage are reported on their own)
  outside_engine latency outside the engine, one frame at a time: preprocess + infer +
                 postprocess - compute (TensorRT, model and sequential modes)
"""

from __future__ import annotations

import statistics
from typing import Any

import numpy as np

from trt_viewer.bench.loops import Run

MODES = ("decode", "model", "sequential", "pipeline")
STAGES = ("read", "preprocess", "enqueue", "execute", "h2d", "gpu_letterbox", "compute", "gpu_idle", "submit_late",
          "d2h", "wait", "fetch", "infer", "postprocess", "draw", "qimage", "host", "outside_engine")


def derive(sample: dict[str, float], mode: str) -> dict[str, float]:
    out = dict(sample)
    if "enqueue" in out:
        out["host"] = sum(out.get(k, 0.0) for k in ("preprocess", "enqueue", "fetch", "postprocess")) - out.get(
            "execute", 0.0)
    if "compute" in out and mode != "pipeline":  # in the pipeline, infer also waits for the frame before
        out["outside_engine"] = sum(out.get(k, 0.0) for k in ("preprocess", "infer", "postprocess")) - out["compute"]
    return out


def stage_table(samples: list[dict[str, float]]) -> dict[str, dict[str, float]]:
    names = [s for s in STAGES if any(s in x for x in samples)]
    names += sorted({k for x in samples for k in x} - set(names))
    table = {}
    for name in names:
        values = np.array([x[name] for x in samples if name in x]) * 1e3
        p50, p95 = np.percentile(values, [50, 95])
        table[name] = {"p50_ms": round(float(p50), 4), "p95_ms": round(float(p95), 4),
                       "mean_ms": round(float(values.mean()), 4)}
    return table


def summarize(runs: dict[str, list[Run]]) -> dict[str, Any]:
    modes: dict[str, Any] = {}
    for mode in MODES:
        if not runs.get(mode):
            continue
        rounds = runs[mode]
        samples = [derive(s, mode) for r in rounds for s in r.samples]
        modes[mode] = {
            "fps": round(statistics.median(r.fps for r in rounds), 2),
            "fps_best": round(max(r.fps for r in rounds), 2),
            "fps_rounds": [round(r.fps, 2) for r in rounds],
            "frames": sum(r.frames for r in rounds),
            # CPU time of the whole process per frame (every thread, a decoder process not
            # included), and frames a GPU decoder copied to the host: what a frame costs the host.
            "cpu_ms_per_frame": round(statistics.median(r.cpu_seconds / r.frames * 1e3 if r.frames else 0.0
                                                        for r in rounds), 3),
            "frames_to_host": sum(r.downloads for r in rounds),
            "stages": stage_table(samples) if samples else {},
        }
    # Two ratios: of the medians, and of each mode's best round. On a shared machine other
    # work only ever slows a round down, so the best rounds are the closest to what the
    # machine can do when it is quiet (timeit's reasoning); the medians show the typical run.
    report: dict[str, Any] = {"modes": modes, "ratios": {}, "ratios_best": {}}
    for a, b in (("pipeline", "sequential"), ("pipeline", "model"), ("sequential", "model"), ("pipeline", "decode")):
        if a in modes and b in modes and modes[b]["fps"] > 0:
            report["ratios"][f"{a}/{b}"] = round(modes[a]["fps"] / modes[b]["fps"], 3)
            report["ratios_best"][f"{a}/{b}"] = round(modes[a]["fps_best"] / modes[b]["fps_best"], 3)
    if "pipeline" in modes and "decode" in modes and "model" in modes:
        # The real ceiling: the pipeline can go no faster than the slower of the two.
        for key, fps in (("ratios", "fps"), ("ratios_best", "fps_best")):
            ceiling = min(modes["decode"][fps], modes["model"][fps])
            if ceiling > 0:
                report[key]["pipeline/ceiling"] = round(modes["pipeline"][fps] / ceiling, 3)
    engine = [s["compute"] for mode in ("model", "sequential") for r in runs.get(mode, []) for s in r.samples
              if "compute" in s]
    if engine:
        compute = float(np.median(engine))
        report["engine"] = {"compute_p50_ms": round(compute * 1e3, 4), "fps_at_engine_time": round(1 / compute, 1)}
        if "pipeline" in modes:
            report["engine"]["pipeline_vs_engine"] = round(modes["pipeline"]["fps"] * compute, 3)
    return report


def format_text(report: dict[str, Any]) -> str:
    info = report["setup"]
    lines = [
        f"{info['model']} on {info['source']} ({info['frames_per_run']} frames per run, "
        f"{info['rounds']} rounds, {info['frame_size'][0]}x{info['frame_size'][1]} frames"
        f"{', from memory' if info['in_memory'] else ''})",
        f"backend {info['backend']} ({info['precision']}), input {info['input_size'][0]}x{info['input_size'][1]}, "
        f"letterbox on the {info['letterbox']}",
        f"machine: {info['machine']}",
        "",
    ]
    modes = report["modes"]
    stages = [s for s in STAGES if any(s in m["stages"] for m in modes.values())]
    width = max([len(s) for s in stages] + [11])
    lines.append(f"{'':{width}}  " + "  ".join(f"{m:>17}" for m in modes))
    lines.append(f"{'FPS (median)':{width}}  " + "  ".join(f"{m['fps']:>17.1f}" for m in modes.values()))
    lines.append(f"{'FPS (best)':{width}}  " + "  ".join(f"{m['fps_best']:>17.1f}" for m in modes.values()))
    lines.append(f"{'CPU ms/frame':{width}}  " + "  ".join(f"{m['cpu_ms_per_frame']:>17.3f}" for m in modes.values()))
    lines.append(f"{'to host':{width}}  " + "  ".join(f"{m['frames_to_host']:>17d}" for m in modes.values()))
    lines.append(f"{'ms p50/p95':{width}}")
    for stage in stages:
        cells = []
        for m in modes.values():
            v = m["stages"].get(stage)
            cells.append(f"{v['p50_ms']:>8.3f}/{v['p95_ms']:<8.3f}" if v else f"{'-':>17}")
        lines.append(f"{stage:{width}}  " + "  ".join(cells))
    lines.append("")
    for name, value in report["ratios"].items():
        lines.append(f"{name:22s} {value:.3f} of the medians, {report['ratios_best'][name]:.3f} of the best rounds")
    engine = report.get("engine")
    if engine:
        lines.append(f"engine (compute p50)   {engine['compute_p50_ms']:.3f} ms = "
                     f"{engine['fps_at_engine_time']:.0f} FPS")
        if "pipeline_vs_engine" in engine:
            lines.append(f"pipeline x engine time {engine['pipeline_vs_engine']:.3f}")
    for note in info.get("notes", []):
        lines.append(f"note: {note}")
    return "\n".join(lines)
