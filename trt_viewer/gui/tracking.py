"""Tracking in the viewer: the Tracking menu's switches, and the counting lines and zones of
each source.

- *Track Objects* (T) switches tracking on and off; *ByteTrack* or *SORT*, and whether one
  track may change class (*Track Across Classes*). Kept in the settings.
- Lines and zones are drawn with the mouse on the picture (*Draw Count Line*, D; *Draw
  Count Zone*, Z: see gui.marking), named line1, line2..., zone1..., kept per source in the
  settings and removed with *Remove Last Line or Zone* (Ctrl+Z) or *Remove All*. Drawing
  one switches tracking on: only tracked objects are counted.
- What the run tracks goes to it at once (Worker.set_tracking; the run counts afresh, so
  the counts start again at zero) and to each new run in its RunSpec.
- How tracks look (trails and their length, a colour per class or per track) belongs to
  the DrawStyle: shell.LabelStyle.
"""

from __future__ import annotations

import json
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, Signal
from PySide6.QtGui import QAction

from trt_viewer.core.drawing import LineMark, ZoneMark
from trt_viewer.errors import InputError
from trt_viewer.gui.actions import Actions
from trt_viewer.gui.marking import HINTS, Point
from trt_viewer.gui.messages import Messages
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.view import VideoView
from trt_viewer.run.tracking import TrackingOptions
from trt_viewer.track import LineZone, PolygonZone

if TYPE_CHECKING:
    from trt_viewer.gui.display import Display
    from trt_viewer.gui.run_control import RunControl

KEPT_POINTS = 60  # points each track's trail keeps in the run: the longest trail drawn (DrawStyle cuts it)
KINDS = ("line", "zone")


@dataclass(frozen=True)
class Mark:
    """A counting line (its two ends) or zone (its corners), in frame pixels."""

    kind: str  # "line" or "zone"
    name: str
    points: tuple[Point, ...]

    def spec(self) -> str:
        """A line as TrackingOptions.lines wants it: "x1,y1,x2,y2,name"."""
        (x1, y1), (x2, y2) = self.points
        return f"{x1:g},{y1:g},{x2:g},{y2:g},{self.name}"

    def check(self) -> None:
        """InputError (one line) for a line whose ends are one point, a zone that is no polygon."""
        if self.kind == "line":
            LineZone(self.points[0], self.points[1], self.name)
        else:
            PolygonZone([list(p) for p in self.points], self.name)


def marks_to_json(marks: tuple[Mark, ...]) -> str:
    if not marks:
        return ""
    return json.dumps({"marks": [{"kind": m.kind, "name": m.name, "points": [list(p) for p in m.points]}
                                 for m in marks]})


def marks_from_json(text: str) -> tuple[Mark, ...]:
    """The marks saved for a source; whatever no longer reads as one is left out."""
    try:
        data = json.loads(text) if text else {}
    except json.JSONDecodeError:
        return ()
    marks: list[Mark] = []
    items = data.get("marks", []) if isinstance(data, dict) else []
    for item in items if isinstance(items, list) else []:
        try:
            kind, name = item["kind"], str(item["name"])
            points = tuple((float(x), float(y)) for x, y in item["points"])
            mark = Mark(kind, name, points)
            if kind not in KINDS or (kind == "line" and len(points) != 2) or any(m.name == name for m in marks):
                continue
            mark.check()
        except (KeyError, TypeError, ValueError, InputError):
            continue
        marks.append(mark)
    return tuple(marks)


def _set_quietly(action: QAction, on: bool) -> None:
    action.blockSignals(True)
    action.setChecked(on)
    action.blockSignals(False)


