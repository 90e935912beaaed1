"""The viewer and Triton: File ▸ Triton Server… (gui/triton_dialog.py) tests the connection
before a model URL is taken, a bad URL or an unreachable server is one line, and a model
on the real Triton test server (tests/triton_server.py) plays in the window like a file.

pytest-qt, offscreen. The tests that need the server skip, with the reason, where its
environment cannot be made; CI sets TRT_VIEWER_REQUIRE_TRITON=1, which fails them instead.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from triton_server import Served, TritonServer, free_ports, server_or_skip

pytest.importorskip("tritonclient.grpc")

from PySide6.QtCore import QTimer
from PySide6.QtWidgets import QApplication

from trt_viewer.gui.triton_dialog import TritonDialog, model_url


@pytest.fixture(scope="module")
def server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[TritonServer]:
    import modelgen
    from gui_fixtures import SIZE

    model = modelgen.yolox_model(tmp_path_factory.mktemp("triton_gui") / "squares.onnx", size=SIZE)
    python = server_or_skip()
    srv = TritonServer([Served("squares", model, labels=("square", "other"))], python=python).start()
    yield srv
    left = srv.stop()
    assert left == [], left


def line_of(qtbot, dialog: TritonDialog) -> str:
    dialog.test()
    qtbot.waitUntil(lambda: dialog.test_button.isEnabled() and not dialog.status.text().startswith("Connecting"),
                    timeout=15000)
    return dialog.status.text()


def test_model_urls() -> None:
    assert model_url("grpc://h:8001", "yolox") == "grpc://h:8001/yolox"
    assert model_url("http://h:8000/ ", "m", "2") == "http://h:8000/m/2"
    assert model_url("grpc://h:8001?shm=off&timeout=3", "m") == "grpc://h:8001/m?shm=off&timeout=3"
    assert model_url("grpc://h:8001/m/3", "") == "grpc://h:8001/m/3"


@pytest.mark.parametrize(("server_field", "model", "line"), [
    ("ftp://127.0.0.1:1", "m", "Error: model ftp://127.0.0.1:1/m: unknown scheme ftp://; expected grpc://, grpcs://, "
                               "http:// or https://"),
    ("grpc://127.0.0.1:1?colour=red", "m", "Error: model grpc://127.0.0.1:1/m: unknown Triton URL option 'colour'; "
                                           "known: shm, timeout, connect-timeout, lanes, ca, cert, key, insecure"),
    ("grpc://127.0.0.1:1", "", "Error: name the model the server should run"),
])
def test_a_bad_url_is_one_line_in_the_dialog(qtbot, server_field: str, model: str, line: str) -> None:
    dialog = TritonDialog(None, server_field, model)
    qtbot.addWidget(dialog)
    assert line_of(qtbot, dialog) == line
    assert not dialog.ok


def test_an_unreachable_server_is_one_line_and_ok_does_not_close(qtbot) -> None:
    port = free_ports(1)[0]
    dialog = TritonDialog(None, f"grpc://127.0.0.1:{port}", "squares")
    qtbot.addWidget(dialog)
    dialog.show()
    assert line_of(qtbot, dialog) == f"Error: cannot reach Triton server grpc://127.0.0.1:{port}: connection refused"
    dialog.test(accept=True)  # OK: tests again, and stays open on failure
    qtbot.waitUntil(lambda: dialog.status.text().startswith("Error: cannot reach"), timeout=15000)
    assert dialog.isVisible() and dialog.result() != TritonDialog.DialogCode.Accepted


def test_the_dialog_describes_the_model_and_ok_takes_it(qtbot, server: TritonServer) -> None:
    dialog = TritonDialog(None, server.http_url, "squares")
    qtbot.addWidget(dialog)
    assert line_of(qtbot, dialog) == (f"Triton 2.51.0 at 127.0.0.1:{server.http_port}: squares version 1, python, "
                                     "input 64x96, batches up to 8")
    dialog.model.setText("nope")
    assert line_of(qtbot, dialog).startswith(f"Error: model nope is not on Triton server {server.http_url}")
    dialog.model.setText("squares")
    with qtbot.waitSignal(dialog.accepted, timeout=15000):
        dialog.test(accept=True)
    assert dialog.ok and dialog.url() == f"{server.http_url}/squares"


def test_a_triton_model_plays_in_the_window(qtbot, window, server: TritonServer, gui_video: Path) -> None:
    """File ▸ Triton Server…, filled in and accepted, plays the source through the server,
    with the class names of the model's config."""
    assert window.chooser.triton_action in window.menuBar().actions()[0].menu().actions()
    window.set_source(str(gui_video))
    counts: list[int] = []
    window.frameShown.connect(lambda index: counts.append(len(window.packet.detections)))

    def fill() -> None:
        dialog = QApplication.activeModalWidget()
        assert isinstance(dialog, TritonDialog)
        dialog.server.setText(server.grpc_url)
        dialog.model.setText("squares")
        dialog.test(accept=True)

    QTimer.singleShot(0, fill)
    window.chooser.triton_action.trigger()  # the dialog's exec() returns once the test passed
    assert window.chooser.model == f"{server.grpc_url}/squares"
    qtbot.waitUntil(lambda: len(counts) >= 5, timeout=20000)
    assert set(counts) == {1}  # one square a frame, as with the model file
    assert window.packet.names[:2] == ["square", "other"]


def test_bad_model_urls_in_the_window_are_one_line(qtbot, window, gui_video: Path) -> None:
    assert not window.set_model("grpc://127.0.0.1:8001")
    assert window.messages.last_error == ("model grpc://127.0.0.1:8001: the Triton URL names no model; expected "
                                          "grpc://HOST:PORT/MODEL[/VERSION]")
    assert window.chooser.model is None
    port = free_ports(1)[0]
    assert window.set_model(f"grpc://127.0.0.1:{port}/squares")  # its form is right: the run finds no server
    with qtbot.waitSignal(window.errorShown, timeout=15000) as error:
        window.set_source(str(gui_video), start=True)
    assert error.args[0] == f"cannot reach Triton server grpc://127.0.0.1:{port}: connection refused"
    qtbot.waitUntil(lambda: window.state == "stopped" and window.worker is None, timeout=5000)


def test_a_url_on_the_command_line_opens_and_plays(qtbot, window, gui_settings, server: TritonServer,
                                                   gui_video: Path) -> None:
    """`trt-viewer --model grpc://... --source clip` (run_app's startup) takes the URL as the model."""
    from trt_viewer.gui.app import choose_startup, open_startup

    url = f"{server.grpc_url}/squares"
    frames: list[int] = []
    window.frameShown.connect(frames.append)
    open_startup(window, choose_startup(url, str(gui_video), gui_settings))
    assert window.model == url
    qtbot.waitUntil(lambda: len(frames) >= 2, timeout=20000)
