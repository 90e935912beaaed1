"""The main window driven as a user would: pick, play, adjust, save, break things, close."""

from __future__ import annotations

import json
import re
import shutil
import threading

import cv2
import numpy as np
from gui_fixtures import SCORE, CameraOpener, ScriptedCamera, make_window, square_frames, write_video
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDropEvent

from trt_viewer.core.drawing import class_colour
from trt_viewer.gui.worker import Worker


class Shown:
    """Indices and detection counts of the frames the window put on screen."""

    def __init__(self, win) -> None:
        self.win = win
        self.indices: list[int] = []
        self.counts: list[int] = []
        win.frameShown.connect(self._shown)

    def _shown(self, index: int) -> None:
        self.indices.append(index)
        self.counts.append(len(self.win.packet.detections))


def play(qtbot, win, model, source, frames: int = 3) -> Shown:
    shown = Shown(win)
    win.set_model(str(model))
    win.set_source(str(source), start=True)
    qtbot.waitUntil(lambda: len(shown.indices) >= frames, timeout=15000)
    return shown


def drop(win, paths: list[str]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(p) for p in paths])
    event = QDropEvent(QPointF(10, 10), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                       Qt.KeyboardModifier.NoModifier)
    win.dropEvent(event)


def test_start_and_stop(qtbot, window, gui_model, gui_video):
    window.actions_.loop.setChecked(True)
    play(qtbot, window, gui_model, gui_video)
    assert window.state == "playing" and window.worker is not None
    worker = window.worker
    window.stop()
    qtbot.waitUntil(lambda: worker.isFinished(), timeout=5000)
    qtbot.waitUntil(lambda: window.worker is None)
    assert window.state == "stopped"
    assert window.shell.state_label.text() == "Stopped"
    assert window.shell.view.image is not None  # the last frame stays on screen


def test_frames_arrive_and_the_fps_label_updates(qtbot, window, gui_model, gui_video):
    window.actions_.loop.setChecked(True)
    assert window.shell.fps_label.text() == "– FPS"
    shown = play(qtbot, window, gui_model, gui_video, frames=10)
    qtbot.waitUntil(lambda: re.fullmatch(r"\d+\.\d FPS", window.shell.fps_label.text()) is not None, timeout=10000)
    assert float(window.shell.fps_label.text().split()[0]) > 0
    assert window.shell.view.image is not None and not window.shell.view.image.isNull()
    qtbot.waitUntil(lambda: window.shell.stats.frames.text() not in ("0", ""), timeout=5000)
    stages = [window.shell.stats.stages.item(r, 0).text() for r in range(window.shell.stats.stages.rowCount())]
    assert {"Read", "Letterbox", "Inference", "Decode + NMS", "Draw"} <= set(stages)
    qtbot.waitUntil(lambda: window.shell.stats.classes.rowCount() == 1, timeout=5000)
    assert window.shell.stats.classes.item(0, 0).text() == "class_0"
    assert window.shell.model_panel.fields["backend"].text() == "onnxruntime"
    assert window.shell.model_panel.fields["input_size"].text().startswith("64 × 96")
    assert shown.counts[-1] == 1


def test_confidence_slider_changes_the_next_frames_detections(qtbot, window, gui_model, gui_video):
    window.actions_.loop.setChecked(True)
    shown = play(qtbot, window, gui_model, gui_video)
    assert shown.counts[-1] == 1
    worker = window.worker
    window.shell.detection.conf.slider.setValue(round(SCORE * 100) + 10)  # above the square's score
    mark = len(shown.counts)
    qtbot.waitUntil(lambda: 0 in shown.counts[mark:], timeout=10000)
    first_zero = mark + shown.counts[mark:].index(0)
    qtbot.waitUntil(lambda: len(shown.counts) > first_zero + 5, timeout=10000)
    assert set(shown.counts[first_zero:]) == {0}
    window.shell.detection.conf.slider.setValue(30)
    mark = len(shown.counts)
    qtbot.waitUntil(lambda: 1 in shown.counts[mark:], timeout=10000)
    assert window.worker is worker  # applied without a restart


