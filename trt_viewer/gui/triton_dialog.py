"""File ▸ Triton Server…: a model on a Triton Inference Server as the viewer's model.

The dialog asks for the server (`grpc://HOST:8001`, `http://HOST:8000`, grpcs/https, with
URL options such as `?shm=off` where wanted) and the model's name (and version), and tests
the connection before it is taken: what the server says about the model, or one line of
why not (a malformed URL, nothing listening, no such model). The test runs in a thread of
its own, so that a server that does not answer never freezes the window.
"""

from __future__ import annotations

import threading
from urllib.parse import quote

from PySide6.QtCore import Signal
from PySide6.QtWidgets import (
    QDialog,
    QDialogButtonBox,
    QFormLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
)

from trt_viewer.errors import first_line

DEFAULT_SERVER = "grpc://localhost:8001"
TEST_CONNECT_TIMEOUT_S = 5.0


def model_url(server: str, model: str, version: str = "") -> str:
    """The model URL of a server address, a model name and a version: the server's query
    (its options) goes after the model. A server field that already names the model (a
    whole URL pasted in) is taken as it is where the model field is empty."""
    server = server.strip()
    base, sep, query = server.partition("?")
    model, version = model.strip(), version.strip()
    if not model:
        return server
    url = f"{base.rstrip('/')}/{quote(model, safe='')}" + (f"/{version}" if version else "")
    return url + (sep + query if sep else "")


def check_model_url(url: str, connect_timeout_s: float = TEST_CONNECT_TIMEOUT_S) -> str:
    """What the server says of the model at `url`, in a line; raises TrtViewerError (one
    line) for a malformed URL, an unreachable server, a model it does not serve."""
    from trt_viewer.backends.triton import TritonBackend
    from trt_viewer.backends.triton_url import parse_url

    target, options = parse_url(url)
    options.shm = "off"  # a test runs nothing
    options.connect_timeout_s = min(options.connect_timeout_s, connect_timeout_s)
    backend = TritonBackend(target, options)
    try:
        info = backend.describe()
        h, w = backend.input_hw
        batching = f"batches up to {backend.max_batch}" if backend.max_batch else "no batching"
        return (f"{info['device']}: {target.model} version {info['model_version'] or '?'}, "
                f"{backend.platform or 'unknown platform'}, input {h}x{w}, {batching}")
    finally:
        backend.close()


class TritonDialog(QDialog):
    """The server and the model; accepted only once the connection test succeeded."""

    tested = Signal(int, bool, str)  # (test number, ok, the line to show), from the test's thread

    def __init__(self, parent: QWidget | None = None, server: str = DEFAULT_SERVER, model: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle("Triton Server")
        self.server = QLineEdit(server or DEFAULT_SERVER)
        self.server.setPlaceholderText("grpc://host:8001 or http://host:8000")
        self.server.setToolTip("gRPC (grpc://, grpcs://) or HTTP (http://, https://); options may follow, "
                               "as in grpc://host:8001?shm=off&timeout=10")
        self.model = QLineEdit(model)
        self.model.setPlaceholderText("the model's name on the server, e.g. yolox_nano")
        self.version = QLineEdit()
        self.version.setPlaceholderText("latest (the server's choice)")
        self.status = QLabel("Test the connection, or press OK to test and use it.")
        self.status.setWordWrap(True)
        self.test_button = QPushButton("&Test Connection")
        self.test_button.clicked.connect(lambda: self.test(accept=False))
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok | QDialogButtonBox.StandardButton.Cancel)
        self.buttons.addButton(self.test_button, QDialogButtonBox.ButtonRole.ActionRole)
        self.buttons.accepted.connect(lambda: self.test(accept=True))
        self.buttons.rejected.connect(self.reject)
        form = QFormLayout()
        form.addRow("&Server:", self.server)
        form.addRow("&Model:", self.model)
        form.addRow("&Version:", self.version)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.status)
        layout.addWidget(self.buttons)
        self.ok = False  # the last test succeeded
        self._tests = 0
        self._accept_after = 0  # the test whose success accepts the dialog (0: none)
        self.tested.connect(self._on_tested)

    def url(self) -> str:
        return model_url(self.server.text(), self.model.text(), self.version.text())

    def test(self, accept: bool = False) -> None:
        """Test the connection in a thread; accept: close the dialog if it succeeds."""
        self._tests += 1
        number = self._tests
        self._accept_after = number if accept else 0
        url = self.url()
        if not self.model.text().strip() and url.rstrip("/").count("/") < 3:
            self._on_tested(number, False, "name the model the server should run")
            return
        self.ok = False
        self.status.setText(f"Connecting to {url.split('?', 1)[0]}…")
        self.test_button.setEnabled(False)
        threading.Thread(target=self._run_test, args=(number, url), name="triton-test", daemon=True).start()

    def _run_test(self, number: int, url: str) -> None:
        try:
            ok, line = True, check_model_url(url)
        except Exception as exc:  # every failure is a line in the dialog, never a traceback
            ok, line = False, first_line(exc)
        try:
            self.tested.emit(number, ok, line)
        except RuntimeError:  # the dialog is gone: nobody waits for the answer
            pass

    def _on_tested(self, number: int, ok: bool, line: str) -> None:
        if number != self._tests:
            return  # an older test's answer, overtaken by a newer one
        self.test_button.setEnabled(True)
        self.ok = ok
        self.status.setText(line if ok else f"Error: {line}")
        if ok and self._accept_after == number:
            self.accept()
