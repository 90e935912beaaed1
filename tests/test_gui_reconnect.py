"""A newcomer's viewer: a lost live source reconnects by itself and says so, a stream gets
network advice, nothing of the last source stays on screen once it describes nothing, and
an export started while paused begins with the frame on screen."""

from __future__ import annotations

import dataclasses
import json
import re
import threading

import pytest
from gui_fixtures import CameraOpener, ScriptedCamera, make_window, square_frames

from trt_viewer.core.sources import Source, open_source
from trt_viewer.errors import InputError
from trt_viewer.gui.display import NO_RATE
from trt_viewer.gui.reconnect import countdown_text, lost_text
from trt_viewer.gui.worker import Worker

URL = "rtsp://host/cam"


def factory(opener, delays: tuple[float, ...] | None = None):
    """Workers reading through `opener`; `delays`: the automatic reconnects' backoff."""

    def make(spec):
        worker = Worker(spec, source_opener=opener)
        if delays is not None:
            worker.player.options = dataclasses.replace(worker.player.options, reconnect_delays=delays)
        return worker

    return make


def stream(frames, **kwargs) -> ScriptedCamera:
    """A scripted live source behind a stream URL."""
    source = ScriptedCamera(frames, **kwargs)
    source.spec = URL
    return source


class Shown:
    def __init__(self, win) -> None:
        self.indices: list[int] = []
        win.frameShown.connect(self.indices.append)


@pytest.fixture
def gates():
    """Events a test's sources wait on; all set at the end, so no thread stays blocked."""
    made: list[threading.Event] = []

    def gate() -> threading.Event:
        made.append(threading.Event())
        return made[-1]

    yield gate
    for event in made:
        event.set()


# ============================================================================ 1. reconnecting, visibly
def test_a_lost_camera_counts_down_reconnects_by_itself_and_the_notice_goes(qtbot, gui_settings, gui_model, gates):
    attempt, hold = gates(), gates()

    def make(n: int) -> Source:
        if n == 1:  # the first automatic attempt: takes a while, then fails
            attempt.wait(10)
            raise InputError("no camera at index 0")
        return ScriptedCamera(square_frames(3 if n == 0 else 50), then="end" if n == 0 else "block", gate=hold)

    cameras = CameraOpener(make)
    win = make_window(qtbot, gui_settings, factory(cameras, delays=(2.0, 1.0)))
    notice = win.shell.view.notice
    shown = Shown(win)
    win.set_model(str(gui_model))
    win.set_source("0", start=True)

    # Lost: the countdown to the first attempt, Cancel, and the camera's own advice.
    qtbot.waitUntil(lambda: notice.isVisible() and notice.progress.text() == "Reconnecting in 2 s…", timeout=10000)
    assert notice.title.text() == "Camera 0 disconnected"
    assert "plugged in" in notice.detail.text()
    assert notice.cancel.isVisible() and notice.button.isVisible()
    assert not notice.reason.isVisible()  # nothing failed yet
    assert "stopped sending frames" in win.statusBar().currentMessage()
    # The GUI counts down by itself: the player says nothing more until the attempt.
    qtbot.waitUntil(lambda: notice.progress.text() == "Reconnecting in 1 s…", timeout=3000)

    # The attempt runs: "Reconnecting…", the notice stays although the state is "loading".
    qtbot.waitUntil(lambda: cameras.attempts == 2 and win.state == "loading", timeout=5000)
    qtbot.waitUntil(lambda: notice.isVisible() and notice.progress.text() == "Reconnecting…", timeout=3000)
    assert not notice.button.isVisible()  # one attempt at a time
    attempt.set()

    # It failed: the next one planned, and why the last failed, in small text.
    qtbot.waitUntil(lambda: notice.reason.isVisible(), timeout=5000)
    assert notice.reason.text() == "Last attempt: no camera at index 0"
    assert notice.reason.font().pointSizeF() < notice.detail.font().pointSizeF()
    assert notice.progress.text() in ("Reconnecting in 1 s…", "Reconnecting…")
    assert win.state == "lost"

    # The next one works: frames again, and the notice goes by itself.
    mark = len(shown.indices)
    qtbot.waitUntil(lambda: len(shown.indices) > mark and win.state == "playing", timeout=5000)
    qtbot.waitUntil(lambda: not notice.isVisible(), timeout=3000)
    assert cameras.attempts == 3
    hold.set()
    assert win.shutdown(5000)


