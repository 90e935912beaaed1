"""The pipeline QThread on its own: ownership of the backend, stop, end, loss, long runs."""

from __future__ import annotations

import threading

import pytest
from gui_fixtures import SCORE, CameraOpener, ScriptedCamera, square_frames

from trt_viewer.backends import open_backend
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.gui.worker import Worker
from trt_viewer.run.session import RunSpec


class Recorder:
    """Collects what a worker reports, taking frames from its slot as the window does."""

    def __init__(self, worker: Worker) -> None:
        self.worker = worker
        self.states: list[str] = []
        self.errors: list[str] = []
        self.indices: list[int] = []
        self.detections: list[int] = []
        self.stats: list[dict] = []
        self.lost: list[str] = []
        worker.stateChanged.connect(self.states.append)
        worker.error.connect(self.errors.append)
        worker.statsReady.connect(self.stats.append)
        worker.sourceLost.connect(self.lost.append)
        worker.frameReady.connect(self._frame)

    def _frame(self) -> None:
        packet = self.worker.slot.take()
        if packet is not None:
            self.indices.append(packet.index)
            self.detections.append(len(packet.detections))


_started: list[Worker] = []


@pytest.fixture(autouse=True)
def _stop_workers():
    """A failed test must not leave a running QThread behind (Qt aborts on that)."""
    yield
    while _started:
        worker = _started.pop()
        worker.stop()
        assert worker.wait(5000)


def start(qtbot, spec: RunSpec, **kwargs) -> tuple[Worker, Recorder]:
    worker = Worker(spec, **kwargs)
    rec = Recorder(worker)
    _started.append(worker)
    worker.start()
    return worker, rec


def finish(qtbot, worker: Worker, rec: Recorder) -> None:
    worker.stop()
    assert worker.wait(5000)
    qtbot.waitUntil(lambda: rec.states[-1:] == ["stopped"])  # queued reports delivered


def test_start_and_stop(qtbot, gui_model, gui_video):
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(gui_video), loop=True))
    qtbot.waitUntil(lambda: len(rec.indices) >= 5, timeout=10000)
    assert rec.states[:2] == ["loading", "playing"]
    with qtbot.waitSignal(worker.finished, timeout=5000):
        worker.stop()
    qtbot.waitUntil(lambda: rec.states[-1:] == ["stopped"])
    assert rec.errors == []
    assert all(n == 1 for n in rec.detections), rec.detections  # one square per frame


def test_backend_is_created_used_and_closed_in_the_worker_thread(qtbot, gui_model, gui_video):
    threads: dict[str, set[int]] = {"open": set(), "use": set(), "close": set()}
    calls: list[str] = []

    def opener(path, input_size=None):
        threads["open"].add(threading.get_ident())
        backend = open_backend(path, input_size)

        def traced(name, method):
            def call(*args, **kwargs):
                threads["close" if name == "close" else "use"].add(threading.get_ident())
                calls.append(name)
                return method(*args, **kwargs)
            return call

        for name in ("infer", "submit", "collect", "close"):
            setattr(backend, name, traced(name, getattr(backend, name)))
        return backend

    worker, rec = start(qtbot, RunSpec(str(gui_model), str(gui_video)), backend_opener=opener)
    qtbot.waitUntil(lambda: len(rec.indices) >= 3, timeout=10000)
    finish(qtbot, worker, rec)
    assert len(threads["open"]) == 1
    assert threads["open"] == threads["use"] == threads["close"]
    assert threading.get_ident() not in threads["open"]
    # frames in flight through the backend's lanes, as in the headless pipeline
    assert "submit" in calls and calls.count("submit") == calls.count("collect")


def test_a_video_ends_then_plays_again_from_the_start(qtbot, gui_model, gui_video):
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(gui_video)))
    qtbot.waitUntil(lambda: "ended" in rec.states, timeout=10000)
    qtbot.waitUntil(lambda: rec.indices[-1:] == [29])
    assert rec.stats[-1]["frames"] == 30
    count = len(rec.indices)
    worker.set_paused(False)  # Play after the end starts again
    qtbot.waitUntil(lambda: any(i < 29 for i in rec.indices[count:]), timeout=10000)
    finish(qtbot, worker, rec)


