"""Reader thread + in-order inference: nothing lost for files, newest-wins for live."""

import threading
import time

import numpy as np
import pytest

from conftest import moving_square_frames
from modelgen import square_image
from trt_viewer.backends import open_backend
from trt_viewer.core.detector import Detector
from trt_viewer.core.pipeline import BackgroundSink, Pipeline
from trt_viewer.core.sources import Frame, Source, open_source
from trt_viewer.errors import InputError


class ListSource(Source):
    """Frames from a list; live or not; optionally slow, blocking or failing."""

    def __init__(self, images, live=False, delay=0.0, fail_at=None, block=None):
        super().__init__("list")
        self.images, self.live, self.delay, self.fail_at, self.block = images, live, delay, fail_at, block
        self.length = None if live else len(images)
        self.i = 0
        self.closed = threading.Event()

    def read(self):
        if self.block is not None and self.i == 2:
            self.block.wait()
        if self.fail_at == self.i:
            raise InputError("camera unplugged")
        if self.i >= len(self.images):
            return None
        time.sleep(self.delay)
        f = Frame(self.i, self.images[self.i], "list", 0.0)
        self.i += 1
        return f

    def close(self):
        self.closed.set()


@pytest.fixture
def detector(models):
    with open_backend(models["raw"]) as backend:
        yield Detector(backend)


def square_column(dets):
    return int(round(dets.boxes[0, 0])) // 8


def test_file_frames_all_arrive_in_order_with_their_own_detections(detector, square_video):
    results = list(Pipeline(open_source(str(square_video)), detector))
    assert [r.frame.index for r in results] == list(range(24))
    # each result's detection is the square of its own frame (columns cycle 0..11)
    assert [square_column(r.detections) for r in results] == [i % 12 for i in range(24)]
    assert set(results[0].timings) == {"read", "preprocess", "infer", "postprocess"}


def test_slow_consumer_never_drops_file_frames(detector):
    src = ListSource(moving_square_frames(30))
    seen = []
    for r in Pipeline(src, detector, depth=1):
        time.sleep(0.005)
        seen.append(r.frame.index)
    assert seen == list(range(30)) and src.closed.is_set()


def test_live_source_keeps_the_newest_and_counts_drops(detector):
    src = ListSource(moving_square_frames(40), live=True, delay=0.001)
    pipe = Pipeline(src, detector)
    seen = []
    for r in pipe:
        time.sleep(0.03)  # a consumer far slower than the camera
        seen.append(r.frame.index)
    assert seen == sorted(seen) and seen[-1] == 39  # in order, ends on the newest
    assert len(seen) < 40 and pipe.dropped == 40 - len(seen)


def test_reader_errors_reach_the_consumer(detector):
    src = ListSource(moving_square_frames(10), fail_at=5)
    seen = []
    with pytest.raises(InputError, match="camera unplugged"):
        for r in Pipeline(src, detector):
            seen.append(r.frame.index)
    assert seen == [0, 1, 2, 3, 4]


def test_stop_returns_promptly_while_a_read_blocks(detector):
    gate = threading.Event()
    src = ListSource(moving_square_frames(10), live=True, block=gate)
    pipe = Pipeline(src, detector)
    got = []

    def consume():
        for r in pipe:
            got.append(r.frame.index)

    t = threading.Thread(target=consume)
    t.start()
    deadline = time.monotonic() + 5
    while len(got) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    pipe.stop()
    t.join(2)
    assert not t.is_alive() and time.monotonic() - start < 1.0
    assert not src.closed.is_set()  # still inside read(): closed by the reader, later
    gate.set()
    assert src.closed.wait(2)


def test_config_changes_apply_to_the_next_frame(detector):
    frame = square_image((64, 96), (3, 2, 8), colour=(150, 150, 0))  # score ~ 0.35
    assert len(detector.detect(frame)) == 1
    detector.update(conf=0.5)
    assert len(detector.detect(frame)) == 0


def test_buffers_are_reused_not_reallocated(detector):
    made = []
    original = detector.allocate_input

    def counting():
        buf = original()
        made.append(buf)
        return buf

    detector.allocate_input = counting
    list(Pipeline(ListSource(moving_square_frames(50)), detector, depth=2))
    assert len(made) == 2 + 1 + detector.lanes  # the pool (depth, one filling, in flight), not one per frame


def test_background_sink_keeps_order_and_reports_errors():
    got = []
    sink = BackgroundSink(got.append)
    for i in range(100):
        sink.put(i)
    sink.close()
    assert got == list(range(100))

    def fail(x):
        if x == 3:
            raise OSError("disk full")
        got.append(x)

    got.clear()
    sink = BackgroundSink(fail)
    with pytest.raises(OSError, match="disk full"):
        for i in range(50):
            sink.put(i)
            time.sleep(0.001)
        sink.close()
    assert got == [0, 1, 2]


def test_onnxruntime_lanes_give_the_same_results_in_order(models, square_video, monkeypatch):
    with open_backend(models["raw"]) as backend:
        # a CPU of two or more cores: two workers, a third frame queued behind them
        assert backend.workers == 2 and backend.lanes == 3
        det = Detector(backend)
        overlapped = [(r.frame.index, r.detections.boxes.tolist()) for r in Pipeline(open_source(str(square_video)), det)]
        buf = det.allocate_input()
        frames = [f for f in moving_square_frames(24)]
        tickets = []
        for f in frames[:3]:
            det.preprocess(f, buf)
            tickets.append(backend.submit(buf.copy()))
        direct = [backend.collect(t)["output"] for t in tickets]
        for f, out in zip(frames[:3], direct):
            det.preprocess(f, buf)
            np.testing.assert_array_equal(out, backend.infer(buf)["output"])
    monkeypatch.setenv("TRT_VIEWER_ORT_LANES", "1")
    with open_backend(models["raw"]) as backend:
        assert backend.lanes == 1
        one = [(r.frame.index, r.detections.boxes.tolist()) for r in Pipeline(open_source(str(square_video)), Detector(backend))]
    assert overlapped == one and [i for i, _ in one] == list(range(24))