def test_class_filter_and_paused_redo(qtbot, window, gui_model, gui_video):
    window.actions_.loop.setChecked(True)  # not over before the pause (a loaded CI machine)
    shown = play(qtbot, window, gui_model, gui_video, frames=1)
    window.pause()
    qtbot.waitUntil(lambda: window.state == "paused", timeout=5000)
    qtbot.wait(100)
    index = shown.indices[-1]
    mark = len(shown.indices)
    assert window.shell.class_filter.classes.count() == 2
    window.shell.class_filter.set_class_checked(0, False)
    assert window.shell.class_filter.summary.text() == "1 of 2 kept"
    qtbot.waitUntil(lambda: len(shown.indices) > mark, timeout=10000)
    assert shown.indices[-1] == index and shown.counts[-1] == 0
    window.shell.detection.agnostic.setChecked(True)
    window.shell.class_filter.set_class_checked(0, True)
    qtbot.waitUntil(lambda: shown.counts[-1] == 1, timeout=10000)
    assert shown.indices[-1] == index


def test_a_bad_model_shows_the_error_and_the_window_stays_usable(qtbot, window, tmp_path, gui_model, gui_video):
    bad = tmp_path / "bad.onnx"
    bad.write_bytes(b"not a model at all")
    with qtbot.waitSignal(window.errorShown, timeout=15000) as error:
        window.set_model(str(bad))
        window.set_source(str(gui_video), start=True)
    assert error.args == ["model bad.onnx is not an ONNX model (it cannot be parsed)"]
    qtbot.waitUntil(lambda: window.state == "stopped" and window.worker is None, timeout=5000)
    assert "not an ONNX model" in window.statusBar().currentMessage()
    assert window.messages.error_box is not None and window.messages.error_box.isVisible()
    assert "not an ONNX model" in window.messages.error_box.text()
    # Choosing a good model plays at once: the window recovered.
    shown = Shown(window)
    window.actions_.realtime.setChecked(True)  # paced, so the 30 frames are not over before two are shown
    window.set_model(str(gui_model), start=True)
    qtbot.waitUntil(lambda: len(shown.indices) >= 2, timeout=15000)


def test_missing_files_are_refused_before_anything_runs(qtbot, window, tmp_path):
    assert not window.set_model(str(tmp_path / "gone.onnx"))
    assert window.last_error == f"model {tmp_path / 'gone.onnx'} does not exist"
    assert not window.set_source(str(tmp_path / "gone.mp4"))
    assert window.last_error == f"source {tmp_path / 'gone.mp4'} does not exist"
    assert window.model is None and window.source is None and window.worker is None


def test_switching_source_while_running_restarts_cleanly(qtbot, window, gui_model, gui_video, tmp_path):
    other = write_video(tmp_path / "other.avi", square_frames(40))
    window.actions_.loop.setChecked(True)
    play(qtbot, window, gui_model, gui_video)
    first = window.worker
    shown = Shown(window)
    window.set_source(str(other))  # no start=True: running means restart
    qtbot.waitUntil(lambda: window.worker is not None and window.worker is not first, timeout=10000)
    assert first.isFinished()
    qtbot.waitUntil(lambda: len(shown.indices) >= 3, timeout=15000)
    assert window.source_info.length == 40
    assert window.windowTitle() == "other.avi · squares.onnx — trt-viewer"


def test_closing_mid_run_joins_the_thread(qtbot, gui_settings, gui_model, gui_video):
    win = make_window(qtbot, gui_settings)
    win.actions_.loop.setChecked(True)
    play(qtbot, win, gui_model, gui_video, frames=5)
    worker = win.worker
    assert worker.isRunning()
    assert win.close()  # accepted: every worker joined within the close budget
    assert worker.isFinished()
    assert not win.isVisible()


def test_closing_while_a_camera_read_blocks(qtbot, gui_settings, gui_model):
    gate = threading.Event()
    cameras = CameraOpener(lambda n: ScriptedCamera(square_frames(2), then="block", gate=gate))
    win = make_window(qtbot, gui_settings, lambda spec: Worker(spec, source_opener=cameras))
    try:
        win.set_model(str(gui_model))
        win.set_source("0", start=True)
        qtbot.waitUntil(lambda: bool(cameras.opened) and cameras.opened[0].blocked.is_set(), timeout=10000)
        worker = win.worker
        assert win.close()
        assert worker.isFinished()
    finally:
        gate.set()


