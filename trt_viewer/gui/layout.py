"""How the main window is put together, and fullscreen, which takes it apart again.

The video view and transport bar in the middle, the panels in docks, then menus, toolbar
and status bar; which action calls what; and the geometry and toggles of the last session.
"""

# Methods here run on MainWindow, hence `self: MainWindow`, which mypy takes only from a
# protocol or a base class and otherwise reports as [misc].
# mypy: disable-error-code="misc"

from __future__ import annotations

from typing import TYPE_CHECKING

from PySide6.QtCore import Qt
from PySide6.QtWidgets import QDockWidget, QLabel, QSizePolicy, QToolBar, QToolButton, QVBoxLayout, QWidget

from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.gui.class_filter import ClassFilter
from trt_viewer.gui.detection_panel import DetectionPanel
from trt_viewer.gui.feedback import STATE_TEXT
from trt_viewer.gui.menus import CameraMenu, RecentMenu, source_menu
from trt_viewer.gui.model_panel import ModelPanel
from trt_viewer.gui.stats_panel import StatsPanel
from trt_viewer.gui.transport import TransportBar
from trt_viewer.gui.view import VideoView

if TYPE_CHECKING:
    from trt_viewer.gui.window import MainWindow


class LayoutMixin:
    # Declared here because these methods assign them: mypy would otherwise infer them from that.
    view: VideoView
    transport: TransportBar
    detection: DetectionPanel
    class_filter: ClassFilter
    stats: StatsPanel
    model_panel: ModelPanel
    detection_dock: QDockWidget
    stats_dock: QDockWidget
    classes_dock: QDockWidget
    model_dock: QDockWidget
    recent_models: RecentMenu
    recent_sources: RecentMenu
    camera_menu: CameraMenu
    model_button: QToolButton
    source_button: QToolButton
    toolbar: QToolBar
    state_label: QLabel
    backend_label: QLabel
    fps_label: QLabel
    _docks_sized: bool  # the default dock proportions were applied or restored
    _fullscreen_docks: list[QDockWidget]  # hidden by fullscreen, to show again after

    def _build(self: MainWindow) -> None:
        a = self.actions_
        self.view = VideoView()
        self.transport = TransportBar([a.play, a.stop, None, a.step_back, a.step])
        central = QWidget()
        box = QVBoxLayout(central)
        box.setContentsMargins(0, 0, 0, 0)
        box.setSpacing(0)
        box.addWidget(self.view, 1)
        box.addWidget(self.transport)
        self.setCentralWidget(central)

        self.detection = DetectionPanel(
            PostprocessConfig(
                conf=self.settings.get("detect/conf", 0.3, float),
                nms=self.settings.get("detect/nms", 0.45, float),
                agnostic=self.settings.get("detect/agnostic", False, bool),
            ),
            preset=self.settings.get("detect/preset", "auto", str),
        )
        self.class_filter = ClassFilter()
        self.stats = StatsPanel()
        self.model_panel = ModelPanel()
        self.detection_dock = self._dock("Detection", self.detection, "detectionDock")
        self.stats_dock = self._dock("Statistics", self.stats, "statsDock")
        self.classes_dock = self._dock("Classes", self.class_filter, "classesDock")
        self.model_dock = self._dock("Model", self.model_panel, "modelDock")
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.detection_dock)
        self.addDockWidget(Qt.DockWidgetArea.RightDockWidgetArea, self.stats_dock)
        self.tabifyDockWidget(self.stats_dock, self.classes_dock)
        self.tabifyDockWidget(self.classes_dock, self.model_dock)
        self.stats_dock.raise_()
        self._docks_sized = False

        self._build_menus()
        self._build_toolbar()
        self._build_status()

    def _docks(self: MainWindow) -> tuple[QDockWidget, ...]:
        return (self.detection_dock, self.stats_dock, self.classes_dock, self.model_dock)

    def _dock(self: MainWindow, title: str, widget: QWidget, name: str) -> QDockWidget:
        dock = QDockWidget(title, self)
        dock.setObjectName(name)  # saveState() finds docks by name
        dock.setWidget(widget)
        dock.setFeatures(
            QDockWidget.DockWidgetFeature.DockWidgetMovable | QDockWidget.DockWidgetFeature.DockWidgetClosable
            | QDockWidget.DockWidgetFeature.DockWidgetFloatable
        )
        return dock

    def _build_menus(self: MainWindow) -> None:
        a = self.actions_
        self.recent_models = RecentMenu(
            "Recent &Models", self.settings.recent_models, lambda p: self.set_model(p, start=True),
            self._clear_recent, self,
        )
        self.recent_sources = RecentMenu(
            "Recent &Sources", self.settings.recent_sources, lambda s: self.set_source(s, start=True),
            self._clear_recent, self,
        )
        self.camera_menu = CameraMenu(self.cameras, self._choose_camera, self)
        bar = self.menuBar()
        m = bar.addMenu("&File")
        for action in (a.open, a.open_model, a.open_source, a.open_folder, a.open_url):
            m.addAction(action)
        m.addMenu(self.camera_menu)
        m.addSeparator()
        m.addMenu(self.recent_models)
        m.addMenu(self.recent_sources)
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
        for dock in self._docks():
            m.addAction(dock.toggleViewAction())
        m.addSeparator()
        m.addAction(a.hud)
        m.addSeparator()
        m.addAction(a.fullscreen)
        m = bar.addMenu("&Help")
        m.addAction(a.shortcuts)
        m.addAction(a.about)

    def _build_toolbar(self: MainWindow) -> None:
        a = self.actions_
        bar = QToolBar("Main")
        bar.setObjectName("mainToolbar")
        bar.setMovable(False)
        bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.model_button = QToolButton()
        self.model_button.setDefaultAction(a.open_model)
        self.model_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.model_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.model_button.setMenu(self.recent_models)
        self.source_button = QToolButton()
        self.source_button.setDefaultAction(a.open_source)
        self.source_button.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        self.source_button.setPopupMode(QToolButton.ToolButtonPopupMode.MenuButtonPopup)
        self.source_button.setMenu(
            source_menu([a.open_source, a.open_folder, a.open_url], self.camera_menu, self.recent_sources, self)
        )
        bar.addWidget(self.model_button)
        bar.addWidget(self.source_button)
        bar.addSeparator()
        bar.addAction(a.snapshot)
        bar.addAction(a.record)
        bar.addAction(a.export)
        spacer = QWidget()
        spacer.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Preferred)
        bar.addWidget(spacer)
        bar.addAction(a.fullscreen)
        self.toolbar = bar
        self.addToolBar(Qt.ToolBarArea.TopToolBarArea, bar)
        self._update_pickers()

    def _build_status(self: MainWindow) -> None:
        status = self.statusBar()
        self.state_label = QLabel(STATE_TEXT["stopped"])
        self.backend_label = QLabel("")
        self.backend_label.setObjectName("muted")
        self.fps_label = QLabel("– FPS")
        self.fps_label.setMinimumWidth(self.fps_label.fontMetrics().horizontalAdvance("0000.0 FPS") + 16)
        self.fps_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        status.addPermanentWidget(self.backend_label)
        status.addPermanentWidget(self.state_label)
        status.addPermanentWidget(self.fps_label)

    def _connect(self: MainWindow) -> None:
        a = self.actions_
        a.open.triggered.connect(self.open_dialog)
        a.open_model.triggered.connect(self.open_model_dialog)
        a.open_source.triggered.connect(self.open_source_dialog)
        a.open_folder.triggered.connect(self.open_folder_dialog)
        a.open_url.triggered.connect(self.open_url_dialog)
        a.output_dir.triggered.connect(self.choose_output_dir)
        a.snapshot.triggered.connect(self.snapshot)
        a.record.toggled.connect(lambda on: self.set_output("record", on))
        a.export.toggled.connect(lambda on: self.set_output("export", on))
        a.quit.triggered.connect(self.close)
        a.play.triggered.connect(self.toggle_play)
        a.stop.triggered.connect(self.stop)
        a.step.triggered.connect(self.step)
        a.step_back.triggered.connect(self.step_back)
        a.rewind.triggered.connect(lambda: self.seek(0))
        a.loop.toggled.connect(self._set_loop)
        a.realtime.toggled.connect(self._set_realtime)
        a.fullscreen.toggled.connect(self.set_fullscreen)
        a.hud.toggled.connect(self._set_hud)
        a.leave_fullscreen.triggered.connect(lambda: self.set_fullscreen(False))
        a.shortcuts.triggered.connect(self.show_shortcuts)
        a.about.triggered.connect(self.show_about)
        self.transport.loop.toggled.connect(a.loop.setChecked)
        self.transport.realtime.toggled.connect(a.realtime.setChecked)
        self.transport.slider.seekRequested.connect(self.seek)
        self.view.resized.connect(self._view_resized)
        self.view.reconnectRequested.connect(self.reconnect)
        self.view.doubleClicked.connect(a.fullscreen.toggle)
        self.detection.configChanged.connect(self._config_changed)
        self.detection.presetChanged.connect(self._preset_changed)
        self.class_filter.classesChanged.connect(self.detection.set_classes)
        self.saver.saved.connect(lambda path: self.notify(f"Snapshot saved: {path}"))
        self.saver.failed.connect(self.show_error)
        self._update_actions()

    def _restore(self: MainWindow) -> None:
        geometry, state = self.settings.window_state()
        if geometry is not None:
            self.restoreGeometry(geometry)
        else:
            self.resize(1440, 900)
        if state is not None:
            self._docks_sized = self.restoreState(state)
        self.actions_.loop.setChecked(self.settings.get("playback/loop", False, bool))
        self.actions_.realtime.setChecked(self.settings.get("playback/realtime", False, bool))
        self.actions_.hud.setChecked(self.settings.get("view/hud", True, bool))
        self.view.hud_enabled = self.actions_.hud.isChecked()

    def set_fullscreen(self: MainWindow, on: bool) -> None:
        if on == self.isFullScreen():
            self.actions_.fullscreen.setChecked(on)
            return
        bars = (self.menuBar(), self.toolbar, self.statusBar(), self.transport)
        if on:
            self._fullscreen_docks = [d for d in self._docks() if d.isVisible()]
            for widget in (*bars, *self._fullscreen_docks):
                widget.hide()
            self.showFullScreen()
        else:
            for widget in (*bars, *self._fullscreen_docks):
                widget.show()
            self.showNormal()
        self.actions_.fullscreen.setChecked(on)

    def _size_docks(self: MainWindow) -> None:
        self.resizeDocks([self.detection_dock], [350], Qt.Orientation.Horizontal)
        self.resizeDocks([self.detection_dock], [self.detection.sizeHint().height()], Qt.Orientation.Vertical)
