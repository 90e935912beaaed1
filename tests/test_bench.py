"""`trt-viewer bench`: what it measures and reports, on ONNX Runtime, on the TensorRT
doubles (GPU times from events, GPU preprocessing) and on the real model where the test
data is. Timings themselves are never asserted (shared machines are noisy): the tests
check that each mode ran what it claims and that the report's arithmetic is right."""

from __future__ import annotations

import json
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from fakes.fake_pycuda import FakeGpu
from fakes.fixtures import run_cli
from modelgen import moving_square_frames, write_video

from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
from trt_viewer.backends.trt import gpu_letterbox
from trt_viewer.bench import loops
from trt_viewer.bench.frames import MemorySource
from trt_viewer.bench.loops import Run
from trt_viewer.bench.report import derive, summarize
from trt_viewer.run.detector import Detector

ROOT = Path(__file__).resolve().parents[1]


def bench_cli(argv: list[str], capsys: pytest.CaptureFixture[str]) -> tuple[int, str, str]:
    """`trt-viewer bench ARGV` in-process."""
    return run_cli(["bench", *argv], capsys)


@pytest.fixture(autouse=True)
def fresh_kernel_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_letterbox, "_compiled", {})


def test_the_report_counts_fps_ratios_and_the_derived_figures() -> None:
    def run(mode: str, fps: float, samples: list[dict[str, float]]) -> Run:
        return Run(mode, frames=len(samples), seconds=len(samples) / fps, samples=samples)

    gpu_frame = {"preprocess": 0.0004, "enqueue": 0.0001, "execute": 0.00004, "wait": 0.0012, "fetch": 0.00005,
                 "infer": 0.00135, "compute": 0.001, "postprocess": 0.0003}
    runs = {
        "model": [run("model", 100, [{"infer": 0.01, "compute": 0.001}] * 4), run("model", 120, [{"infer": 0.01}] * 4)],
        "sequential": [run("sequential", 50, [gpu_frame] * 4), run("sequential", 70, [gpu_frame] * 4)],
        "pipeline": [run("pipeline", 90, [gpu_frame] * 4), run("pipeline", 99, [gpu_frame] * 4)],
    }
    report = summarize(runs)
    assert [report["modes"][m]["fps"] for m in ("model", "sequential", "pipeline")] == [110.0, 60.0, 94.5]
    assert report["ratios"] == {"pipeline/sequential": round(94.5 / 60, 3), "pipeline/model": round(94.5 / 110, 3),
                                "sequential/model": round(60 / 110, 3)}
    assert [report["modes"][m]["fps_best"] for m in ("model", "sequential", "pipeline")] == [120.0, 70.0, 99.0]
    assert report["ratios_best"] == {"pipeline/sequential": round(99 / 70, 3), "pipeline/model": round(99 / 120, 3),
                                     "sequential/model": round(70 / 120, 3)}
    stages = report["modes"]["sequential"]["stages"]
    assert stages["host"]["p50_ms"] == pytest.approx(0.4 + 0.1 - 0.04 + 0.05 + 0.3)
    assert stages["outside_engine"]["p50_ms"] == pytest.approx(0.4 + 1.35 + 0.3 - 1.0)
    assert "outside_engine" not in report["modes"]["pipeline"]["stages"]  # its infer also waits for frame N-1
    assert report["engine"] == {"compute_p50_ms": 1.0, "fps_at_engine_time": 1000.0,
                                "pipeline_vs_engine": pytest.approx(0.0945, abs=1e-3)}
    assert derive({"infer": 0.01}, "sequential") == {"infer": 0.01}  # ONNX Runtime: nothing to derive