def test_cancel_stops_the_automatic_reconnects_and_offers_reconnect(qtbot, gui_settings, gui_model, gates):
    hold = gates()
    cameras = CameraOpener(lambda n: ScriptedCamera(square_frames(3 if n == 0 else 50),
                                                    then="end" if n == 0 else "block", gate=hold))
    win = make_window(qtbot, gui_settings, factory(cameras, delays=(1.0,)))
    notice = win.shell.view.notice
    shown = Shown(win)
    win.set_model(str(gui_model))
    win.set_source("0", start=True)
    qtbot.waitUntil(lambda: notice.isVisible() and notice.cancel.isVisible(), timeout=10000)
    assert notice.button.text() == "Reconnect Now"

    notice.cancel.click()
    assert not notice.cancel.isVisible() and not notice.progress.isVisible()
    assert notice.button.isVisible() and notice.button.text() == "Reconnect"
    qtbot.wait(1800)  # past the cancelled attempt's time
    assert cameras.attempts == 1 and win.state == "lost"
    assert notice.isVisible() and notice.button.text() == "Reconnect" and not notice.cancel.isVisible()

    mark = len(shown.indices)
    notice.button.click()  # by hand, as before
    qtbot.waitUntil(lambda: len(shown.indices) > mark, timeout=10000)
    qtbot.waitUntil(lambda: not notice.isVisible(), timeout=3000)
    assert cameras.attempts == 2
    hold.set()
    assert win.shutdown(5000)


def test_countdown_text():
    assert countdown_text(4.0) == "Reconnecting in 4 s…"
    assert countdown_text(3.97) == "Reconnecting in 4 s…"  # a timer a little early
    assert countdown_text(3.5) == "Reconnecting in 4 s…"
    assert countdown_text(0.02) == "Reconnecting…"
    assert countdown_text(-1.0) == "Reconnecting…"


# ============================================================================ 2. network wording
def test_a_lost_stream_gets_network_advice_not_camera_advice(qtbot, gui_settings, gui_model):
    def make(n: int) -> Source:
        if n == 0:
            return stream(square_frames(3))
        raise InputError(f"cannot open stream {URL}")

    win = make_window(qtbot, gui_settings, factory(CameraOpener(make), delays=(5.0,)))
    notice = win.shell.view.notice
    win.set_model(str(gui_model))
    win.set_source(URL, start=True)
    qtbot.waitUntil(lambda: notice.isVisible() and notice.cancel.isVisible(), timeout=10000)
    assert notice.title.text() == "Stream disconnected"
    assert notice.detail.text() == (f"{URL} stopped sending frames. trt-viewer keeps trying; "
                                    "check the network and that the stream is running.")
    assert "plugged in" not in notice.detail.text()
    notice.cancel.click()  # it no longer keeps trying, and does not say it does
    assert notice.detail.text() == f"{URL} stopped sending frames. Check the network and that the stream is running."
    assert win.shutdown(5000)


def test_lost_text_by_kind_of_source():
    assert lost_text("0", "Camera 0 stopped sending frames", True) == (
        "Camera 0 disconnected",
        "Camera 0 stopped sending frames. Check that it is plugged in and not used by another program.")
    for url in ("rtsp://h/c", "http://h/live.mjpg", "udp://@:5000", "srt://h:9000"):
        title, text = lost_text(url, f"{url} stopped sending frames", True)
        assert title == "Stream disconnected" and "network" in text and "plugged in" not in text


# ============================================================================ 3. nothing stale on screen
def files_or_failing_urls(spec: str) -> Source:
    if spec.startswith("rtsp://"):
        raise InputError(f"cannot open stream {spec}")
    return open_source(spec)


def test_a_failed_open_of_another_source_leaves_nothing_of_the_last_on_screen(qtbot, gui_settings, gui_model,
                                                                             gui_video):
    win = make_window(qtbot, gui_settings, factory(files_or_failing_urls))
    view, transport = win.shell.view, win.shell.transport
    shown = Shown(win)
    win.set_model(str(gui_model))
    win.set_source(str(gui_video))
    win.step()  # starts paused on the first frame
    qtbot.waitUntil(lambda: shown.indices == [0], timeout=15000)
    win.step()
    win.step()
    qtbot.waitUntil(lambda: shown.indices[-1:] == [2], timeout=10000)
    assert view.image is not None and "1 detection" in view._hud
    assert transport.position.text() not in ("–", "")  # the third frame's place

    with qtbot.waitSignal(win.errorShown, timeout=15000):
        win.set_source("rtsp://host/gone", start=True)
    qtbot.waitUntil(lambda: win.state == "stopped" and win.worker is None, timeout=5000)
    assert win.last_error == "cannot open stream rtsp://host/gone"
    assert view.image is None and win.packet is None  # the hint, not the last video's frame
    assert not any("detection" in line for line in view._hud)
    assert transport.position.text() == "–" and not transport.slider.isEnabled()
    assert win.shell.fps_label.text() == NO_RATE
    assert win.shell.state_label.text() == "Stopped"
    assert not win.actions_.snapshot.isEnabled()  # nothing on screen to save
    assert win.shutdown(5000)


