"""The main window's widgets, and fullscreen, which takes them away and back.

The video view and transport bar in the middle, the panels in docks, then menus, toolbar
and status bar, all built on the QMainWindow given; the dock sizes of the last session.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt, QTimer
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


class Shell:
    """Builds the widgets onto `window` and keeps them; the chooser's menus go into the
    File menu and onto the picker buttons."""

    def __init__(self, window: QMainWindow, actions: Actions, settings: Settings, chooser: Chooser) -> None:
        self._window = window
        self._actions = actions
        self._docks_sized = False  # the default dock proportions were applied or restored
        self._fullscreen_docks: list[QDockWidget] = []  # hidden by fullscreen, to show again after
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
        for action in (a.open, a.open_model, a.open_source, a.open_folder, a.open_url):
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
        m.addSeparator()
        m.addAction(a.fullscreen)
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
        """The window's size and the docks' arrangement from the last session."""
        geometry, state = settings.window_state()
        if geometry is not None:
            self._window.restoreGeometry(geometry)
        else:
            self._window.resize(*DEFAULT_SIZE)
        if state is not None:
            self._docks_sized = self._window.restoreState(state)

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
        window = self._window
        if on == window.isFullScreen():
            self._actions.fullscreen.setChecked(on)
            return
        bars = (window.menuBar(), self.toolbar, window.statusBar(), self.transport)
        if on:
            self._fullscreen_docks = [d for d in self.docks() if d.isVisible()]
            for widget in (*bars, *self._fullscreen_docks):
                widget.hide()
            window.showFullScreen()
        else:
            for widget in (*bars, *self._fullscreen_docks):
                widget.show()
            window.showNormal()
        self._actions.fullscreen.setChecked(on)

    def window_state_changed(self) -> None:
        """The window manager took the window out of fullscreen: the chrome comes back."""
        if not self._window.isFullScreen() and self._actions.fullscreen.isChecked():
            self.set_fullscreen(False)
