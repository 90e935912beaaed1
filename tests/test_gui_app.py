"""`trt-viewer` as a user starts it: what it opens on, and Ctrl+C in the terminal."""

from __future__ import annotations

import os
import re
import subprocess
import sys
import types
from pathlib import Path

import pytest
from gui_fixtures import make_window

from trt_viewer.gui import app

# Runs the real CLI entry point; a hook sends SIGINT to the process itself once the
# window has shown `FRAMES` frames (or at once, with no model), as Ctrl+C in a terminal.
DRIVER = r"""
import os, signal, sys
import trt_viewer.gui.window as w

FRAMES = int(os.environ["DRIVER_FRAMES"])
shown = [0]
original_show = w.MainWindow.show

def on_frame(index):
    shown[0] += 1
    if shown[0] == FRAMES:
        os.kill(os.getpid(), signal.SIGINT)

def show(self):
    self.frameShown.connect(on_frame)
    original_show(self)
    if FRAMES == 0:
        from PySide6.QtCore import QTimer
        QTimer.singleShot(200, lambda: os.kill(os.getpid(), signal.SIGINT))

w.MainWindow.show = show
from trt_viewer.cli import main
code = main(sys.argv[1:])
print(f"exit={code} frames={shown[0]}", flush=True)
sys.exit(code)
"""


def run_cli(tmp_path: Path, args: list[str], frames: int) -> subprocess.CompletedProcess[str]:
    env = dict(
        os.environ, QT_QPA_PLATFORM="offscreen", DRIVER_FRAMES=str(frames),
        XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path),  # the user's settings stay untouched
    )
    return subprocess.run([sys.executable, "-c", DRIVER, *args], capture_output=True, text=True,
                          timeout=120, env=env)


def test_ctrl_c_in_the_terminal_closes_the_running_window_cleanly(tmp_path, gui_model, gui_video):
    out = run_cli(tmp_path, ["--model", str(gui_model), "--source", str(gui_video)], frames=5)
    assert out.returncode == 0, out.stderr[-2000:]
    exit_line = out.stdout.strip().splitlines()[-1]
    assert exit_line.startswith("exit=0 frames=") and int(exit_line.split("=")[-1]) >= 5
    assert "Destroyed while thread" not in out.stderr
    # The close went through closeEvent: the session was saved for next time.
    conf = (tmp_path / "config" / "trt-viewer" / "trt-viewer.conf").read_text()
    assert str(gui_video) in conf and str(gui_model) in conf


def test_the_empty_window_opens_and_closes(tmp_path):
    out = run_cli(tmp_path, [], frames=0)
    assert out.returncode == 0, out.stderr[-2000:]
    assert "exit=0 frames=0" in out.stdout


class FakeSettings:
    def __init__(self, model: str | None = None, source: str | None = None) -> None:
        self._model, self._source = model, source

    def last_model(self) -> str | None:
        return self._model

    def last_source(self) -> str | None:
        return self._source


@pytest.fixture
def demo_module(monkeypatch, tmp_path):
    module = types.ModuleType("trt_viewer.demo")
    model, video = tmp_path / "demo.onnx", tmp_path / "demo.mp4"
    module.demo_model_path = lambda: model  # type: ignore[attr-defined]
    module.ensure_demo_video = lambda progress=None: (video.write_bytes(b"v"), video)[1]  # type: ignore[attr-defined]
    monkeypatch.setitem(sys.modules, "trt_viewer.demo", module)
    return model, video


def test_startup_with_both_given_starts_at_once():
    assert app.choose_startup("m.onnx", "v.mp4", FakeSettings("x", "y")) == app.Startup("m.onnx", "v.mp4", True)


def test_a_first_start_with_nothing_given_plays_the_demo(demo_module):
    model, _ = demo_module
    model.write_bytes(b"m")
    startup = app.choose_startup(None, None, FakeSettings(None, None))  # no last session
    assert (startup.model, startup.source, startup.start) == (str(model), None, True)
    assert startup.demo is sys.modules["trt_viewer.demo"]  # its clip is made after the window shows


def test_startup_without_a_demo_model_restores_the_last_session_without_playing(demo_module):
    # The demo module is there but its model is not built: the last session, not started.
    startup = app.choose_startup(None, None, FakeSettings("last.onnx", "last.mp4"))
    assert startup == app.Startup("last.onnx", "last.mp4", False)


