"""The viewer's settings keep a model on a Triton server as they keep a model file: the last
session's model and Recent Models give a well-formed Triton URL back (no server asked, the
URL never looked up as a file), and the window opens on it at the next start.

pytest-qt, offscreen; no Triton server or client is needed.
"""

from __future__ import annotations

from pathlib import Path

import pytest
from gui_fixtures import make_window

from trt_viewer.gui import app

URL = "grpc://127.0.0.1:1/squares/2?shm=off&timeout=3"  # port 1: nothing listens, nothing is asked


def test_a_triton_model_is_the_last_sessions_model_and_a_recent_one(gui_settings, gui_video: Path) -> None:
    gui_settings.remember_session(URL, str(gui_video))
    gui_settings.add_recent_model(URL)
    assert gui_settings.last_model() == URL
    assert gui_settings.recent_models() == [URL]
    assert app.choose_startup(None, None, gui_settings) == app.Startup(URL, str(gui_video), False)


@pytest.mark.parametrize("url", [
    "grpc://127.0.0.1:1/squares?colour=red",  # an option the chooser refuses
    "http://127.0.0.1:1",                     # no model named
    "grpc://127.0.0.1:1/m?token=secret",      # a secret in the URL
])
def test_a_triton_url_the_chooser_refuses_is_not_restored(gui_settings, url: str) -> None:
    gui_settings.remember_session(url, "")
    gui_settings.add_recent_model(url)
    assert gui_settings.last_model() is None
    assert gui_settings.recent_models() == []


def test_a_url_is_never_taken_for_a_file(gui_settings, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    # Path("grpc://h/a/b/c.onnx") is the relative path grpc:/h/a/b/c.onnx: with such a file
    # in the working folder, a check by file would keep this malformed URL (a version "b").
    url = "grpc://h/a/b/c.onnx"
    monkeypatch.chdir(tmp_path)
    (tmp_path / "grpc:" / "h" / "a" / "b").mkdir(parents=True)
    (tmp_path / "grpc:" / "h" / "a" / "b" / "c.onnx").write_bytes(b"x")
    assert Path(url).is_file()
    gui_settings.remember_session(url, "")
    assert gui_settings.last_model() is None


def test_the_window_opens_on_the_last_sessions_triton_model(qtbot, gui_settings, gui_video: Path) -> None:
    gui_settings.remember_session(URL, str(gui_video))
    window = make_window(qtbot, gui_settings)
    app.open_startup(window, app.choose_startup(None, None, gui_settings))
    assert (window.model, window.source) == (URL, str(gui_video))
    qtbot.wait(200)
    assert window.worker is None and window.state == "stopped"  # loaded, not started: no server asked yet
    assert gui_settings.last_model() == URL
    assert window.shutdown(5000)
