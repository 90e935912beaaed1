"""What a newcomer found: returning users get their own session (the demo one menu item away),
folders of images shown one image at a time and by name, class names chosen in the window,
and the smaller things (live sources, frame numbers, the demo's names, where a model runs)."""

from __future__ import annotations

import os
import re
import shutil
import subprocess
import sys
import threading
import time
import types
from pathlib import Path

import cv2
import pytest
from gui_fixtures import CameraOpener, ScriptedCamera, make_window, square_frames
from PySide6.QtCore import QRect
from PySide6.QtGui import QColor

from trt_viewer.gui import app
from trt_viewer.gui.model_panel import ModelPanel
from trt_viewer.gui.transport import TransportBar
from trt_viewer.gui.worker import Worker
from trt_viewer.run.session import SourceInfo


# ============================================================================ helpers
@pytest.fixture
def demo(monkeypatch, tmp_path, gui_model, gui_video):
    """A stand-in for trt_viewer.demo: a real (small) model and clip of its own."""
    folder = tmp_path / "site-packages" / "trt_viewer" / "demo" / "assets"
    folder.mkdir(parents=True)
    model = folder / "demo.onnx"
    shutil.copy(gui_model, model)
    clip = tmp_path / "cache" / "demo_clip.avi"
    clip.parent.mkdir()
    shutil.copy(gui_video, clip)
    module = types.ModuleType("trt_viewer.demo")
    module.gate = threading.Event()  # type: ignore[attr-defined]
    module.gate.set()  # type: ignore[attr-defined]

    def ensure_demo_video(progress: object = None) -> Path:
        module.gate.wait(10)  # type: ignore[attr-defined]
        return clip

    module.demo_model_path = lambda: model  # type: ignore[attr-defined]
    module.demo_video_path = lambda: clip  # type: ignore[attr-defined]
    module.ensure_demo_video = ensure_demo_video  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trt_viewer.demo", module)
    yield module
    module.gate.set()  # type: ignore[attr-defined]


def own_files(tmp_path: Path, gui_model: Path, gui_video: Path) -> tuple[str, str]:
    """The user's own model and video, somewhere of their own."""
    folder = tmp_path / "mine"
    folder.mkdir()
    model, video = folder / "own.onnx", folder / "own.avi"
    shutil.copy(gui_model, model)
    shutil.copy(gui_video, video)
    return str(model), str(video)


def image_folder(tmp_path: Path, n: int = 4) -> Path:
    folder = tmp_path / "photos"
    folder.mkdir()
    for i, frame in enumerate(square_frames(n)):
        cv2.imwrite(str(folder / f"img_{i:02d}.png"), frame)
    return folder


def menu_titled(window, title: str):
    for action in window.menuBar().actions():
        if action.text().replace("&", "") == title:
            return action.menu()
    return None


def menu_texts(menu) -> list[str]:
    return [a.text().replace("&", "") for a in menu.actions() if not a.isSeparator()]


class Shown:
    def __init__(self, win) -> None:
        self.indices: list[int] = []
        win.frameShown.connect(self.indices.append)


# ============================================================================ 1. the last session, and the demo
def test_a_returning_user_gets_the_last_session_loaded_not_the_demo(qtbot, gui_settings, demo, tmp_path,
                                                                    gui_model, gui_video):
    model, video = own_files(tmp_path, gui_model, gui_video)
    gui_settings.remember_session(model, video)
    startup = app.choose_startup(None, None, gui_settings)
    assert startup == app.Startup(model, video, False)  # not the demo, and not started
    window = make_window(qtbot, gui_settings)
    app.open_startup(window, startup)
    assert (window.model, window.source) == (model, video)
    qtbot.wait(300)
    assert window.worker is None and window.state == "stopped"  # a camera never switches on by surprise
    assert gui_settings.last_model() == model and gui_settings.last_source() == video


def test_a_first_start_plays_the_demo_without_remembering_it(qtbot, gui_settings, demo, tmp_path):
    startup = app.choose_startup(None, None, gui_settings)  # nothing saved: a first start
    assert startup.demo is demo and startup.start
    window = make_window(qtbot, gui_settings)
    shown = Shown(window)
    app.open_startup(window, startup)
    qtbot.waitUntil(lambda: len(shown.indices) >= 2, timeout=15000)
    assert window.model == str(demo.demo_model_path()) and window.source == str(demo.demo_video_path())
    # The demo is no session of the user's: the next start is a first start again.
    assert gui_settings.last_model() is None and gui_settings.last_source() is None
    assert gui_settings.recent_models() == [] and gui_settings.recent_sources() == []
    assert window.shutdown(5000)