def test_startup_without_a_demo_module(monkeypatch):
    monkeypatch.setitem(sys.modules, "trt_viewer.demo", None)  # import raises ImportError
    assert app.choose_startup(None, None, FakeSettings(None, None)) == app.Startup(None, None, False)


def test_startup_with_one_given_takes_the_other_from_the_last_session():
    assert app.choose_startup("m.onnx", None, FakeSettings("x", "y")) == app.Startup("m.onnx", "y", False)
    assert app.choose_startup(None, "v.mp4", FakeSettings("x", None)) == app.Startup("x", "v.mp4", False)


def test_the_demo_clip_is_made_after_the_window_shows_then_plays(qtbot, demo_module, gui_settings,
                                                                  gui_model, gui_video):
    sys.modules["trt_viewer.demo"].ensure_demo_video = lambda progress=None: gui_video  # type: ignore[attr-defined]
    window = make_window(qtbot, gui_settings)
    window.actions_.loop.setChecked(True)  # still playing when the test looks, however loaded the machine
    window.set_model(str(gui_model))
    with qtbot.waitSignal(window.frameShown, timeout=15000):
        app._DemoClip(window, sys.modules["trt_viewer.demo"])
    assert window.source == str(gui_video) and window.state == "playing"
    assert window.shutdown(5000)


def test_a_demo_clip_that_cannot_be_made_is_an_error_not_a_crash(qtbot, gui_settings):
    def fail(progress=None):
        raise OSError("disk full")

    demo = types.SimpleNamespace(ensure_demo_video=fail)
    window = make_window(qtbot, gui_settings)
    with qtbot.waitSignal(window.errorShown, timeout=5000) as error:
        app._DemoClip(window, demo)
    assert error.args == ["the demo clip could not be made: disk full"]


def test_the_last_session_is_checked_before_use(gui_settings, gui_model, tmp_path):
    gone = tmp_path / "gone.mp4"
    gui_settings.remember_session(str(gui_model), str(gone))
    assert gui_settings.last_model() == str(gui_model)
    assert gui_settings.last_source() is None
    gui_settings.remember_session(str(tmp_path / "gone.onnx"), "0")
    assert gui_settings.last_model() is None
    assert gui_settings.last_source() == "0"  # cameras cannot be checked without opening them


def test_pyside_6_12_0_on_python_3_11_is_refused(monkeypatch):
    import PySide6

    monkeypatch.setattr(PySide6, "__version__", "6.12.0")
    monkeypatch.setattr(sys, "version_info", (3, 11, 7, "final", 0))
    with pytest.raises(app.TrtViewerError, match=re.escape("pip install 'PySide6-Essentials!=6.12.0'")):
        app._check_pyside()


def test_sigterm_closes_cleanly_too(tmp_path, gui_model, gui_video):
    driver = DRIVER.replace("signal.SIGINT", "signal.SIGTERM")
    env = dict(os.environ, QT_QPA_PLATFORM="offscreen", DRIVER_FRAMES="3",
               XDG_CONFIG_HOME=str(tmp_path / "config"), HOME=str(tmp_path))
    out = subprocess.run([sys.executable, "-c", driver, "--model", str(gui_model), "--source", str(gui_video)],
                         capture_output=True, text=True, timeout=120, env=env)
    assert out.returncode == 0, out.stderr[-2000:]
    assert out.stdout.strip().splitlines()[-1].startswith("exit=0")


def test_closing_the_window_ends_a_demo_render_at_its_next_frame(qtbot, gui_settings, tmp_path):
    """The window closing while the clip renders stops the render (its part-written file
    goes) and joins its thread, instead of the process exiting with FFmpeg mid-write."""
    import threading

    frames, part = [], tmp_path / "clip.part"
    started = threading.Event()

    def render(progress=None):
        part.write_bytes(b"")
        try:
            for n in range(10_000):
                started.set()
                progress(n, 10_000)
                frames.append(n)
                threading.Event().wait(0.01)
        finally:
            part.unlink()
        return tmp_path / "clip.mp4"

    window = make_window(qtbot, gui_settings)
    clip = app._DemoClip(window, types.SimpleNamespace(ensure_demo_video=render))
    window.demo.clip = clip
    assert started.wait(5)
    with qtbot.assertNotEmitted(clip.ready), qtbot.assertNotEmitted(clip.failed):
        assert window.shutdown(5000)
        qtbot.wait(50)
    assert not clip._thread.is_alive() and not part.exists() and len(frames) < 10_000