def test_a_run_on_another_source_shows_nothing_of_the_last_while_it_opens(qtbot, gui_settings, gui_model,
                                                                          gui_video, gates):
    slow = gates()

    def opener(spec: str) -> Source:
        if spec.startswith("rtsp://"):
            slow.wait(10)
            return stream(square_frames(50), then="block", gate=slow)
        return open_source(spec)

    win = make_window(qtbot, gui_settings, factory(opener))
    view, transport = win.shell.view, win.shell.transport
    shown = Shown(win)
    win.set_model(str(gui_model))
    win.set_source(str(gui_video))
    win.step()
    qtbot.waitUntil(lambda: shown.indices == [0], timeout=15000)
    assert view.image is not None

    win.set_source(URL, start=True)
    qtbot.waitUntil(lambda: win.worker is not None and win.worker.spec.source == URL and win.state == "loading",
                    timeout=10000)
    assert view.image is None and win.packet is None
    assert not view._hud and transport.position.text() == "–"
    slow.set()
    qtbot.waitUntil(lambda: view.image is not None and transport.position.text() == "live", timeout=10000)
    assert win.shutdown(5000)


def test_the_same_source_started_again_keeps_its_last_frame_until_the_next(qtbot, gui_settings, gui_model, gui_video):
    win = make_window(qtbot, gui_settings, factory(open_source))
    shown = Shown(win)
    win.set_model(str(gui_model))
    win.set_source(str(gui_video))
    win.step()
    qtbot.waitUntil(lambda: shown.indices == [0], timeout=15000)
    win.stop()
    qtbot.waitUntil(lambda: win.worker is None, timeout=5000)
    image = win.shell.view.image
    win.start(paused=True)
    assert win.shell.view.image is image and win.packet is not None
    qtbot.waitUntil(lambda: shown.indices == [0, 0], timeout=15000)
    assert win.shutdown(5000)


def test_no_rate_is_shown_while_the_source_is_lost(qtbot, gui_settings, gui_model, gates):
    hold = gates()
    cameras = CameraOpener(lambda n: ScriptedCamera(square_frames(200), delay=0.01) if n == 0
                           else ScriptedCamera([], then="block", gate=hold))
    win = make_window(qtbot, gui_settings, factory(cameras, delays=(30.0,)))
    fps = win.shell.fps_label
    win.set_model(str(gui_model))
    win.set_source("0", start=True)
    qtbot.waitUntil(lambda: re.fullmatch(r"\d+\.\d FPS", fps.text()) is not None, timeout=15000)
    qtbot.waitUntil(lambda: win.state == "lost", timeout=15000)
    assert fps.text() == NO_RATE
    assert not any("FPS" in line for line in win.shell.view._hud)
    qtbot.wait(700)  # the rates' refresh does not bring it back
    assert fps.text() == NO_RATE
    hold.set()
    assert win.shutdown(5000)


# ============================================================================ 4. export while paused
def test_an_export_started_while_paused_begins_with_the_frame_on_screen(qtbot, gui_settings, gui_model, gui_video):
    win = make_window(qtbot, gui_settings)
    shown = Shown(win)
    win.set_model(str(gui_model))
    win.set_source(str(gui_video))
    win.step()
    qtbot.waitUntil(lambda: shown.indices == [0], timeout=15000)
    win.seek(5)
    qtbot.waitUntil(lambda: shown.indices[-1:] == [5], timeout=10000)
    assert win.state == "paused"

    win.actions_.export.trigger()  # E
    qtbot.waitUntil(lambda: win.actions_.export.isChecked(), timeout=10000)
    win.actions_.step.trigger()
    qtbot.waitUntil(lambda: shown.indices[-1:] == [6], timeout=10000)
    win.actions_.step.trigger()
    qtbot.waitUntil(lambda: shown.indices[-1:] == [7], timeout=10000)
    win.actions_.export.trigger()
    qtbot.waitUntil(lambda: not win.actions_.export.isChecked(), timeout=10000)
    assert win.shutdown(5000)

    exports = list(gui_settings.output_dir().glob("*.jsonl"))
    assert len(exports) == 1
    records = [json.loads(line) for line in exports[0].read_text().splitlines()]
    assert [r["frame"] for r in records] == [5, 6, 7]
    assert all(len(r["detections"]) == 1 for r in records)