def test_the_demo_from_the_help_menu_keeps_the_users_session(qtbot, gui_settings, demo, tmp_path,
                                                             gui_model, gui_video):
    model, video = own_files(tmp_path, gui_model, gui_video)
    window = make_window(qtbot, gui_settings)
    window.set_model(model)
    window.set_source(video)
    help_menu = menu_titled(window, "Help")
    item = next(a for a in help_menu.actions() if "Demo" in a.text())
    shown = Shown(window)
    item.trigger()
    qtbot.waitUntil(lambda: len(shown.indices) >= 2, timeout=15000)
    assert window.model == str(demo.demo_model_path()) and window.source == str(demo.demo_video_path())
    assert gui_settings.last_model() == model and gui_settings.last_source() == video
    assert str(demo.demo_model_path()) not in gui_settings.recent_models()
    # Back to one's own video with the demo's model: the video is remembered, the model stays one's own.
    other = tmp_path / "other.avi"
    shutil.copy(gui_video, other)
    window.set_source(str(other))
    assert gui_settings.last_model() == model and gui_settings.last_source() == str(other)
    assert window.shutdown(5000)


def test_while_the_demo_renders_the_status_and_the_notice_say_so_alone(qtbot, gui_settings, demo):
    demo.gate.clear()  # the clip takes its time
    window = make_window(qtbot, gui_settings)
    window.resize(900, 600)
    app.open_startup(window, app.choose_startup(None, None, gui_settings))
    view = window.shell.view
    qtbot.waitUntil(view.notice.isVisible, timeout=5000)
    assert not window.statusBar().currentMessage().startswith("Model chosen")
    assert "demo" in window.statusBar().currentMessage().lower()
    # Nothing but the notice on the view: the empty-window hint is not painted under it.
    picture = view.grab().toImage()
    ratio = picture.devicePixelRatio()
    card = view.notice.geometry()
    card = QRect(int(card.x() * ratio), int(card.y() * ratio), int(card.width() * ratio), int(card.height() * ratio))
    background = QColor("#101114").rgb()
    stray = [(x, y) for y in range(0, picture.height(), 3) for x in range(0, picture.width(), 3)
             if not card.adjusted(-4, -4, 4, 4).contains(x, y) and picture.pixel(x, y) != background]
    assert stray == []
    demo.gate.set()
    qtbot.waitUntil(lambda: window.packet is not None, timeout=15000)
    assert not view.notice.isVisible()
    assert window.shutdown(5000)


# ============================================================================ 2. folders of images
def test_a_folder_pauses_on_each_image_and_names_it(qtbot, window, gui_model, tmp_path):
    folder = image_folder(tmp_path)
    shown = Shown(window)
    window.set_model(str(gui_model))
    window.set_source(str(folder), start=True)
    qtbot.waitUntil(lambda: shown.indices == [0] and window.state == "paused", timeout=15000)
    qtbot.wait(400)
    assert shown.indices == [0] and window.state == "paused"  # it waits on the first image
    transport = window.shell.transport
    assert transport.position.text() == "img_00.png — 1 / 4"
    assert window.windowTitle().startswith("img_00.png — 1 / 4")
    assert transport.image_seconds.isVisible() and transport.image_seconds.currentText() == "pause"
    window.actions_.play.trigger()  # Space: the next image, and wait there
    qtbot.waitUntil(lambda: shown.indices == [0, 1] and window.state == "paused", timeout=10000)
    assert transport.position.text() == "img_01.png — 2 / 4"
    assert "img_01.png — 2 / 4" in window.windowTitle()


def test_the_last_image_is_said_and_snapshots_are_named_after_the_image(qtbot, window, gui_model, tmp_path,
                                                                        gui_settings):
    folder = image_folder(tmp_path, 3)
    shown = Shown(window)
    window.set_model(str(gui_model))
    window.set_source(str(folder), start=True)
    for n in (1, 2, 3):
        qtbot.waitUntil(lambda n=n: len(shown.indices) == n and window.state == "paused", timeout=15000)
        if n < 3:
            window.actions_.play.trigger()
    assert window.shell.view._badge == "Last image"
    with qtbot.waitSignal(window.outputs.saver.saved, timeout=10000):
        path = window.snapshot()
    assert path is not None and path.name.startswith("img_02_") and "_f" not in path.name
    assert path.parent == gui_settings.output_dir() and "photos" not in path.name
    window.actions_.play.trigger()
    qtbot.waitUntil(lambda: window.state == "ended", timeout=10000)
    message = window.statusBar().currentMessage()
    assert message.startswith("Last image") and "video" not in message
    assert window.shell.view._badge == "Last image"


