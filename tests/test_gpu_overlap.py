"""Frames in flight on the TensorRT backend, on the doubles: submit() runs ahead, collect()
waits only for its own frame and returns in order, each lane keeps its own buffers, the
pipeline submits one frame ahead without holding a live frame back, and stopping early
leaves nothing on the GPU. (On a real GPU: test_gpu_speed.py.)"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import nullcontext
from pathlib import Path
from typing import Any

import modelgen
import numpy as np
import pytest
from fakes.fake_pycuda import FakeGpu
from fakes.fake_tensorrt import STYLES, Device, fake_plan
from fakes.fixtures import build, gpu, run_cli, trt, trt_style  # noqa: F401 - fixtures
from modelgen import moving_square_frames

from trt_viewer.backends.base import HostInput
from trt_viewer.backends.onnxruntime import OnnxRuntimeBackend
from trt_viewer.backends.tensorrt import TensorRTBackend
from trt_viewer.backends.trt import gpu_letterbox
from trt_viewer.core.sources import Frame, Source
from trt_viewer.errors import InputError, RunError
from trt_viewer.run.detector import Detector
from trt_viewer.run.flight import Result
from trt_viewer.run.player import Listener, Player, PlayOptions

Build = Callable[..., Path]


@pytest.fixture(autouse=True)
def fresh_kernel_cache(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(gpu_letterbox, "_compiled", {})


@pytest.fixture(scope="module")
def raw_onnx(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return modelgen.yolox_model(tmp_path_factory.mktemp("onnx") / "raw.onnx")


@pytest.fixture
def engine(build: Build, raw_onnx: Path, tmp_path: Path) -> Path:  # noqa: F811
    return build(raw_onnx, tmp_path / "raw.engine")


def _input(backend: Any, seed: int) -> HostInput:
    buf = backend.allocate_input()
    buf.array[:] = np.random.default_rng(seed).uniform(0, 255, buf.array.shape).astype(buf.array.dtype)
    return buf


def assert_released(gpu: FakeGpu) -> None:  # noqa: F811
    assert gpu.used == 0 and gpu.pinned_bytes == 0 and gpu.retained == 0 and gpu.stack == []


def test_frames_in_flight_come_back_in_order_each_with_its_own_outputs(
        engine: Path, raw_onnx: Path, gpu: FakeGpu) -> None:  # noqa: F811
    with TensorRTBackend(engine) as backend, OnnxRuntimeBackend(raw_onnx) as reference:
        assert backend.lanes == 2
        a, b = _input(backend, 1), _input(backend, 2)
        first, second = backend.submit(a), backend.submit(b)
        with pytest.raises(RunError, match="2 frames are already in flight: collect"):
            backend.submit(a)
        with pytest.raises(RunError, match="in the order they were submitted"):
            backend.collect(second)
        with pytest.raises(RunError, match="infer\\(\\) with 2 frame\\(s\\) in flight"):
            backend.infer(a)
        got_a, got_b = backend.collect(first), backend.collect(second)
        np.testing.assert_array_equal(got_a["output"], reference.infer(np.array(a.array))["output"])
        np.testing.assert_array_equal(got_b["output"], reference.infer(np.array(b.array))["output"])
        assert not np.array_equal(got_a["output"], got_b["output"])
        np.testing.assert_array_equal(backend.infer(a)["output"], got_a["output"])  # usable as before
    assert_released(gpu)


def test_collect_waits_only_for_its_own_frame(engine: Path, gpu: FakeGpu) -> None:  # noqa: F811
    """Copy up, compute and copy down run on three streams ordered by events: collecting
    frame N runs N's work and leaves N+1's queued (the fake GPU runs work only when
    something waits for it)."""
    with TensorRTBackend(engine) as backend:
        first, second = backend.submit(_input(backend, 1)), backend.submit(_input(backend, 2))
        streams = backend._streams.all()
        assert all(s._queue for s in streams), "submit() waited for the GPU"
        backend.collect(first)
        assert backend._streams.compute._queue, "frame N+1's compute ran when frame N was collected"
        assert all(not q.query() for q in (second.lane.events["computed"], second.lane.events["done"]))
        backend.collect(second)
        assert not any(s._queue for s in streams)


def test_gpu_timings_come_from_events_when_asked(engine: Path, gpu: FakeGpu) -> None:  # noqa: F811
    with TensorRTBackend(engine) as backend:
        backend.infer(_input(backend, 1))
        assert set(backend.last_timings) == {"enqueue", "wait", "fetch"}
        backend.gpu_timing = True
        backend.infer(_input(backend, 1))
        timings = backend.last_timings
        assert set(timings) == {"enqueue", "execute", "wait", "fetch", "h2d", "compute", "d2h"}
        assert all(v >= 0 for v in timings.values())
        # the fake GPU runs the engine (ONNX Runtime) inside the wait: compute is part of it
        assert timings["compute"] <= timings["wait"] + 1e-3
        # After a timed frame, the engine's idle time before the next one: here the host
        # sleeps before submitting, so the engine stood idle at least that long, and all of
        # it before the frame was queued.
        time.sleep(0.05)
        backend.infer(_input(backend, 2))
        idle, late = backend.last_timings["gpu_idle"], backend.last_timings["submit_late"]
        assert 0.05 <= idle < 1.0 and 0.05 <= late <= idle
        backend.gpu_timing = False  # an untimed frame between: no idle measured across it
        backend.infer(_input(backend, 1))
        backend.gpu_timing = True
        backend.infer(_input(backend, 1))
        assert "gpu_idle" not in backend.last_timings and "compute" in backend.last_timings


def test_a_new_input_shape_with_frames_in_flight_is_refused(gpu: FakeGpu, trt: Any, tmp_path: Path) -> None:  # noqa: F811
    dynamic = modelgen.yolox_model(tmp_path / "dyn.onnx", dynamic=True)
    engine = tmp_path / "range.engine"
    header = {"profile": {"images": [[1, 3, 32, 32], [1, 3, 64, 96], [1, 3, 128, 128]]}}
    engine.write_bytes(fake_plan(header, dynamic, STYLES["10"], Device(gpu)))
    with TensorRTBackend(engine) as backend:
        ticket = backend.submit(HostInput(np.zeros((1, 3, 64, 96), np.float32)))
        with pytest.raises(RunError, match="a new input shape with 1 frame"):
            backend.submit(HostInput(np.zeros((1, 3, 64, 64), np.float32)))
        backend.collect(ticket)
        assert backend.infer(np.zeros((1, 3, 64, 64), np.float32))["output"].shape == (1, 84, 7)
    assert_released(gpu)


def test_closing_with_frames_in_flight_gives_everything_back(engine: Path, gpu: FakeGpu) -> None:  # noqa: F811
    backend = TensorRTBackend(engine)
    backend.submit(_input(backend, 1))
    backend.submit(_input(backend, 2))
    backend.close()
    assert_released(gpu)


class ListSource(Source):
    def __init__(self, images: list[np.ndarray], live: bool = False, block_at: int | None = None,
                 fail_at: int | None = None) -> None:
        super().__init__("list")
        self.images, self.live, self.block_at, self.fail_at = images, live, block_at, fail_at
        self.length = None if live else len(images)
        self.release = threading.Event()
        self.i = 0

    def read(self) -> Frame | None:
        if self.i == self.block_at:
            self.release.wait(10)
        if self.i == self.fail_at:
            raise InputError("camera unplugged")
        if self.i >= len(self.images):
            return None
        frame = Frame(self.i, self.images[self.i], "list", 0.0)
        self.i += 1
        return frame


class Collect(Listener):
    """The results a player reports, in order; `on_result` runs in the player's thread."""

    def __init__(self, on_result: Callable[[Result], None] | None = None) -> None:
        self.results: list[Result] = []
        self.on_result = on_result

    def result(self, result: Result) -> None:
        self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)


