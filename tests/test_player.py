"""The run layer's one loop, without Qt: headless (nothing lost for files, newest-wins for
live, errors, stop) and interactive (pause, step, step back, seek, loop, end, reconnect)."""

from __future__ import annotations

import itertools
import threading
import time
from collections.abc import Callable
from contextlib import nullcontext

import numpy as np
import pytest
from modelgen import moving_square_frames, square_image

from trt_viewer.backends import open_backend
from trt_viewer.core.sources import Frame, Source, open_source
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.errors import InputError
from trt_viewer.run.detector import Detector
from trt_viewer.run.flight import Result
from trt_viewer.run.player import Listener, Player, PlayOptions, RunStats, State
from trt_viewer.run.sink import BackgroundSink


class ListSource(Source):
    """Frames from a list; live or not; optionally slow, blocking or failing."""

    def __init__(self, images, live=False, delay=0.0, fail_at=None, block=None, lost=False):
        super().__init__("list")
        self.images, self.live, self.delay, self.fail_at, self.block = images, live, delay, fail_at, block
        self.lost = lost  # at the end: the stream went silent, rather than said it was over
        self.length = None if live else len(images)
        self.seekable = not live
        self.i = 0
        self.closed = threading.Event()

    def read(self):
        if self.block is not None and self.i == 2:
            self.block.wait()
        if self.fail_at == self.i:
            raise InputError("camera unplugged")
        if self.i >= len(self.images):
            self.end_reason = "lost" if self.lost else "ended"
            return None
        time.sleep(self.delay)
        f = Frame(self.i, self.images[self.i], "list", self.i / 25)
        self.i += 1
        return f

    def seek(self, index):
        self.i = index

    def close(self):
        self.closed.set()


class Collect(Listener):
    """Everything a player reports, in order; `on_result` runs in the player's thread."""

    def __init__(self, on_result: Callable[[Result], None] | None = None) -> None:
        self.states: list[State] = []
        self.results: list[Result] = []
        self.redos: list[Result] = []
        self.models: list[dict] = []
        self.stats_seen: list[RunStats] = []
        self.lost: list[str] = []
        self.errors: list[str] = []
        self.reconnect_plans: list[tuple[float | None, str]] = []
        self.on_result = on_result

    def state_changed(self, state):
        self.states.append(state)

    def model_described(self, info):
        self.models.append(info)

    def result(self, result):
        self.results.append(result)
        if self.on_result is not None:
            self.on_result(result)

    def redone(self, result):
        self.redos.append(result)

    def stats(self, stats):
        self.stats_seen.append(stats)

    def source_lost(self, message):
        self.lost.append(message)

    def error(self, message):
        self.errors.append(message)

    def reconnecting(self, seconds, reason):
        self.reconnect_plans.append((seconds, reason))

    @property
    def indices(self) -> list[int]:
        return [r.frame.index for r in self.results]


@pytest.fixture
def detector(models):
    with open_backend(models["raw"]) as backend:
        yield Detector(backend)


def play(detector, source, listener=None, **options):
    """A headless run over `source`; returns the listener and the player."""
    listener = listener or Collect()
    player = Player(listener, PlayOptions(interactive=False, **options))
    player.run(lambda: nullcontext(detector), source.spec, lambda spec: source)
    return listener, player


def square_column(dets):
    return round(float(dets.boxes[0, 0])) // 8


# -- headless ---------------------------------------------------------------------------
def test_file_frames_all_arrive_in_order_with_their_own_detections(detector, square_video):
    got, player = play(detector, open_source(str(square_video)))
    assert got.indices == list(range(24)) and player.end == "ended"
    # each result's detection is the square of its own frame (columns cycle 0..11)
    assert [square_column(r.detections) for r in got.results] == [i % 12 for i in range(24)]
    assert set(got.results[0].timings) == {"read", "preprocess", "infer", "postprocess"}
    assert got.states == [State.LOADING, State.PLAYING, State.STOPPED]
    assert len(got.models) == 1 and got.models[0]["layout"] == "raw"  # once, after the first frame settled it
    assert got.stats_seen[-1].frames == 24 and got.stats_seen[-1].totals == {"class_0": 24}


