"""The main window's widgets, and fullscreen, which takes them away and back.

The video view and transport bar in the middle, the panels in docks, then menus, toolbar
and status bar, all built on the QMainWindow given; the dock sizes of the last session.

Fullscreen hides the bars and docks. Leaving it gives back exactly the layout from before:
the dock sizes, what was shown, the toolbar. Showing the docks again in a window that is
still fullscreen-sized (the window manager answers later) would otherwise share the space
out anew, so the layout saved on the way in is restored once the window has its size back.
Until then it is also kept in the settings: a session that ends fullscreen (or dies there)
starts next time with the layout from before fullscreen, not the one it closed with.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QByteArray, QEvent, QObject, QSize, Qt, QTimer, Signal
from PySide6.QtGui import QAction
from PySide6.QtWidgets import (
    QDockWidget,
    QLabel,
    QMainWindow,
    QSizePolicy,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from trt_viewer.core.drawing import DrawStyle
from trt_viewer.gui.actions import Actions
from trt_viewer.gui.class_filter import ClassFilter
from trt_viewer.gui.detection_panel import DetectionPanel
from trt_viewer.gui.menus import source_menu
from trt_viewer.gui.model_panel import ModelPanel
from trt_viewer.gui.settings import Settings
from trt_viewer.gui.stats_panel import StatsPanel
from trt_viewer.gui.status import STATE_TEXT
from trt_viewer.gui.transport import TransportBar
from trt_viewer.gui.view import VideoView

if TYPE_CHECKING:
    from trt_viewer.gui.choosing import Chooser

DEFAULT_SIZE = (1440, 900)
DETECTION_DOCK_WIDTH = 350
SETTLE_MS = 2000  # the longest a window manager may take to give the window its size back


class LabelStyle(QObject):
    """View > Labels (line width, label size, confidence) and how tracks look (Tracking >
    trails, their length, colours by class or by track), kept in the settings; `changed`
    sends the new DrawStyle (the view, snapshots and recordings draw with it)."""

    changed = Signal(object)  # DrawStyle

    def __init__(self, settings: Settings, actions: Actions, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._settings = settings
        self._actions = actions
        stored = settings.draw_style()
        actions.show_confidence.setChecked(stored.show_confidence)
        actions.show_trails.setChecked(stored.trails)
        for choices, value in ((actions.line_widths, stored.line_width), (actions.font_sizes, stored.font_size)):
            choices[min(choices, key=lambda v: abs(v - value))].setChecked(True)
        actions.trail_lengths[min(actions.trail_lengths, key=lambda n: abs(n - stored.trail_length))].setChecked(True)
        actions.colour_by[stored.colour_by].setChecked(True)
        for group in (actions.line_widths, actions.font_sizes, actions.trail_lengths, actions.colour_by):
            for action in group.values():
                action.toggled.connect(self._update)
        actions.show_confidence.toggled.connect(self._update)
        actions.show_trails.toggled.connect(self._update)
        self.style = self._chosen()

    def _chosen(self) -> DrawStyle:
        a = self._actions

        def checked(choices: dict[Any, QAction], default: Any) -> Any:
            return next((v for v, action in choices.items() if action.isChecked()), default)

        return DrawStyle(line_width=checked(a.line_widths, 1.0), font_size=checked(a.font_sizes, 1.0),
                         show_confidence=a.show_confidence.isChecked(), colour_by=checked(a.colour_by, "class"),
                         trails=a.show_trails.isChecked(), trail_length=checked(a.trail_lengths, 30))

    def _update(self) -> None:
        style = self._chosen()
        if style != self.style:
            self.style = style
            self._settings.save_draw_style(style)
            self.changed.emit(style)


class _Resizes(QObject):
    """Calls back after each resize of the window, while watching (an event filter sees
    every event the window gets, so it is on only while needed)."""

    def __init__(self, window: QMainWindow, callback: Callable[[], None]) -> None:
        super().__init__(window)
        self._window = window
        self._callback = callback

    def watch(self, on: bool) -> None:
        if on:
            self._window.installEventFilter(self)
        else:
            self._window.removeEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:
        if event.type() == QEvent.Type.Resize:
            QTimer.singleShot(0, self, self._callback)  # once the window's layout has taken it in
        return False


class Shell:
    """Builds the widgets onto `window` and keeps them; the chooser's menus go into the
    File menu and onto the picker buttons."""

    def __init__(self, window: QMainWindow, actions: Actions, settings: Settings, chooser: Chooser) -> None:
        self._window = window
        self._actions = actions
        self._settings = settings
        self._docks_sized = False  # the default dock proportions were applied or restored
        self._fullscreen = False  # the chrome is hidden for fullscreen
        self._hidden: list[QWidget] = []  # hidden by fullscreen, to show again after
        self._before: tuple[QByteArray, QByteArray] | None = None  # geometry and layout before fullscreen
        self._normal_size = QSize()  # the window's size before fullscreen
        self._maximized = False  # ... and whether it was maximized
        self._settling = False  # fullscreen was left: the layout waits for the window's size
        self._settle_timer = QTimer(window)
        self._settle_timer.setSingleShot(True)
        self._settle_timer.setInterval(SETTLE_MS)
        self._settle_timer.timeout.connect(self._settle_timeout)
        self._resizes = _Resizes(window, self._resized)
        window.setDockOptions(QMainWindow.DockOption.AnimatedDocks | QMainWindow.DockOption.AllowTabbedDocks)

        a = actions
        self.view = VideoView()
        self.transport = TransportBar([a.play, a.stop, None, a.step_back, a.step])
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.view, 1)
        box.addWidget(self.transport)
        window.setCentralWidget(central)

        config, preset = settings.detection()
        self.detection = DetectionPanel(config, preset=preset)
        self.class_filter = ClassFilter()
        self.stats = StatsPanel()
        self.model_panel = ModelPanel()
        self.detection_dock = self._dock("Detection", self.detection, "detectionDock")
        self.stats_dock = self._dock("Statistics", self.stats, "statsDock")
        self.classes_dock = self._dock("Classes", self.class_filter, "classesDock")
        self.model_dock = self._dock("Model", self.model_panel, "modelDock")
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.detection_dock)
        window.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.stats_dock)
        window.tabifyDockWidget(self.stats_dock, self.classes_dock)
        window.tabifyDockWidget(self.classes_dock, self.model_dock)
        self.stats_dock.raise_()

        self.labels = LabelStyle(settings, actions, window)
        self._build_menus(chooser)
        self.model_button, self.source_button, self.toolbar = self._build_toolbar(chooser)
        self.state_label, self.backend_label, self.fps_label = self._build_status()

        # What one widget does to another, with nothing else involved.
        self.class_filter.classesChanged.connect(self.detection.set_classes)
        self.view.doubleClicked.connect(a.fullscreen.toggle)
        a.fullscreen.toggled.connect(self.set_fullscreen)
        a.leave_fullscreen.triggered.connect(lambda: self.set_fullscreen(False))

    def docks(self) -> tuple[QDockWidget, ...]:
        return (self.detection_dock, self.stats_dock, self.classes_dock, self.model_dock)

    def _dock(self, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self._window)
        dock.setObjectName(name)  # saveState() finds docks by name
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        return dock

    def _build_menus(self, chooser: Chooser) -> None:
        a = self._actions
        bar = self._window.menuBar()
        m = bar.addMenu("&File")
        for action in (a.open, a.open_model, chooser.triton_action, a.open_source, a.open_folder, a.open_url):
            m.addAction(action)
        m.addMenu(chooser.camera_menu)
        m.addSeparator()
        m.addMenu(chooser.recent_models)
        m.addMenu(chooser.recent_sources)
        m.addSeparator()
        for action in (a.snapshot, a.record, a.export, a.output_dir):
            m.addAction(action)
        m.addSeparator()
        m.addAction(a.quit)
        m = bar.addMenu("&Playback")
        for action in (a.play, a.stop, a.step, a.step_back, a.rewind):
            m.addAction(action)
        m.addSeparator()
        m.addAction(a.loop)
        m.addAction(a.realtime)
        m = bar.addMenu("&View")
        for dock in self.docks():
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        m.addAction(a.hud)
        labels = m.addMenu("&Labels")
        labels.addAction(a.show_confidence)
        for choices in (a.line_widths, a.font_sizes):
            labels.addSeparator()
            for action in choices.values():
                labels.addAction(action)
        m.addSeparator()
        m.addAction(a.fullscreen)
        m = bar.addMenu("&Tracking")
        m.setToolTipsVisible(True)
        m.addAction(a.track)
        m.addSeparator()
        for action in a.trackers.values():
            m.addAction(action)
        m.addAction(a.track_across_classes)
        m.addSeparator()
        m.addAction(a.show_trails)
        for action in a.trail_lengths.values():
            m.addAction(action)
        m.addSeparator()
        for action in a.colour_by.values():
            m.addAction(action)
        m.addSeparator()
        for action in (a.draw_line, a.draw_zone, a.remove_mark, a.clear_marks):
            m.addAction(action)
        m = bar.addMenu("&Help")
        m.addAction(a.shortcuts)
        m.addAction(a.about)

    def _build_toolbar(self, chooser: Chooser) -> tuple[QToolButton, QToolButton, QToolBar]:
        a = self._actions
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        model_button = QToolButton()
        model_button.setDefaultAction(a.open_model)
        model_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        model_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        model_button.setMenu(chooser.recent_models)
        source_button = QToolButton()
        source_button.setDefaultAction(a.open_source)
        source_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        source_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        source_button.setMenu(source_menu(
            [a.open_source, a.open_folder, a.open_url], chooser.camera_menu, chooser.recent_sources, self._window,
        ))
        bar.addWidget(model_button)
        bar.addWidget(source_button)
        bar.addSeparator()
        bar.addAction(a.snapshot)
        bar.addAction(a.record)
        bar.addAction(a.export)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addAction(a.fullscreen)
        self._window.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        return model_button, source_button, bar

    def _build_status(self) -> tuple[QLabel, QLabel, QLabel]:
        status = self._window.statusBar()
        state_label = QLabel(STATE_TEXT["stopped"])
        backend_label = QLabel("")
        backend_label.setObjectName("muted")
        fps_label = QLabel("– FPS")
        fps_label.setMinimumWidth(fps_label.fontMetrics().horizontalAdvance("0000.0 FPS") + 16)
        fps_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        status.addPermanentWidget(backend_label)
        status.addPermanentWidget(state_label)
        status.addPermanentWidget(fps_label)
        return state_label, backend_label, fps_label

    # -- geometry ------------------------------------------------------------------------------
    def restore(self, settings: Settings) -> None:
        """The window's size and the docks' arrangement from the last session (from before
        fullscreen, if it ended fullscreen), and the labels' style."""
        geometry, state = settings.window_state()
        before = settings.layout_before_fullscreen()
        if before is not None:
            geometry, state = before
            settings.save_window_state(*before)
            settings.save_layout_before_fullscreen(None)
        if geometry is not None:
            self._window.restoreGeometry(geometry)
        else:
            self._window.resize(*DEFAULT_SIZE)
        if state is not None:
            self._docks_sized = self._window.restoreState(state)
        self.labels.changed.emit(self.labels.style)

    def shown(self) -> None:
        if not self._docks_sized:
            # Default proportions; only once laid out do the docks have heights to share.
            self._docks_sized = True
            QTimer.singleShot(0, self._size_docks)

    def _size_docks(self) -> None:
        self._window.resizeDocks([self.detection_dock], [DETECTION_DOCK_WIDTH], Qt.Orientation.Horizontal)
        self._window.resizeDocks([self.detection_dock], [self.detection.sizeHint().height()], Qt.Orientation.Vertical)

    # -- fullscreen ----------------------------------------------------------------------------
    def set_fullscreen(self, on: bool) -> None:
        if on != self._fullscreen:
            self._fullscreen = on
            if on:
                self._enter_fullscreen()
            else:
                self._leave_fullscreen()
        self._actions.fullscreen.setChecked(on)

    def _enter_fullscreen(self) -> None:
        window = self._window
        if not self._settling:  # else the layout from before the last fullscreen is still the one
            self._before = (window.saveGeometry(), window.saveState())
            self._normal_size = window.size()
            self._maximized = window.isMaximized()
        self._settling = False
        self._resizes.watch(False)
        self._settle_timer.stop()
        self._settings.save_layout_before_fullscreen(self._before)
        chrome = (window.menuBar(), self.toolbar, window.statusBar(), self.transport, *self.docks())
        self._hidden = [w for w in chrome if not w.isHidden()]
        for widget in self._hidden:
            widget.hide()
        window.showFullScreen()

    def _leave_fullscreen(self) -> None:
        window = self._window
        if self._maximized:
            window.showMaximized()
        else:
            window.showNormal()
        for widget in self._hidden:
            widget.show()
        self._hidden = []
        self._settling = True
        self._resizes.watch(True)
        self._settle_timer.start()
        self._restore_layout()

    def _resized(self) -> None:
        if self._settling:
            self._restore_layout()

    def _restore_layout(self) -> None:
        """The docks as they were before fullscreen; done once the window has its size back."""
        window = self._window
        if self._before is None:
            return
        window.restoreState(self._before[1])
        back = window.isMaximized() if self._maximized else window.size() == self._normal_size
        if back and not window.isFullScreen():
            self._settled()

    def _settle_timeout(self) -> None:
        """The window manager never gave the size back: the layout from before all the same."""
        if self._settling:
            self._restore_layout()
            self._settled()

    def _settled(self) -> None:
        if not self._settling:
            return
        self._settling = False
        self._resizes.watch(False)
        self._settle_timer.stop()
        if self._window.isVisible():  # a window that closed fullscreen keeps it for the next start
            self._settings.save_layout_before_fullscreen(None)

    def window_state_changed(self) -> None:
        """The window manager took the window out of fullscreen: the chrome comes back."""
        if self._fullscreen and not self._window.isFullScreen():
            self.set_fullscreen(False)