def play(detector: Detector, source: Source, listener: Collect | None = None) -> tuple[Collect, Player]:
    """A headless run of `source` through `detector`, in this thread."""
    got = listener or Collect()
    player = Player(got, PlayOptions(interactive=False))
    player.run(lambda: nullcontext(detector), source.spec, lambda spec: source)
    return got, player


class Recorder:
    """Wraps a Detector's submit/collect to see the order the pipeline calls them in."""

    def __init__(self, detector: Detector) -> None:
        self.events: list[str] = []
        submit, collect = detector.submit, detector.collect
        tickets: list[Any] = []  # kept alive, so no two share an id()

        def logged_submit(buffer: Any) -> Any:
            tickets.append(submit(buffer))
            self.events.append(f"s{len(tickets) - 1}")
            return tickets[-1]

        def logged_collect(ticket: Any, *args: Any, **kwargs: Any) -> Any:
            self.events.append(f"c{next(i for i, t in enumerate(tickets) if t is ticket)}")
            return collect(ticket, *args, **kwargs)

        detector.submit, detector.collect = logged_submit, logged_collect  # type: ignore[method-assign]

    def most_in_flight(self) -> int:
        n = most = 0
        for e in self.events:
            n += 1 if e[0] == "s" else -1
            most = max(most, n)
        return most