def test_slow_consumer_never_drops_file_frames(detector):
    src = ListSource(moving_square_frames(30))
    got, _ = play(detector, src, Collect(lambda r: time.sleep(0.005)), depth=1)
    assert got.indices == list(range(30)) and src.closed.is_set()


def test_live_source_keeps_the_newest_and_counts_drops(detector):
    src = ListSource(moving_square_frames(40), live=True, delay=0.001)
    got, player = play(detector, src, Collect(lambda r: time.sleep(0.03)))  # far slower than the camera
    seen = got.indices
    assert seen == sorted(seen) and seen[-1] == 39  # in order, ends on the newest
    assert len(seen) < 40 and player.dropped == 40 - len(seen)
    assert player.end == "ended"  # headless: a live source that stops ends the run


def test_a_live_source_that_goes_silent_is_lost_not_ended(detector):
    _, player = play(detector, ListSource(moving_square_frames(5), live=True, lost=True))
    assert player.end == "lost"


def test_reader_errors_reach_the_caller_after_the_frames_before_them(detector):
    src = ListSource(moving_square_frames(10), fail_at=5)
    got = Collect()
    with pytest.raises(InputError, match="camera unplugged"):
        play(detector, src, got)
    assert got.indices == [0, 1, 2, 3, 4] and got.states[-1] == State.STOPPED


def test_stop_returns_promptly_while_a_read_blocks(detector):
    gate = threading.Event()
    src = ListSource(moving_square_frames(10), live=True, block=gate)
    got = Collect()
    player = Player(got, PlayOptions(interactive=False))
    t = threading.Thread(target=player.run, args=(lambda: nullcontext(detector), "list", lambda s: src))
    t.start()
    deadline = time.monotonic() + 5
    while len(got.results) < 2 and time.monotonic() < deadline:
        time.sleep(0.01)
    start = time.monotonic()
    player.stop()
    t.join(2)
    assert not t.is_alive() and time.monotonic() - start < 1.0
    assert not src.closed.is_set()  # still inside read(): closed by the reader, later
    gate.set()
    assert src.closed.wait(2)


def test_max_frames_stops_the_run(detector):
    got, player = play(detector, ListSource(moving_square_frames(30)), max_frames=7)
    assert got.indices == list(range(7)) and player.end == "max_frames"


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
    play(detector, ListSource(moving_square_frames(50)), depth=2)
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
    dropped = []
    sink = BackgroundSink(fail, drop=dropped.append)
    with pytest.raises(OSError, match="disk full"):
        for i in range(50):
            sink.put(i)
            time.sleep(0.001)
        sink.close()
    assert got == [0, 1, 2]
    # What is not handled after the failure is dropped, each item once (a frame lent by its
    # decoder goes back then), the one put() refused among them.
    assert dropped == list(range(4, len(dropped) + 4)) and len(dropped) >= 1


def test_onnxruntime_lanes_give_the_same_results_in_order(models, square_video, monkeypatch):
    with open_backend(models["raw"]) as backend:
        # a CPU of two or more cores: two workers, a third frame queued behind them
        assert backend.workers == 2 and backend.lanes == 3
        det = Detector(backend)
        got, _ = play(det, open_source(str(square_video)))
        overlapped = [(r.frame.index, r.detections.boxes.tolist()) for r in got.results]
        frames = moving_square_frames(24)[:3]
        buffers = [det.allocate_input() for _ in frames]
        tickets = []
        for f, buf in zip(frames, buffers):
            det.preprocess(f, buf)
            tickets.append(backend.submit(buf))
        direct = [backend.collect(t)["output"] for t in tickets]
        for buf, out in zip(buffers, direct):
            np.testing.assert_array_equal(out, backend.infer(buf)["output"])
    with open_backend(models["raw"], ort_workers=1) as backend:
        assert backend.lanes == 1
        got, _ = play(Detector(backend), open_source(str(square_video)))
        one = [(r.frame.index, r.detections.boxes.tolist()) for r in got.results]
    assert overlapped == one and [i for i, _ in one] == list(range(24))
    monkeypatch.setenv("TRT_VIEWER_ORT_LANES", "1")  # the documented override of the default
    with open_backend(models["raw"]) as backend:
        assert backend.lanes == 1