def test_loop_goes_round_without_ending(qtbot, gui_model, gui_video):
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(gui_video), loop=True))
    qtbot.waitUntil(lambda: worker.processed > 65, timeout=20000)
    finish(qtbot, worker, rec)
    assert "ended" not in rec.states
    assert rec.stats[-1]["frames"] > 60
    wraps = sum(1 for a, b in zip(rec.indices, rec.indices[1:]) if b < a)
    assert wraps >= 1


def test_two_thousand_frames_in_one_run(qtbot, gui_model, long_video):
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(long_video)))
    qtbot.waitUntil(lambda: "ended" in rec.states, timeout=120000)
    qtbot.waitUntil(lambda: rec.indices[-1:] == [1999])
    assert worker.processed == 2000
    assert rec.stats[-1]["frames"] == 2000
    assert rec.stats[-1]["totals"] == {"class_0": 2000}
    assert rec.indices == sorted(rec.indices)  # newest only, never out of order
    assert rec.errors == []
    finish(qtbot, worker, rec)


def test_stop_is_prompt_while_a_camera_read_blocks(qtbot, gui_model):
    gate = threading.Event()
    cameras = CameraOpener(lambda n: ScriptedCamera(square_frames(3), then="block", gate=gate))
    worker, rec = start(qtbot, RunSpec(str(gui_model), "0"), source_opener=cameras)
    try:
        qtbot.waitUntil(lambda: bool(cameras.opened) and cameras.opened[0].blocked.is_set(), timeout=10000)
        qtbot.waitUntil(lambda: len(rec.indices) >= 1)
        worker.stop()
        # The reader is still stuck in read(); the worker must not wait for it.
        assert worker.wait(3000)
        assert not cameras.opened[0].closed.is_set()
    finally:
        gate.set()
    # Once the read returns, the reader thread closes the camera itself.
    qtbot.waitUntil(lambda: cameras.opened[0].closed.is_set(), timeout=5000)


def test_a_camera_that_disappears_is_reported_and_can_reconnect(qtbot, gui_model):
    cameras = CameraOpener(lambda n: ScriptedCamera(square_frames(4)))
    worker, rec = start(qtbot, RunSpec(str(gui_model), "0"), source_opener=cameras)
    qtbot.waitUntil(lambda: "lost" in rec.states, timeout=10000)
    assert rec.lost == ["Camera 0 stopped sending frames"]
    assert worker.isRunning()  # the model stays loaded, waiting for a reconnect
    shown = len(rec.indices)
    worker.reconnect()
    qtbot.waitUntil(lambda: len(cameras.opened) == 2 and len(rec.indices) > shown, timeout=10000)
    assert rec.states.count("playing") >= 2
    finish(qtbot, worker, rec)


def test_a_failed_reconnect_is_an_error_and_the_worker_waits(qtbot, gui_model):
    def make(n):
        if n == 1:
            from trt_viewer.errors import InputError

            raise InputError("no camera at index 0")
        return ScriptedCamera(square_frames(2))

    cameras = CameraOpener(make)
    worker, rec = start(qtbot, RunSpec(str(gui_model), "0"), source_opener=cameras)
    qtbot.waitUntil(lambda: "lost" in rec.states, timeout=10000)
    worker.reconnect()
    # The error, then back to "lost" (after a brief "loading") with the model still loaded.
    qtbot.waitUntil(lambda: rec.errors == ["no camera at index 0"] and rec.states[-2:] == ["loading", "lost"],
                    timeout=10000)
    assert worker.isRunning()
    shown = len(rec.indices)
    worker.reconnect()
    qtbot.waitUntil(lambda: len(rec.indices) > shown, timeout=10000)  # the third try works
    assert cameras.attempts == 3 and len(cameras.opened) == 2
    finish(qtbot, worker, rec)


def test_a_bad_model_becomes_an_error_signal(qtbot, tmp_path, gui_video):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"this is not a model")
    worker, rec = start(qtbot, RunSpec(str(bad), str(gui_video)))
    assert worker.wait(10000)
    qtbot.waitUntil(lambda: rec.states[-1:] == ["stopped"])
    assert rec.errors == ["model bad.onnx is not an ONNX model (it cannot be parsed)"]


