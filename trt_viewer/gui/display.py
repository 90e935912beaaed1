"""The picture and the rates: each frame the run shows, the HUD over it, the FPS label
and the statistics panel."""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from trt_viewer.core.stats import FpsMeter
from trt_viewer.gui.stats_panel import StatsPanel
from trt_viewer.gui.transport import TransportBar
from trt_viewer.gui.view import VideoView

if TYPE_CHECKING:
    from trt_viewer.gui.frames import FramePacket
    from trt_viewer.gui.run_control import RunControl

NO_RATE = "– FPS"
REFRESH_MS = 500


class Display(QObject):
    """Puts the run's frames on the view and keeps the rates shown up to date.

    The display rate is counted here, where frames reach the screen; the pipeline's own
    figures come with each stats report.
    """

    frameShown = Signal(int)  # index of each frame put on screen

    def __init__(self, run: RunControl, view: VideoView, transport: TransportBar, stats: StatsPanel,
                 fps_label: QLabel, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self._run = run
        self._view = view
        self._transport = transport
        self._stats_panel = stats
        self._fps_label = fps_label
        self.display_meter = FpsMeter()
        self.last_stats: dict[str, Any] | None = None  # the current run's latest report
        self._tick = QTimer(self)
        self._tick.setInterval(REFRESH_MS)
        self._tick.timeout.connect(self.refresh_rates)
        self._tick.start()

    def new_run(self) -> None:
        self.display_meter = FpsMeter()
        self.last_stats = None
        self._stats_panel.reset()

    def show_frame(self, packet: FramePacket) -> None:
        self._view.set_image(packet.image)
        self._transport.set_position(packet.index, packet.timestamp)
        self.display_meter.tick()
        self.update_hud()
        self.frameShown.emit(packet.index)

    def show_stats(self, stats: dict[str, Any]) -> None:
        self.last_stats = stats
        self._stats_panel.update_stats(stats, self._run.state == "playing")
        self.refresh_rates()

    def state_changed(self, state: str) -> None:
        if state in ("stopped", "ended", "paused"):
            self._fps_label.setText(NO_RATE)
        self.update_hud()

    def view_resized(self, width: int, height: int, ratio: float) -> None:
        packet = self._run.packet
        if packet is not None and self._run.state != "playing":
            # Paused: the worker sends nothing new, so re-render the frame on screen here.
            self._view.set_image(packet.render((width, height), ratio))

    def refresh_rates(self) -> None:
        playing = self._run.state == "playing"
        self._stats_panel.set_display_fps(self.display_meter.fps if playing else None)
        if playing and self.last_stats is not None and self.last_stats["fps"] > 0:
            self._fps_label.setText(f"{self.last_stats['fps']:.1f} FPS")

    def update_hud(self) -> None:
        lines = []
        stats = self.last_stats
        if self._run.state == "playing" and stats is not None and stats["fps"] > 0:
            lines.append(f"{stats['fps']:.1f} FPS")
        packet = self._run.packet
        if packet is not None:
            n = len(packet.detections)
            lines.append(f"{n} detection{'' if n == 1 else 's'}")
        self._view.set_hud(lines)