# -- interactive: the state machine driven directly, as the viewer drives it --------------
class Running:
    """A player running in a thread of its own, as the viewer's QThread runs it."""

    def __init__(self, detector, source_factory, **options):
        self.got = Collect()
        self.sources: list[ListSource] = []
        self.factory = source_factory
        self.player = Player(self.got, PlayOptions(**options))
        self.thread = threading.Thread(target=self.player.run,
                                       args=(lambda: nullcontext(detector), "list", self._open))
        self.thread.start()

    def _open(self, spec):
        source = self.factory()
        self.sources.append(source)
        return source

    def until(self, condition, timeout=5.0):
        deadline = time.monotonic() + timeout
        while not condition():
            assert time.monotonic() < deadline, f"timed out: {self.got.states[-5:]}, frames {self.got.indices[-10:]}"
            time.sleep(0.005)

    def settle(self):
        """Wait until the player is idle in a paused/ended/lost state and nothing more comes."""
        self.until(lambda: self.player.state in (State.PAUSED, State.ENDED, State.LOST))
        n = -1
        while n != len(self.got.results):
            n = len(self.got.results)
            time.sleep(0.1)

    def close(self):
        self.player.stop()
        self.thread.join(5)
        assert not self.thread.is_alive()


@pytest.fixture
def running(detector):
    made: list[Running] = []

    def start(source_factory, **options):
        run = Running(detector, source_factory, **options)
        made.append(run)
        return run

    yield start
    for run in made:
        run.close()


def test_starting_paused_shows_the_first_frame_then_steps(running):
    run = running(lambda: ListSource(moving_square_frames(20)), paused=True)
    run.settle()
    assert run.got.indices == [0] and run.player.state == State.PAUSED
    run.player.step()
    run.player.step()
    run.until(lambda: len(run.got.results) == 3)
    run.settle()
    assert run.got.indices == [0, 1, 2]


def test_step_back_and_seek_while_paused(running):
    run = running(lambda: ListSource(moving_square_frames(20)), paused=True)
    run.settle()
    run.player.seek(10)
    run.until(lambda: run.got.indices[-1:] == [10])
    run.player.step_back()
    run.until(lambda: run.got.indices[-1:] == [9])
    run.settle()
    assert run.got.indices == [0, 10, 9] and run.player.state == State.PAUSED


def test_a_file_decoded_in_a_process_seeks_without_a_new_process(running, square_video):
    from trt_viewer.run.decode_process import ProcessSource

    opened: list[ProcessSource] = []

    def source():
        opened.append(ProcessSource(str(square_video)))
        return opened[-1]

    run = running(source, paused=True)
    run.settle()
    for index in (10, 3, 17):
        run.player.seek(index)
        run.until(lambda i=index: run.got.indices[-1:] == [i])
    run.player.step_back()
    run.until(lambda: run.got.indices[-1:] == [16])
    run.settle()
    assert run.got.indices == [0, 10, 3, 17, 16]
    assert [square_column(r.detections) for r in run.got.results] == [0, 10, 3, 5, 4]
    assert len(opened) == 1 and opened[0]._process.poll() is None  # one decoder, still running
    run.player.play()
    run.until(lambda: run.player.state == State.ENDED)
    assert run.got.indices[5:] == list(range(17, 24))


def test_pause_while_playing_shows_the_frames_in_flight_then_stops(running):
    run = running(lambda: ListSource(moving_square_frames(200), delay=0.002))
    run.until(lambda: len(run.got.results) >= 5)
    run.player.pause()
    run.settle()
    n = len(run.got.results)
    assert run.got.indices == list(range(n)) and n < 200  # nothing skipped, nothing after the pause
    run.player.play()
    run.until(lambda: run.player.state == State.ENDED)
    assert run.got.indices == list(range(200))