def test_each_images_time_is_chosen_saved_and_sent_to_the_run(qtbot, gui_settings, gui_model, tmp_path):
    folder = image_folder(tmp_path, 6)
    specs = []

    def factory(spec):
        specs.append(spec)
        return Worker(spec)

    window = make_window(qtbot, gui_settings, factory)
    shown = Shown(window)
    window.set_model(str(gui_model))
    window.set_source(str(folder), start=True)
    qtbot.waitUntil(lambda: shown.indices == [0] and window.state == "paused", timeout=15000)
    assert specs[-1].image_seconds == 0.0
    transport = window.shell.transport
    transport.image_seconds.setCurrentIndex(transport.image_seconds.findText("1 s"))
    transport.image_seconds.activated.emit(transport.image_seconds.currentIndex())
    assert window.worker.player._cmd.image_seconds == 1.0
    each = next(a for a in menu_titled(window, "Playback").actions() if a.menu() and "Each" in a.text()).menu()
    assert [a.isChecked() for a in each.actions()] == [False, True, False, False]
    window.actions_.play.trigger()
    start = time.monotonic()
    qtbot.waitUntil(lambda: len(shown.indices) >= 3, timeout=10000)
    assert time.monotonic() - start >= 0.9  # held about a second each, not raced through
    assert window.state == "playing"
    assert window.shutdown(5000)
    second = make_window(qtbot, gui_settings, factory)  # saved for the next session
    assert second.shell.transport.image_seconds.currentText() == "1 s"
    second.set_model(str(gui_model))
    second.set_source(str(folder))
    second.start()
    assert specs[-1].image_seconds == 1.0
    assert second.shutdown(5000)


def test_the_per_image_time_is_offered_for_folders_only(qtbot, window, gui_video, tmp_path):
    folder = image_folder(tmp_path, 2)
    window.set_source(str(folder))
    assert window.shell.transport.image_seconds.isVisible()
    window.set_source(str(gui_video))
    assert not window.shell.transport.image_seconds.isVisible()


# ============================================================================ 3. class names
def test_class_names_chosen_in_the_window_reach_the_run_and_the_panel(qtbot, gui_settings, gui_model, gui_video,
                                                                      tmp_path):
    names = tmp_path / "labels" / "squares.txt"
    names.parent.mkdir()
    names.write_text("square\n")
    specs = []

    def factory(spec):
        specs.append(spec)
        return Worker(spec)

    window = make_window(qtbot, gui_settings, factory)
    model_menu = menu_titled(window, "Model")
    assert model_menu is not None and "Class Names…" in menu_texts(model_menu)
    window.actions_.loop.setChecked(True)
    window.set_model(str(gui_model))
    window.set_source(str(gui_video), start=True)
    qtbot.waitUntil(lambda: window.shell.model_panel.loaded, timeout=15000)
    assert "squares.txt" not in window.shell.model_panel.fields["classes"].text()
    assert window.chooser.set_names_file(str(names))  # restarts the run on them
    qtbot.waitUntil(lambda: window.shell.model_panel.fields["classes"].text() == "1 from squares.txt", timeout=15000)
    assert specs[-1].names_file == names
    assert window.shell.model_panel.fields["classes"].toolTip() == str(names)
    qtbot.waitUntil(lambda: window.shell.stats.classes.rowCount() == 1 and
                    window.shell.stats.classes.item(0, 0).text() == "square", timeout=10000)
    assert gui_settings.names_file(str(gui_model)) == str(names)  # remembered for this model
    window.stop()
    assert window.shutdown(5000)
    second = make_window(qtbot, gui_settings)
    second.set_model(str(gui_model))
    assert second.chooser.names_file == str(names)
    assert "squares.txt" in second.shell.model_panel.fields["classes"].text()
    second.chooser.set_names_file(None)  # the model's own again
    assert gui_settings.names_file(str(gui_model)) is None
    assert second.shutdown(5000)


def test_an_empty_names_file_is_refused_when_chosen(qtbot, window, gui_model, tmp_path):
    empty = tmp_path / "empty.txt"
    empty.write_text("\n")
    window.set_model(str(gui_model))
    with qtbot.waitSignal(window.errorShown) as error:
        assert not window.chooser.set_names_file(str(empty))
    assert "empty" in error.args[0]
    assert window.chooser.names_file is None