def test_a_camera_that_disappears_offers_to_reconnect(qtbot, gui_settings, gui_model):
    cameras = CameraOpener(lambda n: ScriptedCamera(square_frames(3)))
    win = make_window(qtbot, gui_settings, lambda spec: Worker(spec, source_opener=cameras))
    shown = Shown(win)
    win.set_model(str(gui_model))
    win.set_source("0", start=True)
    qtbot.waitUntil(lambda: win.state == "lost", timeout=10000)
    notice = win.shell.view.notice
    assert notice.isVisible() and notice.button.isVisible()
    assert notice.title.text() == "Camera 0 disconnected"
    assert "stopped sending frames" in win.statusBar().currentMessage()
    mark = len(shown.indices)
    notice.button.click()
    qtbot.waitUntil(lambda: len(shown.indices) > mark, timeout=10000)
    assert len(cameras.opened) == 2
    qtbot.waitUntil(lambda: not notice.isVisible() or win.state == "lost", timeout=5000)
    assert win.shutdown(5000)


def test_video_end_stops_then_space_plays_again(qtbot, window, gui_model, gui_video):
    # At its own 25 fps: unpaced, the 30 frames can all be processed before the window
    # takes a second one (it shows only the newest), and fewer than 3 would be shown.
    window.actions_.realtime.setChecked(True)
    shown = play(qtbot, window, gui_model, gui_video)
    qtbot.waitUntil(lambda: window.state == "ended", timeout=15000)
    qtbot.waitUntil(lambda: shown.indices[-1:] == [29])
    assert window.shell.transport.slider.value() == 29
    mark = len(shown.indices)
    window.actions_.play.trigger()
    # Played from the start again (the view shows the newest frames, not necessarily 0).
    qtbot.waitUntil(lambda: any(i < 29 for i in shown.indices[mark:]), timeout=10000)


def test_seek_step_and_step_back(qtbot, window, gui_model, gui_video):
    shown = Shown(window)
    window.set_model(str(gui_model))
    window.set_source(str(gui_video))
    window.step()  # stopped: starts paused on the first frame
    qtbot.waitUntil(lambda: shown.indices == [0], timeout=15000)
    assert window.state == "paused"
    assert window.shell.transport.slider.isEnabled() and window.shell.transport.slider.maximum() == 29
    window.shell.transport.slider.seekRequested.emit(12)
    qtbot.waitUntil(lambda: shown.indices[-1:] == [12], timeout=10000)
    window.actions_.step.trigger()
    qtbot.waitUntil(lambda: shown.indices[-1:] == [13], timeout=10000)
    window.actions_.step_back.trigger()
    qtbot.waitUntil(lambda: shown.indices[-1:] == [12], timeout=10000)
    assert window.shell.transport.position.text() == "0:00 · frame 13 / 30"  # index 12 at 25 fps
    assert window.shell.transport.duration.text() == "0:01"


def boxes_drawn(image: np.ndarray) -> bool:
    """Whether the class-0 box colour covers a box outline's worth of pixels."""
    near = np.abs(image.astype(int) - np.array(class_colour(0))).max(axis=2) <= 40
    return int(near.sum()) >= 30


def test_snapshot_record_and_export(qtbot, window, gui_model, gui_video, gui_settings):
    window.actions_.loop.setChecked(True)
    play(qtbot, window, gui_model, gui_video)
    with qtbot.waitSignal(window.outputs.saver.saved, timeout=10000) as saved:
        path = window.snapshot()
    assert saved.args == [str(path)] and path.parent == gui_settings.output_dir()
    image = cv2.imread(str(path))
    assert image.shape == (64, 96, 3)
    assert boxes_drawn(image)  # full size, with the detection drawn on it

    window.actions_.record.trigger()
    window.actions_.export.trigger()
    qtbot.waitUntil(lambda: window.shell.view._recording, timeout=10000)
    assert window.actions_.record.isChecked() and window.actions_.export.isChecked()
    worker = window.worker
    start = worker.processed
    qtbot.waitUntil(lambda: worker.processed > start + 20, timeout=15000)
    window.actions_.record.trigger()
    window.actions_.export.trigger()
    qtbot.waitUntil(lambda: not window.actions_.export.isChecked() and not window.shell.view._recording, timeout=10000)
    videos = list(gui_settings.output_dir().glob("*.mp4"))
    exports = list(gui_settings.output_dir().glob("*.jsonl"))
    assert len(videos) == 1 and len(exports) == 1
    capture = cv2.VideoCapture(str(videos[0]))
    assert capture.get(cv2.CAP_PROP_FRAME_COUNT) >= 20
    ok, recorded = capture.read()
    capture.release()
    assert ok and recorded.shape == (64, 96, 3) and boxes_drawn(recorded)
    records = [json.loads(line) for line in exports[0].read_text().splitlines()]
    assert len(records) >= 20
    first = records[0]
    assert set(first) == {"frame", "source", "width", "height", "detections"}
    assert (first["width"], first["height"]) == (96, 64)
    assert first["detections"][0]["label"] == "class_0"