def test_a_file_ends_then_plays_again_from_the_start(running):
    run = running(lambda: ListSource(moving_square_frames(8)))
    run.until(lambda: run.player.state == State.ENDED)
    assert run.got.indices == list(range(8))
    run.player.play()
    run.until(lambda: len(run.got.results) == 16 and run.player.state == State.ENDED)
    assert run.got.indices == list(range(8)) * 2 and len(run.sources) == 2


def test_loop_goes_round_without_ending(running):
    run = running(lambda: ListSource(moving_square_frames(6)), loop=True)
    run.until(lambda: len(run.got.results) >= 20)
    assert State.ENDED not in run.got.states
    assert run.got.indices[:12] == list(range(6)) * 2


def test_a_lost_live_source_waits_then_reconnects(running):
    run = running(lambda: ListSource(moving_square_frames(5), live=True))
    run.until(lambda: run.player.state == State.LOST)
    assert run.got.lost == ["list stopped sending frames"]
    run.player.reconnect()
    run.until(lambda: len(run.sources) == 2 and run.player.state == State.LOST)
    assert run.got.errors == []


def test_a_failed_reconnect_is_reported_and_the_player_waits(running):
    opened = []

    def factory():
        opened.append(1)
        if len(opened) > 1:
            raise InputError("no camera at index 0")
        return ListSource(moving_square_frames(3), live=True)

    run = running(factory)
    run.until(lambda: run.player.state == State.LOST)
    run.player.reconnect()
    run.until(lambda: run.got.errors == ["no camera at index 0"])
    time.sleep(0.3)
    assert run.player.state == State.LOST and run.thread.is_alive()


def test_a_setting_changed_while_paused_redoes_the_frame_on_screen(running):
    run = running(lambda: ListSource(moving_square_frames(5)), paused=True)
    run.settle()
    assert len(run.got.results[0].detections) == 1
    run.player.set_config(PostprocessConfig(classes=frozenset({1})))  # filter out the square's class
    run.until(lambda: len(run.got.redos) == 1)
    assert len(run.got.redos[0].detections) == 0 and run.got.redos[0].frame.index == 0
    assert run.got.indices == [0]  # redone, not a new frame


def test_call_soon_runs_in_the_players_thread_even_while_paused(running):
    run = running(lambda: ListSource(moving_square_frames(5)), paused=True)
    run.settle()
    where = []
    run.player.call_soon(lambda: where.append(threading.current_thread()))
    run.until(lambda: where)
    assert where == [run.thread]


def test_stop_while_paused_releases_everything(running):
    run = running(lambda: ListSource(moving_square_frames(5)), paused=True)
    run.settle()
    run.close()
    assert run.got.states[-1] == State.STOPPED and run.sources[0].closed.is_set()


def test_a_lost_live_source_reconnects_by_itself_with_growing_delays(running):
    opened = []

    def factory():
        opened.append(time.monotonic())
        if len(opened) in (2, 3):  # the first two attempts find nothing
            raise InputError("cannot open stream rtsp://cam")
        return ListSource(moving_square_frames(3), live=True, lost=True)

    run = running(factory, reconnect_delays=(0.1, 0.3, 0.6))
    run.until(lambda: len(opened) == 4, timeout=5)
    gaps = [b - a for a, b in itertools.pairwise(opened[1:])]
    assert gaps[0] >= 0.25 and gaps[1] >= 0.5  # backoff: 0.1, then 0.3, then 0.6 s
    assert run.got.errors == []  # automatic attempts plan the next one; no error dialog each time
    assert run.got.reconnect_plans[:3] == [(0.1, ""), (0.3, "cannot open stream rtsp://cam"),
                                           (0.6, "cannot open stream rtsp://cam")]
    run.until(lambda: len(run.got.results) >= 6)  # frames flow again after the reconnect


