"""Choosing the model and the source: from the pickers, a drop, the recent menus or dialogs;
and the model's class names (Model ▸ Class Names…, remembered per model).

A choice is checked before it is taken, and starts or restarts the run once both are known.
The user's choices are remembered as the last session; the demo's model and clip are not
(remember=False), so trying the demo never replaces the session of one's own files.
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path

from PySide6.QtCore import QMimeData, QObject, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import QFileDialog, QInputDialog, QWidget

from trt_viewer.backends import MODEL_SUFFIXES, check_model_path, is_model_url
from trt_viewer.backends.triton_url import parse_url
from trt_viewer.core.names import read_names_file
from trt_viewer.errors import TrtViewerError
from trt_viewer.gui import files
from trt_viewer.gui.cameras import CameraList
from trt_viewer.gui.menus import CameraMenu, RecentMenu
from trt_viewer.gui.messages import Messages
from trt_viewer.gui.settings import Settings


class Chooser(QObject):
    """The chosen model and source, and every way of choosing them.

    busy() says whether a run is going or about to (a new choice then restarts it);
    start() starts one. The menus it fills are placed by the window's shell.
    """

    modelChosen = Signal(str)  # a new model, before it is loaded
    changed = Signal()  # the model or the source changed
    namesChosen = Signal(str)  # class names chosen for the model: a file, or "" for the model's own

    def __init__(self, parent: QWidget, settings: Settings, messages: Messages,
                 busy: Callable[[], bool], start: Callable[[], object]) -> None:
        super().__init__(parent)
        self._parent = parent
        self._settings = settings
        self._messages = messages
        self._busy = busy
        self._start = start
        self.model: str | None = None
        self.source: str | None = None
        self._unremembered: set[str] = set()  # the demo's model and clip: never the last session
        self.cameras = CameraList(self)
        self.recent_models = RecentMenu(
            "Recent &Models", settings.recent_models, lambda p: self.set_model(p, start=True), self.clear_recent,
            parent,
        )
        self.recent_sources = RecentMenu(
            "Recent &Sources", settings.recent_sources, lambda s: self.set_source(s, start=True), self.clear_recent,
            parent,
        )
        self.camera_menu = CameraMenu(self.cameras, self.choose_camera, parent)
        self.triton_action = QAction("&Triton Server…", parent)
        self.triton_action.setStatusTip("Run a model that a Triton Inference Server serves (gRPC or HTTP)")
        self.triton_action.triggered.connect(self.open_triton_dialog)
        self.names_action = QAction("Class &Names…", parent)
        self.names_action.setStatusTip("Read the model's class names from a file, one name per line")
        self.names_action.triggered.connect(self.open_names_dialog)
        self.own_names_action = QAction("The Model's &Own Class Names", parent)
        self.own_names_action.setStatusTip("Forget the names file chosen for this model")
        self.own_names_action.triggered.connect(lambda: self.set_names_file(None))
        self.changed.connect(self._update_names_actions)
        self._update_names_actions()

    @property
    def names_file(self) -> str | None:
        """The class names file chosen for the model (None: the model's own names)."""
        return self._settings.names_file(self.model) if self.model else None

    def set_model(self, path: str, start: bool = False, *, remember: bool = True) -> bool:
        """A model file, or a model on a Triton server (grpc://HOST:8001/NAME...): a URL is
        checked for its form here; the server is asked when the run opens it (the Triton
        dialog asks before)."""
        if is_model_url(path):
            try:
                parse_url(path)
            except TrtViewerError as exc:
                self._messages.show_error(str(exc))
                return False
            self.model = path.strip()
        else:
            try:
                check_model_path(path)
            except TrtViewerError as exc:
                self._messages.show_error(str(exc))
                return False
            if Path(path).suffix.lower() not in MODEL_SUFFIXES:
                self._messages.show_error(
                    f"{Path(path).name} is not a model: expected one of {', '.join(MODEL_SUFFIXES)}")
                return False
            self.model = str(Path(path).expanduser())
        self._remember(self.model, remember, self._settings.add_recent_model)
        self.modelChosen.emit(self.model)
        self._chosen(start, hint=remember)
        return True

    def set_source(self, spec: str, start: bool = False, *, remember: bool = True) -> bool:
        spec = spec.strip()
        if not spec:
            return False
        if not files.spec_exists(spec):
            self._messages.show_error(f"source {spec} does not exist")
            return False
        self.source = spec
        self._remember(spec, remember, self._settings.add_recent_source)
        self._chosen(start, hint=remember)
        return True

    def _remember(self, choice: str, remember: bool, add_recent: Callable[[str], None]) -> None:
        if remember:
            self._unremembered.discard(choice)
            add_recent(choice)
        else:
            self._unremembered.add(choice)

    def _chosen(self, start: bool, hint: bool = True) -> None:
        # The last session keeps the user's own files: where the demo's stands in, the
        # file remembered before stays.
        model, source = self.model, self.source
        if model in self._unremembered:
            model = self._settings.get("session/model", "", str)
        if source in self._unremembered:
            source = self._settings.get("session/source", "", str)
        self._settings.remember_session(model, source)
        self.changed.emit()
        if self.model and self.source and (start or self._busy()):
            self._start()
        elif not hint:  # the caller says what is going on (the demo: "Opening the demo…")
            return
        elif self.model and self.source:
            self._messages.notify("Ready: press Space to play")
        elif self.model and not self.source:
            self._messages.notify("Model chosen: now open a video, camera or folder of images")
        elif self.source and not self.model:
            self._messages.notify("Source chosen: now open a model (Ctrl+M)")

    def open_paths(self, paths: list[str]) -> None:
        """Models and sources from a drop or the Open dialog, sorted by what they are."""
        models = [p for p in paths if files.classify(p) == "model"]
        sources = [p for p in paths if files.classify(p) == "source"]
        unknown = [p for p in paths if files.classify(p) == "unknown"]
        if unknown:
            self._messages.show_error(
                f"{Path(unknown[0]).name} is neither a model ({', '.join(MODEL_SUFFIXES)}) "
                "nor a video, image or folder of images"
            )
        ok_model = self.set_model(models[-1]) if models else False
        ok_source = self.set_source(sources[0]) if sources else False
        if (ok_model or ok_source) and self.model and self.source:
            self._start()

    # -- drag and drop ----------------------------------------------------------------------
    @staticmethod
    def accepts(mime: QMimeData) -> bool:
        """Whether a drag carries something to open: local files or a stream URL."""
        return (mime.hasUrls() and any(u.isLocalFile() for u in mime.urls())) or (
            mime.hasText() and files.is_stream(mime.text())
        )

    def drop(self, mime: QMimeData) -> None:
        paths = [u.toLocalFile() for u in mime.urls() if u.isLocalFile()] if mime.hasUrls() else []
        if not paths and mime.hasText() and files.is_stream(mime.text()):
            self.set_source(mime.text().strip(), start=True)
        elif paths:
            self.open_paths(paths)

    # -- dialogs and menus (user actions only: tests call the methods above) -----------------
    def _start_dir(self) -> str:
        return str(self._settings.get("dialogs/dir", str(Path.home()), str))

    def _remember_dir(self, path: str) -> None:
        p = Path(path)
        self._settings.set("dialogs/dir", str(p if p.is_dir() else p.parent))

    def open_dialog(self) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self._parent, "Open model or source", self._start_dir(),
            ";;".join((files.ANY_FILTER, files.MODEL_FILTER, files.MEDIA_FILTER, "All files (*)")),
        )
        if paths:
            self._remember_dir(paths[0])
            self.open_paths(paths)

    def open_model_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Open model", self._start_dir(), f"{files.MODEL_FILTER};;All files (*)"
        )
        if path:
            self._remember_dir(path)
            self.set_model(path, start=True)

    def open_triton_dialog(self) -> None:
        from trt_viewer.gui.triton_dialog import TritonDialog

        dialog = TritonDialog(self._parent, self._settings.get("dialogs/triton_server", "", str),
                              self._settings.get("dialogs/triton_model", "", str))
        if dialog.exec() == TritonDialog.DialogCode.Accepted:
            self._settings.set("dialogs/triton_server", dialog.server.text().strip())
            self._settings.set("dialogs/triton_model", dialog.model.text().strip())
            self.set_model(dialog.url(), start=True)

    def open_source_dialog(self) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self._parent, "Open video or image", self._start_dir(), f"{files.MEDIA_FILTER};;All files (*)"
        )
        if path:
            self._remember_dir(path)
            self.set_source(path, start=True)

    def open_folder_dialog(self) -> None:
        path = QFileDialog.getExistingDirectory(self._parent, "Open folder of images", self._start_dir())
        if path:
            self._remember_dir(path)
            self.set_source(path, start=True)

    def open_url_dialog(self) -> None:
        url, ok = QInputDialog.getText(
            self._parent, "Open stream", "Stream URL (rtsp://, http://, udp://…):",
            text=self._settings.get("dialogs/url", "rtsp://", str),
        )
        if ok and url.strip():
            if not files.is_stream(url):
                self._messages.show_error(
                    f"{url.strip()} is not a stream URL (rtsp://, rtmp://, http(s)://, udp://, tcp://, srt://)"
                )
                return
            self._settings.set("dialogs/url", url.strip())
            self.set_source(url.strip(), start=True)

    def choose_camera(self, spec: str) -> None:
        if not spec:
            index, ok = QInputDialog.getInt(self._parent, "Open camera", "Camera index:", 0, 0, 99)
            if not ok:
                return
            spec = str(index)
        self.set_source(spec, start=True)

    # -- class names ------------------------------------------------------------------------
    def set_names_file(self, path: str | None) -> bool:
        """Read the model's class names from `path` from now on (None: the model's own names:
        in its metadata, a sidecar file beside it, or COCO); remembered for this model. A
        run going restarts, as the names are read when the model opens."""
        if not self.model:
            self._messages.show_error("choose a model first, then its class names")
            return False
        if path:
            path = str(Path(path).expanduser())
            try:
                read_names_file(Path(path))  # an unreadable or empty file is refused now, not at start
            except TrtViewerError as exc:
                self._messages.show_error(str(exc))
                return False
        if path == self.names_file:
            return True
        self._settings.set_names_file(self.model, path)
        self.namesChosen.emit(path or "")
        self._update_names_actions()
        if self._busy():
            self._start()  # the model panel shows the names once the model has loaded again
        else:
            model = Path(self.model).name
            what = f"Class names of {model} from {Path(path).name}" if path else f"{model} uses its own class names"
            self._messages.notify(f"{what} from the next start")
        return True

    def _update_names_actions(self) -> None:
        self.names_action.setEnabled(self.model is not None)
        names = self.names_file
        self.own_names_action.setEnabled(names is not None)
        self.names_action.setToolTip(f"Class names from {names}" if names else "Class names: the model's own")

    def open_names_dialog(self) -> None:
        if not self.model:
            self._messages.show_error("choose a model first, then its class names")
            return
        start = self.names_file or str(Path(self.model).parent)
        path, _ = QFileDialog.getOpenFileName(
            self._parent, f"Class names for {Path(self.model).name}", start,
            "Class names (*.txt *.names);;All files (*)",
        )
        if path:
            self.set_names_file(path)

    def choose_output_dir(self) -> None:
        path = QFileDialog.getExistingDirectory(self._parent, "Output folder", str(self._settings.output_dir()))
        if path:
            self._settings.set_output_dir(Path(path))
            self._messages.notify(f"Snapshots, recordings and exports now go to {path}")

    def clear_recent(self) -> None:
        self._settings.clear_recent()