class TrackingControl(QObject):
    """source() is the chosen source (lines and zones are kept per source)."""

    changed = Signal(object)  # TrackingOptions | None: what the run tracks from now on

    def __init__(self, settings: Settings, actions: Actions, view: VideoView, run: RunControl, display: Display,
                 messages: Messages, source: Callable[[], str | None], parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._actions = actions
        self._view = view
        self._run = run
        self._display = display
        self._messages = messages
        self._source_of = source
        self._source: str | None = None
        self.marks: tuple[Mark, ...] = ()  # the chosen source's lines and zones, in the order drawn
        self._sent: TrackingOptions | None = None  # what the run was last told
        on, tracker, across = settings.tracking()
        a = actions
        a.track.setChecked(on)
        a.trackers[tracker].setChecked(True)
        a.track_across_classes.setChecked(across)
        a.track.toggled.connect(self._switched)
        for action in a.trackers.values():
            action.toggled.connect(self._tracker_chosen)
        a.track_across_classes.toggled.connect(self._apply)
        a.draw_line.toggled.connect(lambda on: self.draw("line", on))
        a.draw_zone.toggled.connect(lambda on: self.draw("zone", on))
        a.remove_mark.triggered.connect(self.remove_last)
        a.clear_marks.triggered.connect(self.clear)
        sketch = view.sketch
        sketch.lineDrawn.connect(self.add_line)
        sketch.zoneDrawn.connect(self.add_zone)
        sketch.ended.connect(self._sketch_ended)
        self.source_changed()
        self._sent = self.options()

    # -- what the run tracks -------------------------------------------------------------------
    @property
    def on(self) -> bool:
        return self._actions.track.isChecked()

    @property
    def tracker(self) -> str:
        return next((name for name, action in self._actions.trackers.items() if action.isChecked()), "bytetrack")

    def lines(self) -> list[Mark]:
        return [m for m in self.marks if m.kind == "line"]

    def zones(self) -> list[Mark]:
        return [m for m in self.marks if m.kind == "zone"]

    def options(self) -> TrackingOptions | None:
        """What a run should track now: None while tracking is off."""
        if not self.on:
            return None
        return TrackingOptions(
            tracker=self.tracker, across_classes=self._actions.track_across_classes.isChecked(),
            lines=tuple(m.spec() for m in self.lines()), zones=tuple((m.name, m.points) for m in self.zones()),
            trail_length=KEPT_POINTS,
        )

    def zero_counts(self) -> dict[str, Any]:
        """The counts a run starts with for these lines and zones (Counter.summary's shape)."""
        if not self.on or not self.marks:
            return {}
        return {
            "lines": {m.name: {"in": {}, "out": {}, "in_total": 0, "out_total": 0} for m in self.lines()},
            "zones": {m.name: {"occupancy": {}, "entered": {}} for m in self.zones()},
        }

    def _tracker_chosen(self, checked: bool) -> None:
        if checked:  # the one unchecked says nothing new
            self._apply()

    def _switched(self, on: bool) -> None:
        self._apply()
        if on and not self.marks:
            self._messages.notify("Tracking on: draw a count line (D) or zone (Z) to count what crosses it")
        elif on:
            self._messages.notify(f"Tracking on, counting on {', '.join(m.name for m in self.marks)}")
        else:
            self._messages.notify("Tracking off")

    def _apply(self) -> None:
        """Tracking, its options or the lines and zones changed: kept, sent to the run (its
        counts start again), shown."""
        self._settings.save_tracking(self.on, self.tracker, self._actions.track_across_classes.isChecked())
        self._update_actions()
        options = self.options()
        if options == self._sent:
            return
        self._sent = options
        self._run.set_tracking(options)
        lines = tuple(LineMark(m.name, m.points[0], m.points[1]) for m in self.lines())
        zones = tuple(ZoneMark(m.name, m.points) for m in self.zones())
        self._display.tracking_changed(options is not None, lines, zones, self.zero_counts())
        self.changed.emit(options)

    def _update_actions(self) -> None:
        a = self._actions
        a.remove_mark.setEnabled(bool(self.marks))
        a.clear_marks.setEnabled(bool(self.marks))

    # -- the source's lines and zones ------------------------------------------------------------
    def source_changed(self) -> None:
        """The chosen source changed: its own lines and zones (a run on it gets them in its
        RunSpec)."""
        source = self._source_of()
        if source == self._source:
            return
        self._view.sketch.cancel()
        self._source = source
        self.marks = marks_from_json(self._settings.marks(source)) if source else ()
        self._sent = self.options()  # a new run starts with these, from its RunSpec
        self._update_actions()

    def _save_marks(self) -> None:
        if self._source:
            self._settings.save_marks(self._source, marks_to_json(self.marks))

    def _next_name(self, kind: str) -> str:
        taken = {m.name for m in self.marks}
        n = 1
        while f"{kind}{n}" in taken:
            n += 1
        return f"{kind}{n}"

    def _add(self, mark: Mark) -> None:
        try:
            mark.check()
        except InputError as exc:
            self._messages.show_error(f"{exc}: not added", dialog=False)
            return
        self.marks = (*self.marks, mark)
        self._save_marks()
        if not self.on:
            _set_quietly(self._actions.track, True)  # only tracked objects are counted
        self._apply()
        what = "crossing it are counted in and out" if mark.kind == "line" else "in it are counted"
        self._messages.notify(f"{mark.name} added: tracked objects {what} (Ctrl+Z removes it)")

    def add_line(self, ends: tuple[float, float, float, float]) -> None:
        """A line drawn from (x1, y1) to (x2, y2), frame pixels."""
        x1, y1, x2, y2 = ends
        self._add(Mark("line", self._next_name("line"), ((x1, y1), (x2, y2))))

    def add_zone(self, corners: list[Point]) -> None:
        self._add(Mark("zone", self._next_name("zone"), tuple((float(x), float(y)) for x, y in corners)))

    def remove_last(self) -> None:
        if not self.marks:
            self._messages.notify("No count lines or zones to remove")
            return
        gone = self.marks[-1]
        self.marks = self.marks[:-1]
        self._save_marks()
        self._apply()
        self._messages.notify(f"{gone.name} removed")

    def clear(self) -> None:
        if not self.marks:
            return
        self.marks = ()
        self._save_marks()
        self._apply()
        self._messages.notify("Count lines and zones removed")

    # -- drawing them --------------------------------------------------------------------------
    def draw(self, kind: str, on: bool) -> None:
        """Start (or stop) drawing a line or a zone on the picture."""
        a = self._actions
        action, other = (a.draw_line, a.draw_zone) if kind == "line" else (a.draw_zone, a.draw_line)
        sketch = self._view.sketch
        if not on:
            if sketch.mode == kind:
                sketch.cancel()
            return
        _set_quietly(other, False)
        sketch.cancel()
        sketch.colour_index = len(self.lines()) + (len(self.zones()) if kind == "zone" else 0)
        if not self._source or not sketch.start(kind):
            _set_quietly(action, False)
            self._messages.notify("Nothing to draw on yet: open a source and show a frame first")
            return
        _set_quietly(action, True)
        self._messages.notify(HINTS[kind])

    def _sketch_ended(self, mode: str) -> None:
        a = self._actions
        _set_quietly(a.draw_line if mode == "line" else a.draw_zone, False)