def test_cancelling_stops_the_automatic_reconnects(running):
    opened = []

    def factory():
        opened.append(1)
        if len(opened) > 1:
            raise InputError("cannot open stream rtsp://cam")
        return ListSource(moving_square_frames(2), live=True, lost=True)

    run = running(factory, reconnect_delays=(0.2,))
    run.until(lambda: run.player.state == State.LOST)
    run.player.cancel_reconnect()
    run.until(lambda: run.got.reconnect_plans[-1:] == [(None, "")])
    tries = len(opened)
    time.sleep(0.6)
    assert len(opened) == tries and run.player.state == State.LOST
    run.player.reconnect()  # by hand, still possible
    run.until(lambda: run.got.errors == ["cannot open stream rtsp://cam"])


def test_a_folder_pauses_on_each_image_by_default(running):
    def folder():
        source = ListSource(moving_square_frames(5))
        source.image_files = True
        return source

    run = running(folder)
    run.settle()
    assert run.got.indices == [0] and run.player.state == State.PAUSED
    run.player.play()
    run.until(lambda: len(run.got.results) == 2)
    run.settle()
    assert run.got.indices == [0, 1] and run.player.state == State.PAUSED


def test_a_folder_holds_each_image_for_its_time(running):
    def folder():
        source = ListSource(moving_square_frames(4))
        source.image_files = True
        return source

    run = running(folder, image_seconds=0.3)
    start = time.monotonic()
    run.until(lambda: run.player.state == State.ENDED, timeout=5)
    assert run.got.indices == [0, 1, 2, 3] and time.monotonic() - start >= 0.85  # three holds of 0.3 s


def test_the_figures_describe_the_frame_paused_on(running):
    run = running(lambda: ListSource(moving_square_frames(10)), paused=True)
    run.settle()
    for _ in range(3):
        run.player.step()
    run.until(lambda: len(run.got.results) == 4)
    run.settle()
    assert run.got.stats_seen[-1].frames == 4  # not the count of half a second before


def test_the_figures_come_with_the_first_frame_after_a_seek(running, monkeypatch):
    from trt_viewer.run import player as player_module

    monkeypatch.setattr(player_module, "STATS_EVERY_S", 1000.0)  # only reports that are due at once
    frames = moving_square_frames(12) * 400  # minutes of playing: no report for reaching the end
    run = running(lambda: ListSource(frames, delay=0.005))
    run.until(lambda: len(run.got.results) >= 5)
    seen = len(run.got.stats_seen)  # the first frame's report
    run.player.seek(300)
    run.until(lambda: any(i >= 300 for i in run.got.indices))
    run.until(lambda: len(run.got.stats_seen) > seen)
    assert run.got.stats_seen[-1].frames > 5 and run.player.state == State.PLAYING
    run.player.stop()


def test_a_frame_redone_while_paused_keeps_its_track_ids(running):
    from trt_viewer.run.tracking import TrackingOptions

    still = moving_square_frames(1) * 12  # a square that stays put: one track
    run = running(lambda: ListSource(still), paused=True, tracking=TrackingOptions())
    run.settle()
    for _ in range(4):  # a track is confirmed after a few frames
        run.player.step()
    run.until(lambda: len(run.got.results) == 5)
    run.settle()
    shown = run.got.results[-1].detections
    assert shown.tracked and shown.track_ids.tolist()[0] >= 1
    run.player.set_config(PostprocessConfig(conf=0.05))  # the same square, found again
    run.until(lambda: len(run.got.redos) == 1)
    redone = run.got.redos[0].detections
    same = [i for i, box in enumerate(redone.boxes) if np.allclose(box, shown.boxes[0])]
    assert len(same) == 1 and redone.track_ids[same[0]] == shown.track_ids[0]
    assert all(tid == -1 for i, tid in enumerate(redone.track_ids.tolist()) if i != same[0])  # new finds: no id
    assert run.got.redos[0].overlay is run.got.results[-1].overlay  # trails drawn as before
    assert run.got.indices == [0, 1, 2, 3, 4]
