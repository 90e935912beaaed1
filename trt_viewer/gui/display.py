"""The picture and the rates: each frame the run shows, the HUD over it, the FPS label
and the statistics panel.

Whatever is said about "this frame" (the HUD's count, the per-class "This frame" column)
comes from the frame on screen, updated as each is shown; the run's figures (rates,
stage times, totals) from the worker's stats reports, a few times a second.
"""

from __future__ import annotations

from collections import Counter
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from PySide6.QtCore import QObject, QTimer, Signal
from PySide6.QtWidgets import QLabel

from trt_viewer.core.detections import label_for
from trt_viewer.core.drawing import DEFAULT_STYLE, DrawStyle, LineMark, TrackOverlay, ZoneMark
from trt_viewer.core.stats import FpsMeter
from trt_viewer.gui.stats_panel import StatsPanel
from trt_viewer.gui.transport import TransportBar
from trt_viewer.gui.view import VideoView

if TYPE_CHECKING:
    from trt_viewer.gui.frames import FramePacket
    from trt_viewer.gui.run_control import RunControl

NO_RATE = "– FPS"
REFRESH_MS = 500


def frame_counts(packet: FramePacket | None) -> dict[str, int]:
    """Detections per label in one frame."""
    if packet is None:
        return {}
    labels = packet.labels
    if len(labels) != len(packet.detections):
        labels = [label_for(packet.names, int(c)) for c in packet.detections.class_ids]
    return dict(Counter(labels))


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
        self.style = DEFAULT_STYLE  # how boxes and labels are drawn
        self._counts_shown: dict[str, int] | None = None  # the panel's "This frame" column
        self._tick = QTimer(self)
        self._tick.setInterval(REFRESH_MS)
        self._tick.timeout.connect(self.refresh_rates)
        self._tick.start()

    def new_run(self) -> None:
        self.display_meter = FpsMeter()
        self.last_stats = None
        self._counts_shown = None
        self._stats_panel.reset()
        self._send_style()

    def show_frame(self, packet: FramePacket) -> None:
        self._view.set_frame_size(*packet.frame_size)
        self._view.set_image(packet.image)
        self._transport.set_position(packet.index, packet.timestamp)
        self.display_meter.tick()
        self.update_hud()
        self._update_panel()
        self.frameShown.emit(packet.index)

    def show_stats(self, stats: dict[str, Any]) -> None:
        self.last_stats = stats
        self._update_panel(force=True)
        self.refresh_rates()

    def _update_panel(self, force: bool = False) -> None:
        """The statistics panel: the run's figures from the last report, and the frame on
        screen's detections in "This frame" (a report's own frame_counts describe the newest
        frame processed, often not the one shown)."""
        stats = self.last_stats
        if stats is None:
            return
        counts = frame_counts(self._run.packet)
        if force or counts != self._counts_shown:
            self._counts_shown = counts
            self._stats_panel.update_stats({**stats, "frame_counts": counts}, self._run.state == "playing")

    def set_style(self, style: DrawStyle) -> None:
        """Draw boxes and labels this way from now on: the run's next frames, and the frame
        on screen at once when the run is not playing."""
        if style == self.style:
            return
        self.style = style
        self._send_style()
        packet = self._run.packet
        if packet is not None and self._run.state != "playing":
            width, height, ratio = self._view.device_size()
            self._view.set_image(packet.redraw((width, height), ratio, style))
            self.update_hud()

    def tracking_changed(self, on: bool, lines: tuple[LineMark, ...], zones: tuple[ZoneMark, ...],
                         counts: dict[str, Any]) -> None:
        """Tracking was switched, or its lines and zones changed (the run counts afresh):
        the counts panel at once, and the frame on screen when the run is not playing
        (nothing new comes to show it): with these lines and zones, or, tracking off,
        without ids, trails, lines or zones."""
        if self.last_stats is not None:
            self.last_stats = {**self.last_stats, "counts": counts}
        self._stats_panel.set_counts(counts)
        packet = self._run.packet
        if packet is None or self._run.state == "playing":
            return
        if on:
            packet.overlay = replace(packet.overlay or TrackOverlay(), lines=lines, zones=zones)
        else:
            packet.overlay = None
            if packet.detections.track_ids is not None:
                packet.detections = packet.detections.with_track_ids(None)
        width, height, ratio = self._view.device_size()
        self._view.set_image(packet.redraw((width, height), ratio))
        self.update_hud()

    def _send_style(self) -> None:
        # Worker.set_style may not exist yet in every worker (test doubles, older workers).
        send = getattr(self._run.worker, "set_style", None)
        if send is not None:
            send(self.style)

    def state_changed(self, state: str) -> None:
        if state in ("stopped", "ended", "paused"):
            self._fps_label.setText(NO_RATE)
        self.update_hud()

    def view_resized(self, width: int, height: int, ratio: float) -> None:
        packet = self._run.packet
        if packet is not None and self._run.state != "playing":
            # Paused: the worker sends nothing new, so re-render the frame on screen here.
            self._view.set_image(packet.redraw((width, height), ratio))
            self.update_hud()

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
        self._view.set_hud(lines, packet.regions if packet is not None else ())
