"""Every command of the window as a QAction, with its shortcut, icon and tooltip.

Menus, toolbar and transport bar share these objects, so a shortcut works whichever of
them is visible (fullscreen hides them all; the actions stay on the window).
"""

from __future__ import annotations

from typing import TypeVar

from PySide6.QtGui import QAction, QActionGroup, QKeySequence
from PySide6.QtWidgets import QWidget

from trt_viewer.gui import icons

SHORTCUTS = (
    ("Space", "Play / pause"),
    ("Right", "Step one frame (while paused)"),
    ("Left", "Step one frame back (files)"),
    ("Home", "Back to the first frame"),
    ("L", "Loop at the end of a file"),
    ("S", "Snapshot to PNG"),
    ("R", "Record the annotated video"),
    ("E", "Export detections (JSONL)"),
    ("F, double-click", "Fullscreen (double-click the picture)"),
    ("Esc", "Leave fullscreen"),
    ("H", "Show the rate and count over the video"),
    ("T", "Track objects (IDs, trails, counting)"),
    ("D", "Draw a count line: drag across the picture"),
    ("Z", "Draw a count zone: click its corners, double-click or Enter closes it"),
    ("Esc", "(while drawing) cancel the line or zone"),
    ("Ctrl+Z", "Remove the last line or zone"),
    ("Ctrl+O", "Open a model or a source"),
    ("Ctrl+M", "Open a model"),
    ("Ctrl+Shift+O", "Open a folder of images"),
    ("Ctrl+U", "Open a stream URL"),
    ("F1", "This list"),
    ("Ctrl+Q", "Quit"),
    ("Ctrl+C", "(in the terminal) quit"),
)

# View > Labels: multiples of the automatic line width and label size (core.drawing.DrawStyle).
LINE_WIDTHS = (("&Thin Lines", 0.5), ("&Normal Lines", 1.0), ("T&hick Lines", 2.0))
FONT_SIZES = (("&Small Labels", 0.75), ("Nor&mal Labels", 1.0), ("&Large Labels", 1.5))
# Tracking: the trackers, how long the trails are (frames), what the colours tell apart.
TRACKERS = (("&ByteTrack", "bytetrack"), ("&SORT", "sort"))
TRAIL_LENGTHS = (("Short Trails (15 Frames)", 15), ("Medium Trails (30 Frames)", 30), ("Long Trails (60 Frames)", 60))
COLOURS = (("Colour by &Class", "class"), ("Colour by Trac&k", "track"))

K = TypeVar("K", float, str, int)


class Actions:
    def __init__(self, window: QWidget) -> None:
        def make(text: str, shortcut: str | QKeySequence.StandardKey | None = None, icon: str | None = None,
                 tip: str | None = None, checkable: bool = False) -> QAction:
            action = QAction(text, window)
            if shortcut is not None:
                action.setShortcut(QKeySequence(shortcut))
            if icon is not None:
                action.setIcon(icons.icon(icon))
            hint = tip or text.replace("…", "").replace("&", "")
            if shortcut is not None:
                hint += f" ({QKeySequence(shortcut).toString(QKeySequence.SequenceFormat.NativeText)})"
            action.setToolTip(hint)
            action.setStatusTip(tip or "")
            action.setCheckable(checkable)
            window.addAction(action)  # shortcuts keep working with menus and toolbar hidden
            return action

        self.open = make("&Open…", "Ctrl+O", tip="Open a model (.onnx, .engine, .plan) or a video or image")
        self.open_model = make("Open &Model…", "Ctrl+M", "model", "Choose the model to run")
        self.open_source = make("Open &Video or Image…", None, "source", "Choose a video file or an image")
        self.open_folder = make("Open &Folder of Images…", "Ctrl+Shift+O")
        self.open_url = make("Open Stream &URL…", "Ctrl+U")
        self.output_dir = make("Output Fol&der…", tip="Where snapshots, recordings and exports are saved")
        self.snapshot = make("&Snapshot", "S", "snapshot", "Save the frame on screen as PNG")
        self.record = make("&Record Video", "R", "record", "Record the annotated video", checkable=True)
        self.export = make("&Export Detections", "E", "export", "Write each frame's detections as JSONL",
                           checkable=True)
        self.quit = make("&Quit", "Ctrl+Q")

        self.play = make("&Play", "Space", "play", "Play or pause")
        self.stop = make("S&top", None, "stop", "Stop and release the model and source")
        self.step = make("Step &Forward", "Right", "step", "Next frame (while paused)")
        self.step_back = make("Step &Back", "Left", "step-back", "Previous frame (files, while paused)")
        self.rewind = make("Go to &Start", "Home")
        self.loop = make("&Loop", "L", checkable=True, tip="Start again at the end of a file")
        self.realtime = make("&Real-time Playback", checkable=True,
                             tip="Play files at their own frame rate, not as fast as the model runs")

        self.hud = make("Show &Rate on the Video", "H", checkable=True,
                        tip="FPS and detection count over the picture (never in snapshots or recordings)")
        self.show_confidence = make("Show &Confidence", checkable=True,
                                    tip="The score beside each label, on the video, snapshots and recordings")
        self.line_widths = self._choices(window, LINE_WIDTHS, "Line width of the boxes")
        self.font_sizes = self._choices(window, FONT_SIZES, "Size of the labels")
        self.track = make("&Track Objects", "T", checkable=True,
                          tip="Follow each object from frame to frame: an ID on its label, its trail, counting")
        self.trackers = self._choices(window, TRACKERS, "Tracker")
        self.track_across_classes = make("Track &Across Classes", checkable=True,
                                         tip="One track may change class (by default each class is tracked apart)")
        self.show_trails = make("Show T&rails", checkable=True,
                                tip="Each track's recent path, on the video, snapshots and recordings")
        self.trail_lengths = self._choices(window, TRAIL_LENGTHS, "Trail length")
        self.colour_by = self._choices(window, COLOURS, "Box colours")
        self.draw_line = make("Draw Count &Line", "D", checkable=True,
                              tip="Drag across the picture: tracked objects crossing it are counted in and out")
        self.draw_zone = make("Draw Count &Zone", "Z", checkable=True,
                              tip="Click the zone's corners on the picture, double-click or Enter to close it")
        self.remove_mark = make("&Remove Last Line or Zone", "Ctrl+Z")
        self.clear_marks = make("Remove All Lines and &Zones")
        self.fullscreen = make("&Fullscreen", "F", "fullscreen", "Fullscreen", checkable=True)
        self.leave_fullscreen = make("Leave Fullscreen", "Esc")
        self.shortcuts = make("&Keyboard Shortcuts", "F1")
        self.about = make("&About trt-viewer")

    @staticmethod
    def _choices(window: QWidget, choices: tuple[tuple[str, K], ...], tip: str) -> dict[K, QAction]:
        """One checkable action per value, one of them checked at a time."""
        group = QActionGroup(window)
        actions: dict[K, QAction] = {}
        for text, value in choices:
            action = QAction(text, group)
            action.setCheckable(True)
            action.setToolTip(f"{tip}: {text.replace('&', '').lower()}")
            action.setData(value)
            actions[value] = action
        return actions

    def set_playing(self, playing: bool) -> None:
        self.play.setText("&Pause" if playing else "&Play")
        self.play.setIcon(icons.icon("pause" if playing else "play"))
