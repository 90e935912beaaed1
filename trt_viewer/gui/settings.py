"""Recent files, the last session and the viewer's preferences, kept in QSettings.

Every path read back is checked before use: a model or video remembered from last week
may have been moved, and the window must open cleanly anyway. A model on a Triton server
(grpc://HOST:PORT/MODEL...) is checked for its form only: no server is asked at start.
"""

from __future__ import annotations

import hashlib
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings, QStandardPaths

from trt_viewer.backends import is_model_url
from trt_viewer.backends.triton_url import parse_url
from trt_viewer.core.drawing import COLOUR_BY, DrawStyle
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.errors import TrtViewerError
from trt_viewer.gui.files import is_model, spec_exists
from trt_viewer.run.decoding import DECODE_CHOICES

ORGANISATION = "trt-viewer"
APPLICATION = "trt-viewer"
RECENT_LIMIT = 10


def default_output_dir() -> Path:
    movies = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.MoviesLocation)
    return Path(movies or Path.home()) / "trt-viewer"


def model_still_there(model: str) -> bool:
    """Whether a remembered model may still be offered: a model file that exists, or a
    Triton URL of a form the chooser takes (a URL is never looked up as a file)."""
    if is_model_url(model):
        try:
            # The URL's form only: the environment's token and headers are read when the
            # run opens it, and a bad one is reported there, not by dropping the model here.
            parse_url(model, environ={})
        except TrtViewerError:
            return False
        return True
    return is_model(model) and Path(model).is_file()