def square_column(found: Any) -> int:
    return round(float(found.boxes[0, 0])) // 8


@pytest.mark.parametrize("nvcc", [False, True], ids=["cpu-letterbox", "gpu-letterbox"])
def test_the_pipeline_runs_one_frame_ahead_and_keeps_source_order(
        nvcc: bool, engine: Path, gpu: FakeGpu, square_video: Path) -> None:  # noqa: F811
    from trt_viewer.core.sources import open_source

    gpu.nvcc = nvcc
    with TensorRTBackend(engine) as backend:
        detector = Detector(backend)
        recorder = Recorder(detector)
        results = play(detector, open_source(str(square_video)))[0].results
        assert [r.frame.index for r in results] == list(range(24))
        assert [square_column(r.detections) for r in results] == [i % 12 for i in range(24)]
        assert [e for e in recorder.events if e[0] == "c"] == [f"c{i}" for i in range(24)]
        assert recorder.most_in_flight() == 2  # N+1 was submitted before N was collected
        assert not backend._in_flight
        assert {"read", "preprocess", "infer", "postprocess"} <= set(results[0].timings)
        assert "compute" not in results[0].timings  # GPU times only when the bench asks
    assert_released(gpu)


def test_the_pipeline_does_not_hold_a_live_frame_back(engine: Path, gpu: FakeGpu) -> None:  # noqa: F811
    """Frame 0 comes out while the camera has not given frame 1 yet."""
    source = ListSource(moving_square_frames(4), live=True, block_at=1)
    seen: dict[str, Any] = {}

    def on_result(result: Result) -> None:
        if "first" not in seen:  # would wait for the release below if the player held frame 0 back
            seen["first"], seen["released_before"] = result, source.release.is_set()
            source.release.set()

    with TensorRTBackend(engine) as backend:
        got, _ = play(Detector(backend), source, Collect(on_result))
    first, released_before, rest = seen["first"], seen["released_before"], got.results[1:]
    assert first.frame.index == 0 and not released_before
    assert [r.frame.index for r in rest] == sorted(r.frame.index for r in rest)