def test_a_bad_source_becomes_an_error_signal(qtbot, tmp_path, gui_model):
    bad = tmp_path / "broken.mp4"
    bad.write_bytes(b"\x00" * 2048)
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(bad)))
    assert worker.wait(10000)
    qtbot.waitUntil(lambda: rec.states[-1:] == ["stopped"])
    assert len(rec.errors) == 1 and "broken.mp4" in rec.errors[0]


def test_threshold_change_applies_to_the_next_frame_without_restart(qtbot, gui_model, gui_video):
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(gui_video), loop=True))
    qtbot.waitUntil(lambda: len(rec.detections) >= 3, timeout=10000)
    assert rec.detections[-1] == 1
    worker.set_config(PostprocessConfig(conf=min(0.99, SCORE + 0.1)))
    processed = worker.processed
    qtbot.waitUntil(lambda: worker.processed > processed + 5, timeout=10000)
    mark = len(rec.detections)
    qtbot.waitUntil(lambda: len(rec.detections) > mark + 3, timeout=10000)
    assert rec.detections[mark:] == [0] * (len(rec.detections) - mark)
    assert rec.states.count("loading") == 1  # same run, no restart
    finish(qtbot, worker, rec)


def test_paused_frame_is_redone_when_a_setting_changes(qtbot, gui_model, gui_video):
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(gui_video), start_paused=True))
    qtbot.waitUntil(lambda: rec.indices == [0], timeout=10000)
    assert rec.detections == [1]
    worker.set_preset("legacy")  # RGB and ImageNet-normalised: the blue square is gone
    qtbot.waitUntil(lambda: len(rec.indices) == 2, timeout=10000)
    assert rec.indices == [0, 0] and rec.detections == [1, 0]
    worker.set_preset("current")
    qtbot.waitUntil(lambda: len(rec.indices) == 3, timeout=10000)
    assert rec.detections[-1] == 1
    worker.set_config(PostprocessConfig(classes=frozenset({1})))  # class 0 filtered out
    qtbot.waitUntil(lambda: len(rec.indices) == 4, timeout=10000)
    assert rec.indices == [0, 0, 0, 0] and rec.detections[-1] == 0
    assert worker.processed == 1  # redone, not a new frame
    finish(qtbot, worker, rec)


def test_step_and_seek_while_paused(qtbot, gui_model, gui_video):
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(gui_video), start_paused=True))
    qtbot.waitUntil(lambda: rec.indices == [0], timeout=10000)
    worker.step()
    qtbot.waitUntil(lambda: rec.indices == [0, 1], timeout=10000)
    worker.seek(20)
    qtbot.waitUntil(lambda: rec.indices == [0, 1, 20], timeout=10000)
    worker.step()
    qtbot.waitUntil(lambda: rec.indices == [0, 1, 20, 21], timeout=10000)
    assert rec.states[-1] == "paused"
    finish(qtbot, worker, rec)


def test_pause_and_seek_while_playing_with_frames_in_flight(qtbot, gui_model, long_video):
    worker, rec = start(qtbot, RunSpec(str(gui_model), str(long_video), realtime=True))

    def pause_after(count: int) -> int:
        qtbot.waitUntil(lambda: len(rec.indices) >= count, timeout=10000)
        worker.set_paused(True)
        qtbot.waitUntil(lambda: rec.states[-1] == "paused", timeout=5000)
        processed, last = worker.processed, rec.indices[-1]
        qtbot.wait(300)
        assert worker.processed == processed and rec.indices[-1] == last  # nothing after the pause
        # A file never drops frames, so the frame on screen is the processed-th: the frames
        # in flight when the pause came were shown, not thrown away.
        assert last == processed - 1
        return last

    first = pause_after(10)
    worker.set_paused(False)
    pause_after(len(rec.indices) + 5)
    assert rec.indices[-1] > first
    worker.set_paused(False)
    worker.seek(1000)
    qtbot.waitUntil(lambda: rec.indices[-1] >= 1005, timeout=5000)
    after = rec.indices[next(i for i, n in enumerate(rec.indices) if n >= 1000):]
    assert after == sorted(after) and after[0] <= 1002  # nothing from before the seek comes late
    assert rec.errors == []
    finish(qtbot, worker, rec)