def test_bench_on_onnxruntime_measures_four_modes(models: dict[str, Path], square_video: Path,
                                                   capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = bench_cli(["--model", str(models["raw"]), "--source", str(square_video), "--frames", "12",
                                "--rounds", "2", "--warmup", "2", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    modes = report["modes"]
    assert list(modes) == ["decode", "model", "sequential", "pipeline"]
    assert all(len(m["fps_rounds"]) == 2 and m["fps"] > 0 for m in modes.values())
    assert [m["frames"] for m in modes.values()] == [24, 24, 24, 24]
    assert set(modes["decode"]["stages"]) == {"read"}  # decoding alone: reads, nothing else
    assert set(modes["model"]["stages"]) == {"infer"}
    shown = {"draw", "qimage"} if report["setup"]["qimage"] else {"draw"}
    assert set(modes["sequential"]["stages"]) == {"read", "preprocess", "infer", "postprocess"} | shown
    assert set(modes["pipeline"]["stages"]) == {"read", "preprocess", "infer", "postprocess"} | shown
    assert set(report["ratios"]) == {"pipeline/sequential", "pipeline/model", "sequential/model", "pipeline/decode",
                                     "pipeline/ceiling"}
    ceiling = min(modes["decode"]["fps"], modes["model"]["fps"])
    assert report["ratios"]["pipeline/ceiling"] == pytest.approx(modes["pipeline"]["fps"] / ceiling, abs=1e-3)
    assert report["setup"]["backend"] == "onnxruntime"
    assert report["setup"]["letterbox"] == "CPU (the onnxruntime backend letterboxes on the CPU)"
    assert report["setup"]["frame_size"] == [96, 64] and not report["setup"]["in_memory"]
    assert err.count("round ") == 2


def test_bench_text_report_and_options(models: dict[str, Path], square_video: Path,
                                       capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = bench_cli(["--model", str(models["raw"]), "--source", str(square_video), "--frames", "5",
                                "--rounds", "1", "--warmup", "0", "--modes", "sequential,pipeline",
                                "--frame-size", "192", "128", "--no-qimage"], capsys)
    assert code == 0, err
    assert "FPS" in out and "pipeline/sequential" in out and "pipeline/model" not in out
    assert "from memory" in out and "192x128 frames" in out
    assert "qimage" not in out.split("note:")[0] and "note: QImage conversion left out (--no-qimage)" in out
    code, _, err = bench_cli(["--model", str(models["raw"]), "--source", str(square_video), "--modes", "model,gpu"],
                             capsys)
    assert code == 2
    assert err.strip() == "trt-viewer: error: unknown mode(s) gpu; choose from decode, model, sequential, pipeline"
    code, _, err = bench_cli(["--model", str(models["raw"]), "--source", "/nonexistent.mp4"], capsys)
    assert code == 2 and "does not exist" in err and len(err.strip().splitlines()) == 1


@pytest.mark.parametrize("nvcc", [True, False], ids=["gpu-letterbox", "no-nvcc"])
def test_bench_on_tensorrt_reports_gpu_times_from_events(
        nvcc: bool, models: dict[str, Path], build: Any, gpu: FakeGpu, square_video: Path,
        tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    gpu.nvcc = nvcc
    engine = build(models["raw"], tmp_path / "raw.engine")
    code, out, err = bench_cli(["--model", str(engine), "--source", str(square_video), "--frames", "6",
                                "--rounds", "1", "--warmup", "1", "--json", "--in-memory"], capsys)
    assert code == 0, err
    report = json.loads(out)
    gpu_stages = {"enqueue", "execute", "wait", "fetch", "h2d", "compute", "d2h", "gpu_idle", "submit_late"}
    assert gpu_stages | {"infer", "host", "outside_engine"} == set(report["modes"]["model"]["stages"])
    sequential, pipeline = (set(report["modes"][m]["stages"]) for m in ("sequential", "pipeline"))
    assert gpu_stages | {"host", "outside_engine", "read", "preprocess", "postprocess"} <= sequential
    assert gpu_stages | {"host", "read", "preprocess", "postprocess"} <= pipeline
    assert ("gpu_letterbox" in sequential) == nvcc and ("gpu_letterbox" in pipeline) == nvcc
    assert report["setup"]["letterbox"] == (
        "GPU (CUDA kernel)" if nvcc else "CPU (nvcc (the CUDA toolkit) was not found)")
    assert report["setup"]["lanes"] == 2 and report["setup"]["in_memory"]
    assert set(report["engine"]) == {"compute_p50_ms", "fps_at_engine_time", "pipeline_vs_engine"}
    assert len(gpu.launches) == (6 + 1 + 6 + 1 if nvcc else 0)  # sequential and pipeline, warm-up included
    code, out, _ = bench_cli(["--model", str(engine), "--source", str(square_video), "--frames", "3", "--rounds",
                              "1", "--json", "--no-gpu-preprocess", "--modes", "sequential"], capsys)
    assert json.loads(out)["setup"]["letterbox"] == "CPU (turned off)"


def test_the_gpu_benchmark_script_runs_on_the_doubles(
        models: dict[str, Path], gpu: FakeGpu, square_video: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]) -> None:
    """benchmarks/bench_gpu.py, with the fake GPU in place of pycuda and of the timed engine."""
    import fakes.real_cuda

    class FakeTimedMemory:
        def __init__(self, cuda: Any, ms: float = 1.0) -> None:
            self.closed = False

        def __getattr__(self, name: str) -> Any:
            return getattr(gpu, name)

        def close(self) -> None:
            self.closed = True

    gpu.nvcc = True
    monkeypatch.setattr(fakes.real_cuda, "TimedCudaMemory", FakeTimedMemory)
    monkeypatch.setitem(sys.modules, "tensorrt", None)  # restored after the script replaces it
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    monkeypatch.setattr(sys, "argv", ["bench_gpu.py", "--model", str(models["coco"]), "--source", str(square_video),
                                      "--out", str(tmp_path), "--frames", "4", "--cpu-frames", "3", "--rounds", "1",
                                      "--memory-frames", "6", "--memory-every", "3", "--warmup", "1",
                                      "--video", str(write_video(tmp_path / "squares.mp4", moving_square_frames(24)))])
    from fakes.fake_nvc import make_nvc

    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", make_nvc(gpu))
    import bench_gpu

    assert bench_gpu.main() == 0
    results = json.loads((tmp_path / "gpu_bench.json").read_text())
    assert results["copies"]["bytes"] == 1920 * 1080 * 3 and results["copies"]["pinned_speedup"] > 0
    assert results["bench_gpu_letterbox"]["setup"]["letterbox"] == "GPU (CUDA kernel)"
    assert results["bench_cpu_letterbox"]["setup"]["letterbox"] == "CPU (turned off)"
    assert "draw" not in results["bench_gpu_letterbox_no_draw"]["modes"]["pipeline"]["stages"]
    assert results["bench_gpu_letterbox"]["setup"]["frame_size"] == [1920, 1080]
    assert [s["frame"] for s in results["memory"]["samples"]] == [3, 6]
    video = results["video_nvdec_no_draw"]
    assert video["setup"]["decode"] == "nvdec" and not video["setup"]["in_memory"]
    assert video["modes"]["pipeline"]["frames_to_host"] == 0 and results["video_nvdec"]["modes"]["pipeline"][
        "frames_to_host"] > 0
    assert results["video_cpu"]["setup"]["decode"] == "cpu" and "decode" in results["video_cpu"]["modes"]
    assert {"rss_growth_mb", "gpu_free_change_mb", "gpu_free_range_mb"} <= set(results["memory"])
    assert set(results["staging"]) == {f"{kind}_{how}_ms" for kind in ("cached", "write_combined")
                                       for how in ("opencv", "1_threads", "2_threads", "4_threads")}
    variant = results["staging_wc1_threads4"]
    assert variant["setup"]["env"] == {"TRT_VIEWER_WRITE_COMBINED": "1", "TRT_VIEWER_COPY_THREADS": "4"}
    assert list(variant["modes"]) == ["sequential", "pipeline"]
    assert results["failed"] == []
    assert gpu.retained == 0 and gpu.used == 0 and gpu.pinned_bytes == 0


def test_bench_on_the_real_model(data_dir: Path, capsys: pytest.CaptureFixture[str]) -> None:
    code, out, err = bench_cli(["--model", str(data_dir / "models" / "yolox_nano.onnx"), "--source",
                                str(data_dir / "media" / "people.mp4"), "--frames", "8", "--rounds", "1",
                                "--warmup", "2", "--json"], capsys)
    assert code == 0, err
    report = json.loads(out)
    assert report["setup"]["input_size"] == [416, 416] and report["setup"]["frame_size"] == [768, 432]
    assert all(report["modes"][m]["frames"] == 8 for m in ("model", "sequential", "pipeline"))
    assert np.isfinite(list(report["ratios"].values())).all()


def test_the_real_video_benchmark_script_runs_on_the_doubles(
        models: dict[str, Path], gpu: FakeGpu, square_video: Path, tmp_path: Path,
        monkeypatch: pytest.MonkeyPatch) -> None:
    """benchmarks/bench_video.py (the pipeline on a decoded file under thread settings), on the fake GPU."""
    import fakes.real_cuda

    class FakeTimedMemory:
        def __init__(self, cuda: Any, ms: float = 1.0) -> None:
            pass

        def __getattr__(self, name: str) -> Any:
            return getattr(gpu, name)

        def close(self) -> None:
            pass

    gpu.nvcc = True
    monkeypatch.setattr(fakes.real_cuda, "TimedCudaMemory", FakeTimedMemory)
    monkeypatch.setitem(sys.modules, "tensorrt", None)
    monkeypatch.syspath_prepend(str(ROOT / "benchmarks"))
    monkeypatch.setattr(sys, "argv", ["bench_video.py", "--model", str(models["coco"]), "--source", str(square_video),
                                      "--out", str(tmp_path), "--frames", "8", "--warmup", "2", "--rounds", "1",
                                      "--variants", "base,cv_1,decode_2+cv_2,ahead_4,no_draw+blocking"])
    import bench_video

    assert bench_video.main() == 0
    variants = json.loads((tmp_path / "video_bench.json").read_text())["variants"]
    assert list(variants) == ["base", "cv_1", "decode_2+cv_2", "ahead_4", "no_draw+blocking"]
    for report in variants.values():
        assert not report["setup"]["in_memory"] and report["modes"]["decode"]["frames"] == 8
        assert "pipeline/ceiling" in report["ratios"]
    assert "draw" not in variants["no_draw+blocking"]["modes"]["pipeline"]["stages"]


def test_bench_counts_frames_a_gpu_decoder_copied_to_the_host(models: dict[str, Path], build: Any, gpu: FakeGpu,
                                                             square_video: Path, tmp_path: Path,
                                                             monkeypatch: pytest.MonkeyPatch,
                                                             capsys: pytest.CaptureFixture[str]) -> None:
    import sys

    from fakes.fake_nvc import make_nvc

    monkeypatch.setitem(sys.modules, "PyNvVideoCodec", make_nvc(gpu))
    gpu.nvcc = True
    engine = build(models["raw"], tmp_path / "raw.engine")
    video = write_video(tmp_path / "squares.mp4", moving_square_frames(24))  # MJPEG is refused: full range
    for draw, expected in (("--no-draw", 0), ("--no-qimage", 6)):
        code, out, err = bench_cli(["--model", str(engine), "--source", str(video), "--frames", "6",
                                    "--rounds", "1", "--warmup", "1", "--json", "--decode", "nvdec", draw], capsys)
        assert code == 0, err
        report = json.loads(out)
        modes = report["modes"]
        assert modes["decode"]["frames_to_host"] == 0 and report["setup"]["decode"] == "nvdec"
        assert modes["pipeline"]["frames_to_host"] == expected + (1 if expected else 0)  # warm-up frame too
        assert modes["pipeline"]["cpu_ms_per_frame"] > 0


class _SlowToClose(MemorySource):
    """A source whose frames come at once and whose close() takes 0.4 s, as a decoder
    process ending or NVDEC's thread being joined does (0.1-0.2 s on the H200)."""

    def close(self) -> None:
        time.sleep(0.4)
        super().close()


@pytest.mark.parametrize("mode", ["decode", "sequential", "pipeline"])
def test_a_run_ends_at_its_last_frame_not_when_the_source_is_closed(
        mode: str, models: dict[str, Path]) -> None:
    images = [np.full((64, 64, 3), 114, np.uint8)]
    source = _SlowToClose("slow", images, length=24)
    if mode == "decode":
        run = loops.decode_alone(source, frames=20, warmup=4)
    else:
        with OnnxRuntimeBackend(models["raw"]) as backend:
            detector = Detector(backend)
            if mode == "sequential":
                run = loops.sequential(detector, source, frames=20, warmup=4, display=None)
            else:
                run = loops.pipeline(detector, source, frames=20, warmup=4, display=None)
    assert run.frames >= 20
    assert run.seconds < 0.3, f"{mode}: {run.seconds:.2f} s for 20 small frames: the source's close() was timed"
    assert 0 < run.cpu_seconds < 0.3