class Settings:
    """Typed access to the viewer's QSettings; tests pass their own ini-backed QSettings."""

    def __init__(self, store: QSettings | None = None) -> None:
        self.store = store if store is not None else QSettings(ORGANISATION, APPLICATION)

    # -- plain values ---------------------------------------------------------------------
    def get(self, key: str, default: Any, kind: type) -> Any:
        # Ini files give strings back; a value that no longer parses falls back quietly.
        try:
            value = self.store.value(key, default, type=kind)
        except (TypeError, ValueError):
            return default
        return default if value is None else value

    def set(self, key: str, value: Any) -> None:
        self.store.setValue(key, value)

    def sync(self) -> None:
        self.store.sync()

    # -- recent files ---------------------------------------------------------------------
    def _recent(self, key: str) -> list[str]:
        raw: Any = self.store.value(key, [])
        items = [raw] if isinstance(raw, str) else list(raw or [])
        return [str(i) for i in items if str(i).strip()]

    def recent_models(self) -> list[str]:
        return [m for m in self._recent("recent/models") if model_still_there(m)]

    def recent_sources(self) -> list[str]:
        return [s for s in self._recent("recent/sources") if spec_exists(s)]

    def _push(self, key: str, item: str) -> None:
        items = [i for i in self._recent(key) if i != item]
        self.store.setValue(key, [item, *items][:RECENT_LIMIT])

    def add_recent_model(self, path: str) -> None:
        self._push("recent/models", path)

    def add_recent_source(self, spec: str) -> None:
        self._push("recent/sources", spec)

    def clear_recent(self) -> None:
        self.store.remove("recent")

    # -- last session ---------------------------------------------------------------------
    def last_model(self) -> str | None:
        model = self.get("session/model", "", str)
        return model if model and model_still_there(model) else None

    def last_source(self) -> str | None:
        source = self.get("session/source", "", str)
        return source if source and spec_exists(source) else None

    def remember_session(self, model: str | None, source: str | None) -> None:
        self.set("session/model", model or "")
        self.set("session/source", source or "")

    # -- class names chosen per model (Model ▸ Class Names…) ------------------------------
    @staticmethod
    def _names_key(model: str) -> str:
        # A path is no QSettings key (slashes make groups): its hash is.
        return "names/" + hashlib.sha1(str(Path(model).expanduser()).encode("utf-8")).hexdigest()[:20]

    def names_file(self, model: str) -> str | None:
        """The class names file chosen for this model, if it is still there."""
        stored = self.get(self._names_key(model), "", str)
        return stored if stored and Path(stored).is_file() else None

    def set_names_file(self, model: str, path: str | None) -> None:
        if path:
            self.set(self._names_key(model), path)
        else:
            self.store.remove(self._names_key(model))

    # -- detection settings and the output folder -----------------------------------------
    def detection(self) -> tuple[PostprocessConfig, str]:
        """The thresholds and the preprocessing preset of the last session."""
        config = PostprocessConfig(
            conf=self.get("detect/conf", 0.3, float),
            nms=self.get("detect/nms", 0.45, float),
            agnostic=self.get("detect/agnostic", False, bool),
        )
        return config, self.get("detect/preset", "auto", str)

    def save_detection(self, config: PostprocessConfig, preset: str) -> None:
        self.set("detect/conf", config.conf)
        self.set("detect/nms", config.nms)
        self.set("detect/agnostic", config.agnostic)
        self.set("detect/preset", preset)

    def decode(self) -> str:
        """The decoder for video files (Playback ▸ Video Decoding); a value this version
        does not know (an older or newer one wrote it, or a hand edit) is "auto"."""
        stored = self.get("playback/decode", "auto", str)
        return stored if stored in DECODE_CHOICES else "auto"

    def set_decode(self, decode: str) -> None:
        self.set("playback/decode", decode)

    def output_dir(self) -> Path:
        stored = self.get("output/dir", "", str)
        return Path(stored) if stored else default_output_dir()

    def set_output_dir(self, path: Path) -> None:
        self.set("output/dir", str(path))

    # -- the window -------------------------------------------------------------------------
    def window_state(self) -> tuple[QByteArray | None, QByteArray | None]:
        geometry = self.store.value("window/geometry")
        state = self.store.value("window/state")
        return (
            geometry if isinstance(geometry, QByteArray) else None,
            state if isinstance(state, QByteArray) else None,
        )

    def save_window_state(self, geometry: QByteArray, state: QByteArray) -> None:
        self.set("window/geometry", geometry)
        self.set("window/state", state)

    def layout_before_fullscreen(self) -> tuple[QByteArray, QByteArray] | None:
        """The window's geometry and docks as they were before fullscreen, while it is (or
        was, when the last session ended) fullscreen; None otherwise."""
        geometry = self.store.value("window/normal_geometry")
        state = self.store.value("window/normal_state")
        if isinstance(geometry, QByteArray) and isinstance(state, QByteArray):
            return geometry, state
        return None

    def save_layout_before_fullscreen(self, layout: tuple[QByteArray, QByteArray] | None) -> None:
        """Kept until fullscreen is left; None: left, forget it."""
        if layout is None:
            self.store.remove("window/normal_geometry")
            self.store.remove("window/normal_state")
        else:
            self.set("window/normal_geometry", layout[0])
            self.set("window/normal_state", layout[1])

    # -- how detections are drawn -----------------------------------------------------------
    def draw_style(self) -> DrawStyle:
        default = DrawStyle()
        colour_by = self.get("labels/colour_by", default.colour_by, str)
        return DrawStyle(
            line_width=self.get("labels/line_width", default.line_width, float),
            font_size=self.get("labels/font_size", default.font_size, float),
            show_confidence=self.get("labels/confidence", default.show_confidence, bool),
            colour_by=colour_by if colour_by in COLOUR_BY else default.colour_by,
            trails=self.get("labels/trails", default.trails, bool),
            trail_length=max(2, self.get("labels/trail_length", default.trail_length, int)),
        )

    def save_draw_style(self, style: DrawStyle) -> None:
        self.set("labels/line_width", style.line_width)
        self.set("labels/font_size", style.font_size)
        self.set("labels/confidence", style.show_confidence)
        self.set("labels/colour_by", style.colour_by)
        self.set("labels/trails", style.trails)
        self.set("labels/trail_length", style.trail_length)

    # -- tracking, and the counting lines and zones of each source ---------------------------
    def tracking(self) -> tuple[bool, str, bool]:
        """Tracking on, the tracker (bytetrack or sort), and whether tracks may change class."""
        tracker = self.get("tracking/tracker", "bytetrack", str)
        return (self.get("tracking/on", False, bool), tracker if tracker in ("bytetrack", "sort") else "bytetrack",
                self.get("tracking/across_classes", False, bool))

    def save_tracking(self, on: bool, tracker: str, across_classes: bool) -> None:
        self.set("tracking/on", on)
        self.set("tracking/tracker", tracker)
        self.set("tracking/across_classes", across_classes)

    @staticmethod
    def _marks_key(source: str) -> str:
        return "counting/" + hashlib.sha1(source.strip().encode("utf-8")).hexdigest()[:20]

    def marks(self, source: str) -> str:
        """The counting lines and zones drawn on this source, as JSON ("" for none)."""
        return str(self.get(self._marks_key(source), "", str))

    def save_marks(self, source: str, data: str) -> None:
        if data:
            self.set(self._marks_key(source), data)
        else:
            self.store.remove(self._marks_key(source))
