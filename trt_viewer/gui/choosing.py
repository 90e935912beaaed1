"""Choosing the model and the source: from the pickers, a drop, the recent menus or dialogs.

A choice is checked before it is taken, and starts or restarts the run once both are known.
"""

# Methods here run on MainWindow, hence `self: MainWindow`, which mypy takes only from a
# protocol or a base class and otherwise reports as [misc].
# mypy: disable-error-code="misc"

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING

from PySide6.QtWidgets import QFileDialog, QInputDialog

from trt_viewer.backends import MODEL_SUFFIXES, check_model_path
from trt_viewer.errors import TrtViewerError
from trt_viewer.gui import files

if TYPE_CHECKING:
    from trt_viewer.gui.window import MainWindow


class ChoosingMixin:
    # Declared here because these methods assign them: mypy would otherwise infer them from that.
    model: str | None
    source: str | None

    def set_model(self: MainWindow, path: str, start: bool = False) -> bool:
        try:
            check_model_path(path)
        except TrtViewerError as exc:
            self.show_error(str(exc))
            return False
        if Path(path).suffix.lower() not in MODEL_SUFFIXES:
            self.show_error(f"{Path(path).name} is not a model: expected one of {', '.join(MODEL_SUFFIXES)}")
            return False
        self.model = str(Path(path).expanduser())
        self.settings.add_recent_model(self.model)
        self.model_panel.clear(self.model)
        self._chosen(start)
        return True

    def set_source(self: MainWindow, spec: str, start: bool = False) -> bool:
        spec = spec.strip()
        if not spec:
            return False
        if not files.spec_exists(spec):
            self.show_error(f"source {spec} does not exist")
            return False
        self.source = spec
        self.settings.add_recent_source(spec)
        self._chosen(start)
        return True

    def _chosen(self: MainWindow, start: bool) -> None:
        self.settings.remember_session(self.model, self.source)
        self._update_pickers()
        running = self.worker is not None or self._pending is not None
        if self.model and self.source and (start or running):
            self.start()
        elif self.model and self.source:
            self.notify("Ready: press Space to play")
        elif self.model and not self.source:
            self.notify("Model chosen: now open a video, camera or folder of images")
        elif self.source and not self.model:
            self.notify("Source chosen: now open a model (Ctrl+M)")

    def open_paths(self: MainWindow, paths: list[str]) -> None:
        """Models and sources from a drop or the Open dialog, sorted by what they are."""
        models = [p for p in paths if files.classify(p) == "model"]
        sources = [p for p in paths if files.classify(p) == "source"]
        unknown = [p for p in paths if files.classify(p) == "unknown"]
        if unknown:
            self.show_error(
                f"{Path(unknown[0]).name} is neither a model ({', '.join(MODEL_SUFFIXES)}) "
                "nor a video, image or folder of images"
            )
        ok_model = self.set_model(models[-1]) if models else False
        ok_source = self.set_source(sources[0]) if sources else False
        if (ok_model or ok_source) and self.model and self.source:
            self.start()

    # -- dialogs (user actions only: tests call the methods above) --------------------------
    def _start_dir(self: MainWindow) -> str:
        return self.settings.get("dialogs/dir", str(Path.home()), str)

    def _remember_dir(self: MainWindow, path: str) -> None:
        p = Path(path)
        self.settings.set("dialogs/dir", str(p if p.is_dir() else p.parent))

    def open_dialog(self: MainWindow) -> None:
        paths, _ = QFileDialog.getOpenFileNames(
            self, "Open model or source", self._start_dir(),
            ";;".join((files.ANY_FILTER, files.MODEL_FILTER, files.MEDIA_FILTER, "All files (*)")),
        )
        if paths:
            self._remember_dir(paths[0])
            self.open_paths(paths)

    def open_model_dialog(self: MainWindow) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open model", self._start_dir(), f"{files.MODEL_FILTER};;All files (*)"
        )
        if path:
            self._remember_dir(path)
            self.set_model(path, start=True)

    def open_source_dialog(self: MainWindow) -> None:
        path, _ = QFileDialog.getOpenFileName(
            self, "Open video or image", self._start_dir(), f"{files.MEDIA_FILTER};;All files (*)"
        )
        if path:
            self._remember_dir(path)
            self.set_source(path, start=True)

    def open_folder_dialog(self: MainWindow) -> None:
        path = QFileDialog.getExistingDirectory(self, "Open folder of images", self._start_dir())
        if path:
            self._remember_dir(path)
            self.set_source(path, start=True)

    def open_url_dialog(self: MainWindow) -> None:
        url, ok = QInputDialog.getText(
            self, "Open stream", "Stream URL (rtsp://, http://, udp://…):",
            text=self.settings.get("dialogs/url", "rtsp://", str),
        )
        if ok and url.strip():
            if not files.is_stream(url):
                self.show_error(f"{url.strip()} is not a stream URL (rtsp://, rtmp://, http(s)://, udp://, tcp://, srt://)")
                return
            self.settings.set("dialogs/url", url.strip())
            self.set_source(url.strip(), start=True)

    def _choose_camera(self: MainWindow, spec: str) -> None:
        if not spec:
            index, ok = QInputDialog.getInt(self, "Open camera", "Camera index:", 0, 0, 99)
            if not ok:
                return
            spec = str(index)
        self.set_source(spec, start=True)

    def choose_output_dir(self: MainWindow) -> None:
        path = QFileDialog.getExistingDirectory(self, "Output folder", str(self.settings.output_dir()))
        if path:
            self.settings.set_output_dir(Path(path))
            self.notify(f"Snapshots, recordings and exports now go to {path}")

    def _clear_recent(self: MainWindow) -> None:
        self.settings.clear_recent()