def test_record_when_nothing_runs_is_refused_politely(qtbot, window):
    window.actions_.record.setEnabled(True)
    window.actions_.record.trigger()
    assert not window.actions_.record.isChecked()
    assert window.statusBar().currentMessage() == "Start playing first, then record or export"


def test_drop_a_model_and_a_video_starts_and_a_stranger_file_is_refused(qtbot, window, gui_model, gui_video, tmp_path):
    shown = Shown(window)
    notes = tmp_path / "notes.txt"
    notes.write_text("hello")
    with qtbot.waitSignal(window.errorShown) as error:
        drop(window, [str(notes)])
    assert error.args == [
        "notes.txt is neither a model (.onnx, .engine, .plan, .trt) nor a video, image or folder of images"
    ]
    assert window.model is None and window.worker is None
    window.actions_.realtime.setChecked(True)  # paced, so the 30 frames are not over before two are shown
    drop(window, [str(gui_video), str(gui_model)])
    assert window.model == str(gui_model) and window.source == str(gui_video)
    qtbot.waitUntil(lambda: len(shown.indices) >= 2, timeout=15000)


def test_settings_and_recent_files_survive_a_restart(qtbot, gui_settings, gui_model, gui_video, tmp_path):
    first = make_window(qtbot, gui_settings)
    moved = tmp_path / "moved.avi"
    shutil.copy(gui_video, moved)
    first.set_model(str(gui_model))
    first.set_source(str(moved))
    first.set_source(str(gui_video))
    first.shell.detection.conf.slider.setValue(55)
    first.shell.detection.set_preset("legacy")
    first.actions_.loop.setChecked(True)
    assert first.close()
    moved.unlink()  # gone by the next start: not offered again
    assert gui_settings.last_model() == str(gui_model)
    assert gui_settings.last_source() == str(gui_video)
    assert gui_settings.recent_sources() == [str(gui_video)]
    second = make_window(qtbot, gui_settings)
    assert second.shell.detection.config().conf == 0.55
    assert second.shell.detection.preset_name() == "legacy"
    assert second.actions_.loop.isChecked() and second.shell.transport.loop.isChecked()
    assert second.close()


def test_shortcuts_are_bound(qtbot, window):
    a = window.actions_
    keys = {action.shortcut().toString(): action for action in (
        a.play, a.step, a.snapshot, a.record, a.fullscreen, a.leave_fullscreen, a.open, a.quit)}
    assert set(keys) == {"Space", "Right", "S", "R", "F", "Esc", "Ctrl+O", "Ctrl+Q"}
    for action in keys.values():
        assert action in window.actions()  # live with menus and toolbars hidden


def test_fullscreen_hides_the_chrome_and_escape_leaves(qtbot, window):
    window.set_fullscreen(True)
    assert window.actions_.fullscreen.isChecked()
    assert not window.shell.toolbar.isVisible() and not window.shell.detection_dock.isVisible()
    window.actions_.leave_fullscreen.trigger()
    assert not window.actions_.fullscreen.isChecked()
    assert window.shell.toolbar.isVisible() and window.shell.detection_dock.isVisible()


def test_real_model_finds_people_in_the_real_video(qtbot, window, data_dir):
    """Optional (TRT_VIEWER_TEST_DATA): YOLOX-Nano on people.mp4, as a new user would start."""
    shown = Shown(window)
    window.set_model(str(data_dir / "models/yolox_nano.onnx"))
    window.set_source(str(data_dir / "media/people.mp4"), start=True)
    qtbot.waitUntil(lambda: len(shown.indices) >= 5, timeout=30000)
    window.seek(415)  # someone is in the middle of the room
    qtbot.waitUntil(lambda: any(i >= 415 for i in shown.indices), timeout=15000)
    qtbot.waitUntil(lambda: "person" in window.packet.labels, timeout=15000)
    assert window.shell.model_panel.fields["classes"].text() == "80 (COCO)"
    assert window.shell.model_panel.fields["input_size"].text().startswith("416 × 416")