def test_stopping_early_waits_for_the_gpu_before_buffers_go_back(engine: Path, gpu: FakeGpu) -> None:  # noqa: F811
    source = ListSource(moving_square_frames(30))
    with TensorRTBackend(engine) as backend:
        detector = Detector(backend)
        player = Player(Collect(lambda result: player.stop() if player.frames == 3 else None),
                        PlayOptions(interactive=False))
        player.run(lambda: nullcontext(detector), source.spec, lambda spec: source)  # returns once stopped
        assert not backend._in_flight
        assert all(not s._queue for s in backend._streams.all())
        assert detector.infer(detector.allocate_input())["output"].shape == backend.outputs[0].shape
    assert_released(gpu)


def test_a_reader_error_comes_after_the_frames_read_before_it(engine: Path, gpu: FakeGpu) -> None:  # noqa: F811
    source = ListSource(moving_square_frames(10), fail_at=5)
    seen = []
    with TensorRTBackend(engine) as backend:
        with pytest.raises(InputError, match="camera unplugged"):
            play(Detector(backend), source, Collect(lambda result: seen.append(result.frame.index)))
        assert not backend._in_flight
    assert seen == [0, 1, 2, 3, 4]
    assert_released(gpu)


def test_run_with_an_engine_and_gpu_preprocessing_gives_the_onnxruntime_detections(
        engine: Path, raw_onnx: Path, gpu: FakeGpu, square_video: Path, tmp_path: Path,  # noqa: F811
        capsys: pytest.CaptureFixture[str]) -> None:
    import json


    gpu.nvcc = True
    results = {}
    for model in (engine, raw_onnx):
        out = tmp_path / f"{model.suffix[1:]}.jsonl"
        code, stdout, err = run_cli(["run", "--model", str(model), "--source", str(square_video),
                                     "--detections", str(out), "--json-summary", "--quiet"], capsys)
        assert code == 0, err
        summary = json.loads(stdout.strip().splitlines()[-1])
        assert set(summary["stages"]) == {"read", "preprocess", "infer", "postprocess"}
        results[summary["backend"]] = [json.loads(line)["detections"] for line in out.read_text().splitlines()]
    assert results["tensorrt"] == results["onnxruntime"] and len(results["tensorrt"]) == 24
    assert len(gpu.launches) == 24
    assert_released(gpu)


def test_collect_without_copy_hands_out_the_lanes_own_buffers(engine: Path, gpu: FakeGpu) -> None:  # noqa: F811
    with TensorRTBackend(engine) as backend:
        a = _input(backend, 1)
        kept = backend.collect(backend.submit(a))["output"]
        view = backend.collect(backend.submit(a), copy=False)["output"]
        np.testing.assert_array_equal(kept, view)
        assert gpu.is_pinned(view) and not gpu.is_pinned(kept)
        # valid until its lane is used again: two submissions later it holds another frame
        backend.infer(_input(backend, 2))
        before = view.copy()
        backend.infer(_input(backend, 3))
        assert not np.array_equal(view, before)


@pytest.mark.parametrize(("stated", "env", "blocking"), [(None, None, True), (None, "0", False), (True, "0", True),
                                                      (False, None, False)])
def test_the_wait_for_outputs_sleeps_unless_asked_to_spin(
        stated: bool | None, env: str | None, blocking: bool, engine: Path, gpu: FakeGpu,  # noqa: F811
        monkeypatch: pytest.MonkeyPatch) -> None:
    """BLOCKING_SYNC on the event the host waits on, and on that one only: by default, or
    as stated, or TRT_VIEWER_BLOCKING_SYNC=0 for CUDA's spinning wait."""
    if env is None:
        monkeypatch.delenv("TRT_VIEWER_BLOCKING_SYNC", raising=False)
    else:
        monkeypatch.setenv("TRT_VIEWER_BLOCKING_SYNC", env)
    with TensorRTBackend(engine, blocking_sync=stated) as backend:
        flags = {name: event.flags for lane in backend._lanes for name, event in lane.events.items()}
        backend.infer(_input(backend, 1))
    assert flags.pop("done") == (gpu.driver.event_flags.BLOCKING_SYNC if blocking else 0)
    assert set(flags.values()) == {0}