def test_the_viewer_takes_names_on_its_command_line(tmp_path, gui_model, gui_video):
    from trt_viewer.cli import build_parser

    assert build_parser().parse_args(["--names", "n.txt"]).names == "n.txt"
    names = tmp_path / "n.txt"
    names.write_text("square\n")
    driver = (
        "import os, signal, sys\n"
        "import trt_viewer.gui.window as w\n"
        "from PySide6.QtCore import QTimer\n"
        "show = w.MainWindow.show\n"
        "def shown(self):\n"
        "    show(self)\n"
        "    QTimer.singleShot(300, lambda: (print('names=' + str(self.chooser.names_file), flush=True),"
        " os.kill(os.getpid(), signal.SIGINT)))\n"
        "w.MainWindow.show = shown\n"
        "from trt_viewer.cli import main\n"
        "sys.exit(main(sys.argv[1:]))\n"
    )
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", driver, "--model", str(gui_model), "--source", str(gui_video),
                          "--names", str(names)], capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert f"names={names}" in out.stdout
    missing = subprocess.run([sys.executable, "-c", driver, "--names", str(tmp_path / "nope.txt")],
                             capture_output=True, text=True, timeout=120, env=env)
    assert missing.returncode == 2 and "class names file" in missing.stderr and "does not exist" in missing.stderr


# ============================================================================ 4. the smaller things
def test_loop_and_real_time_are_off_for_live_sources(qtbot, gui_settings, gui_model, gui_video):
    opener = CameraOpener(lambda n: ScriptedCamera(square_frames(200), delay=0.02))
    window = make_window(qtbot, gui_settings, lambda spec: Worker(spec, source_opener=opener))
    toggles = (window.actions_.loop, window.actions_.realtime, window.shell.transport.loop,
               window.shell.transport.realtime)
    window.set_model(str(gui_model))
    window.set_source(str(gui_video))
    assert all(t.isEnabled() for t in toggles)
    window.set_source("0", start=True)
    assert not any(t.isEnabled() for t in toggles)  # before it opens: a camera is live
    qtbot.waitUntil(lambda: window.source_info is not None, timeout=15000)
    assert not any(t.isEnabled() for t in toggles)
    assert "live" in window.shell.transport.loop.toolTip().lower()
    window.stop()
    window.set_source(str(gui_video))
    assert all(t.isEnabled() for t in toggles)
    assert window.shutdown(5000)


def test_videos_show_the_frame_number_beside_the_time(qtbot):
    bar = TransportBar([])
    qtbot.addWidget(bar)
    bar.set_source(SourceInfo(spec="clip.mp4", live=False, length=9000, fps=25.0, seekable=True))
    bar.set_position(2074, 83.0)
    assert bar.position.text() == "1:23 · frame 2075 / 9000"
    assert bar.duration.text() == "6:00"


def test_a_names_file_is_shown_by_its_name_and_the_execution_provider_is_said(qtbot):
    panel = ModelPanel()
    qtbot.addWidget(panel)
    source = "/home/someone/.local/lib/python3.12/site-packages/trt_viewer/demo/assets/demo.names"
    info = {"model": "/x/demo.onnx", "backend": "onnxruntime", "precision": "float32 (CUDA)",
            "input_size": [416, 416], "layout": "raw", "preset": "current", "names": ["car", "person", "bike"],
            "names_source": source, "inputs": ["images"], "outputs": ["output"]}
    panel.set_info(info)
    classes = panel.fields["classes"]
    assert classes.text() == "3 from demo.names" and classes.toolTip() == source
    runs_on = panel.fields["runs_on"].text()
    assert "GPU" in runs_on and "CUDAExecutionProvider" in runs_on
    panel.set_info({**info, "precision": "float32 (CPU)", "names_source": "COCO"})
    assert panel.fields["runs_on"].text().startswith("CPU") and "CPUExecutionProvider" in panel.fields["runs_on"].text()
    assert "pip install onnxruntime-gpu" in panel.fields["runs_on"].toolTip()
    assert panel.fields["classes"].text() == "3 (COCO)"
    panel.set_info({**info, "backend": "tensorrt", "precision": "fp16", "device": "NVIDIA H200"})
    assert panel.fields["runs_on"].text() == "GPU · NVIDIA H200 (TensorRT)"


def test_the_model_panel_says_where_a_running_model_runs(qtbot, window, gui_model, gui_video):
    window.actions_.loop.setChecked(True)
    window.set_model(str(gui_model))
    window.set_source(str(gui_video), start=True)
    qtbot.waitUntil(lambda: window.shell.model_panel.fields["backend"].text() == "onnxruntime", timeout=15000)
    fields = window.shell.model_panel.fields
    assert re.search(r"(CPU|CUDA)ExecutionProvider", fields["runs_on"].text())
    assert fields["precision"].text() == "float32"  # the provider is said once, in its own row

