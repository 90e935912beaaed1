"""One run of a model over a source: the loop behind both the viewer and `trt-viewer run`.

A Player reads frames in a FrameReader thread (or takes them from a decoder process),
keeps up to the backend's lanes in flight (InFlight) and reports every result, in source
order, to its Listener. run() is called in the thread that owns the backend and returns
when the run is over; the commands (play, pause, step, seek, stop...) may be called from
any thread and wake it at once.

Headless (`interactive=False`) is the same loop that never pauses, never loops, never
paces: it returns at the end of the source or when a live source stops. Interactive, it
stays at the end or on a lost source, waiting for a command (play again, reconnect).
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from enum import Enum
from typing import Any

from trt_viewer.core.detections import Detections
from trt_viewer.core.sources import Source
from trt_viewer.core.stats import FpsMeter, StageStats
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.errors import first_line
from trt_viewer.run.decoding import source_opener as make_opener
from trt_viewer.run.detector import Detector
from trt_viewer.run.flight import InFlight, Result
from trt_viewer.run.opening import open_cancellable
from trt_viewer.run.reader import Reader, make_reader
from trt_viewer.run.session import SourceInfo, display_name, model_info, source_info
from trt_viewer.run.tracking import Tracking, TrackingOptions

STATS_EVERY_S = 0.5
IDLE_WAIT_S = 0.25  # paused or ended: the longest sleep between looks at the commands
CATCH_UP_S = 0.5  # real-time playback this far behind starts a new clock instead of rushing
STATS_WINDOW = 600  # frames: the stage figures describe the last few seconds, not the run
RECONNECT_DELAYS_S = (1.0, 2.0, 4.0, 8.0, 16.0, 30.0)  # then every 30 s until cancelled


class State(str, Enum):
    LOADING = "loading"
    PLAYING = "playing"
    PAUSED = "paused"
    ENDED = "ended"  # a file played to its end
    LOST = "lost"  # a live source stopped sending frames
    STOPPED = "stopped"  # run() returned: the backend and the source are released


@dataclass(frozen=True)
class PlayOptions:
    interactive: bool = True  # False: headless, run() returns at the end instead of waiting
    paused: bool = False  # start paused, showing the first frame
    loop: bool = False
    realtime: bool = False  # hold files to their own frame rate
    max_frames: int | None = None  # stop after this many frames
    depth: int = 2  # frames read and letterboxed ahead
    stats_window: int = STATS_WINDOW  # frames the stage figures describe
    auto_reconnect: bool = True  # interactive: a lost live source is reopened with backoff
    reconnect_delays: tuple[float, ...] = RECONNECT_DELAYS_S  # seconds before each attempt; the last repeats
    tracking: TrackingOptions | None = None  # track (and count) the detections
    image_seconds: float = 0.0  # interactive, folders of images: how long each stays; 0 pauses on each
    decode: str = "auto"  # the decoder for video files (run.decoding.DECODE_CHOICES)
    # A frame's pixels after the model, where a decoder lends them (core.sources.Frame.settle):
    # "keep" copies them for the frame (the viewer shows and redraws it), "drop" lets them
    # go (a run writing detections only), "lend" leaves the frame holding the decoder's
    # memory: the listener settles each result's frame, in its own thread, once done (a
    # run drawing into a video, with no copy). "view" (a viewer): a frame on the GPU stays
    # there while it is the current one, and the listener holds it (Frame.hold) for as
    # long as it shows it; other frames are kept as with "keep".
    pixels: str = "keep"


@dataclass(frozen=True)
class RunStats:
    fps: float  # frames through the model per second, lately
    frames: int  # frames processed in this run
    dropped: int  # frames a live source replaced before they were processed
    stages: dict[str, dict[str, float]]  # p50/p95 ms per stage, over the last frames
    frame_counts: dict[str, int]  # detections per label in the current frame
    totals: dict[str, int]  # detections per label over the run
    counts: dict[str, Any] = field(default_factory=dict)  # lines and zones, where the run counts


class Listener:
    """What a Player reports, called in the player's thread; override what you need."""

    def state_changed(self, state: State) -> None:
        """The run's state changed."""

    def model_described(self, info: dict[str, Any]) -> None:
        """The model, once per run: after its output layout is settled, or at the end of
        a run that processed no frame."""

    def source_opened(self, info: SourceInfo) -> None:
        """The source, once per run, when it first opened."""

    def result(self, result: Result) -> None:
        """Every processed frame, in source order. Timings added to result.timings here
        (drawing, say) are counted in the stage figures."""

    def redone(self, result: Result) -> None:
        """The frame on screen processed again after a settings change while paused."""

    def stats(self, stats: RunStats) -> None:
        """A few times a second while frames flow, and at the end."""

    def source_lost(self, message: str) -> None:
        """A live source stopped sending frames (interactive runs then wait to reconnect)."""

    def reconnecting(self, seconds: float | None, reason: str) -> None:
        """The next automatic reconnect is `seconds` away (None: none is planned, it was
        cancelled or the source came back); reason: why the last attempt failed, or ""."""

    def error(self, message: str) -> None:
        """A failure the run survives (a reconnect that failed); fatal ones leave run()."""


@dataclass
class _Commands:
    """What the other threads ask for, behind one condition. Every change bumps the
    generation and wakes the player, so a paused player reacts at once."""

    paused: bool
    loop: bool
    realtime: bool
    config: PostprocessConfig | None = None  # None: the detector's own
    preset: str | None = None
    stop: bool = False
    steps: int = 0
    seek: int | None = None
    back: bool = False
    reconnect: bool = False
    cancel_retries: bool = False
    image_seconds: float = 0.0
    refresh: bool = False  # settings changed: redo the frame on screen if paused
    calls: list[Callable[[], None]] = field(default_factory=list)
    generation: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def changed(self) -> None:
        """Call with cond held."""
        self.generation += 1
        self.cond.notify_all()

    def wait(self, since: int, timeout: float) -> None:
        """Sleep until something changes after generation `since`, or timeout."""
        deadline = time.monotonic() + timeout
        with self.cond:
            while self.generation == since and not self.stop:
                left = deadline - time.monotonic()
                if left <= 0:
                    return
                self.cond.wait(left)


class Player:
    def __init__(self, listener: Listener | None = None, options: PlayOptions | None = None, *,
                 config: PostprocessConfig | None = None, preset: str | None = None) -> None:
        self.listener = listener or Listener()
        self.options = options or PlayOptions()
        start_paused = self.options.paused and self.options.interactive
        self._cmd = _Commands(
            paused=start_paused, loop=self.options.loop and self.options.interactive,
            realtime=self.options.realtime, config=config, preset=preset,
            steps=1 if start_paused else 0,  # starting paused still shows the first frame
            image_seconds=max(0.0, self.options.image_seconds),
        )
        self.state = State.STOPPED
        self.detector: Detector | None = None
        self.source_info: SourceInfo | None = None
        self.frames = 0  # frames processed in this run
        self.end = ""  # why a headless run returned: "ended", "lost", "stopped" or "max_frames"
        self.shortfall = 0  # frames a file's header promised that never decoded
        self.skipped: list[str] = []  # images of a folder that could not be read
        self._spec = ""
        self._open_source: Callable[[str], Source] = make_opener(self.options.decode)
        self._reader: Reader | None = None
        self._flight: InFlight | None = None
        self._dropped_before = 0  # drops counted by readers already replaced
        self._current: Result | None = None
        self._described = False
        self._stats = StageStats(window=self.options.stats_window)
        self._meter = FpsMeter()
        self._totals: dict[str, int] = {}
        self._last_stats = 0.0
        self._stats_pending = False  # frames shown since the figures were last reported
        self._clock: tuple[float, float] | None = None  # (wall time, frame timestamp)
        self._redo_buffer: Any = None
        self._holds_current = False  # pixels="view": the current frame holds its decoder's memory
        self._retry_at: float | None = None  # monotonic time of the next automatic reconnect
        self._retries = 0
        self.tracking: Tracking | None = None

    # -- commands, from any thread ---------------------------------------------------------
    def _command(self, **changes: Any) -> None:
        cmd = self._cmd
        with cmd.cond:
            for key, value in changes.items():
                setattr(cmd, key, value)
            cmd.changed()

    def play(self) -> None:
        self._command(paused=False)

    def pause(self) -> None:
        self._command(paused=True)

    def set_paused(self, paused: bool) -> None:
        self._command(paused=paused)

    def step(self) -> None:
        """Pause, then show the next frame."""
        cmd = self._cmd
        with cmd.cond:
            cmd.paused = True
            cmd.steps += 1
            cmd.changed()

    def step_back(self) -> None:
        """Pause, then show the frame before the one on screen (seekable sources)."""
        self._command(paused=True, back=True)

    def seek(self, index: int) -> None:
        self._command(seek=max(0, int(index)))

    def set_loop(self, loop: bool) -> None:
        self._command(loop=loop)

    def set_realtime(self, realtime: bool) -> None:
        self._command(realtime=realtime)

    def set_config(self, config: PostprocessConfig) -> None:
        self._command(config=config, refresh=True)

    def set_preset(self, preset: str) -> None:
        self._command(preset=preset, refresh=True)

    def reconnect(self) -> None:
        self._command(reconnect=True)

    def cancel_reconnect(self) -> None:
        """No more automatic reconnects for this loss (reconnect() still works)."""
        self._command(cancel_retries=True)

    def set_tracking(self, options: TrackingOptions | None) -> None:
        """Track (and count) from the next frame with these options; None stops tracking.
        Tracks start afresh; counts start at zero (new lines or zones)."""
        def change() -> None:
            fps = self.source_info.fps if self.source_info is not None else None
            self.tracking = Tracking(options, frame_rate=fps) if options is not None else None

        self.call_soon(change)

    def set_image_seconds(self, seconds: float) -> None:
        """How long each image of a folder stays while playing; 0 pauses on each."""
        self._command(image_seconds=max(0.0, float(seconds)))

    def call_soon(self, call: Callable[[], None]) -> None:
        """Run `call` in the player's thread at its next turn (paused or not)."""
        cmd = self._cmd
        with cmd.cond:
            cmd.calls.append(call)
            cmd.changed()

    def stop(self) -> None:
        self._command(stop=True)
        reader = self._reader
        if reader is not None:
            reader.stop()  # unblocks a get() waiting on a camera

    @property
    def stopping(self) -> bool:
        return self._cmd.stop

    @property
    def current(self) -> Result | None:
        """The frame shown last (on screen while paused); read it in the player's thread."""
        return self._current

    @property
    def dropped(self) -> int:
        reader = self._reader
        return self._dropped_before + (reader.dropped if reader else 0)

    # -- the run, in the backend's thread --------------------------------------------------
    def run(self, open_detector: Callable[[], AbstractContextManager[Detector]], source: str,
            source_opener: Callable[[str], Source] | None = None) -> None:
        """Open the model, play `source` through it, release both. Errors that end the run
        are raised (after the frames read before them were reported). source_opener
        defaults to the decoder PlayOptions.decode names."""
        self._spec = source
        if source_opener is not None:
            self._open_source = source_opener
        self._set_state(State.LOADING)
        try:
            with open_detector() as detector:
                self.detector = detector
                if source_opener is None and detector.gpu_preprocess is not False:
                    # Frames decoded on the GPU stay there only for a backend that
                    # letterboxes them there: it lends its CUDA context to the decoder.
                    self._open_source = make_opener(self.options.decode, device=detector.backend.device_context())
                if detector.layout_settled:
                    self._describe()
                try:
                    if not self._cmd.stop:
                        self._play()
                finally:
                    self._close_reader()  # the backend is done with every buffer before it closes
                    if not self._described:
                        self._describe()
                    self._emit_stats(force=True)  # the figures end on the run's final counts
        finally:
            self._set_state(State.STOPPED)

    def _set_state(self, state: State) -> None:
        if state != self.state:
            self.state = state
            self.listener.state_changed(state)

    def _describe(self) -> None:
        assert self.detector is not None
        self._described = True
        self.listener.model_described(model_info(self.detector.backend, self.detector))

    def _apply_settings(self) -> None:
        assert self.detector is not None
        config, preset = self._cmd.config, self._cmd.preset
        if config is not None:
            self.detector.config = config  # sliders apply from the next frame decoded
        if preset is not None and preset != self.detector.preset.name:
            self.detector.set_preset(preset)

    def _play(self) -> None:
        cmd, interactive = self._cmd, self.options.interactive
        reader = self._open(0)
        if reader is None:
            return
        info = self.source_info
        assert info is not None
        state = State.PAUSED if cmd.paused else State.PLAYING
        self._set_state(state)
        played_since_open = 0
        while True:
            with cmd.cond:
                if cmd.stop:
                    self.end = self.end or "stopped"
                    return
                generation = cmd.generation
                seek, cmd.seek = cmd.seek, None
                back, cmd.back = cmd.back, False
                reconnect, cmd.reconnect = cmd.reconnect, False
                cancel, cmd.cancel_retries = cmd.cancel_retries, False
                refresh, cmd.refresh = cmd.refresh, False
                calls, cmd.calls = cmd.calls, []
                paused = cmd.paused
                step = cmd.steps > 0 and paused  # counted down when its frame is submitted
                if not paused:
                    cmd.steps = 0
            for call in calls:
                call()
            self._apply_settings()
            if back and self._current is not None:
                seek = max(0, self._current.frame.index - 1)

            if seek is not None and info.seekable:
                reader = self._reopen(seek)
                if reader is None:
                    return
                played_since_open = 0
                state = State.PAUSED if paused else State.PLAYING
                step = step or paused  # show the frame sought to
            elif state == State.LOST and (reconnect or self._retry_due()):
                reader = self._reconnect(manual=reconnect)
                if reader is None:
                    continue
                state = State.PAUSED if paused else State.PLAYING
            elif state == State.ENDED and not paused and not step:  # play after the end: start again
                reader = self._reopen(0)
                if reader is None:
                    return
                played_since_open = 0
                state = State.PLAYING
            if state == State.LOST and cancel and self._retry_at is not None:
                self._retry_at = None
                self.listener.reconnecting(None, "")
            if state in (State.ENDED, State.LOST):
                self._set_state(state)
                cmd.wait(generation, self._idle_wait())
                continue
            if paused and not step:
                self._finish_in_flight()  # frames read before the pause are still shown
                self._set_state(State.PAUSED)
                if self._stats_pending:
                    self._emit_stats(force=True)  # the figures describe the frame paused on
                self._clock = None
                if refresh:
                    self._redo()
                cmd.wait(generation, IDLE_WAIT_S)
                continue
            if reader is None:  # a reconnect failed: nothing to read until the next one
                state = State.LOST
                continue
            self._set_state(State.PAUSED if paused else State.PLAYING)

            # Frames in flight: the next frame is submitted before this one is decoded and
            # shown; a live source is never held back for it, nor a step for the next.
            flight = self._flight
            assert flight is not None
            one_at_a_time = paused or (info.images and interactive)  # an image is shown, then held
            if flight and (flight.full or one_at_a_time or not reader.ready()):
                self._show(flight.finish())
                continue
            try:
                item = reader.get()
            except BaseException:
                self._finish_in_flight()  # frames read before the error
                raise
            if item is not None:
                flight.submit(item)
                played_since_open += 1
                if paused:
                    with cmd.cond:
                        cmd.steps = max(0, cmd.steps - 1)
                continue
            self._finish_in_flight()
            if cmd.stop:
                continue
            if info.live:
                # A stream that said it was over ended; one that went silent was lost.
                self.end = "lost" if reader.source.end_reason == "lost" else "ended"
                if not interactive:
                    return
                state = State.LOST
                self.listener.source_lost(f"{display_name(info.spec)} stopped sending frames")
                self._retries = 0
                self._schedule_retry("")
            elif cmd.loop and played_since_open > 0:
                reader = self._reopen(0)
                if reader is None:
                    return
                played_since_open = 0
                continue
            else:
                self.end = "ended"
                if not interactive:
                    return
                state = State.ENDED
                self.set_paused(True)
            self._emit_stats(force=True)

    # -- source and reader ----------------------------------------------------------------
    def _open(self, index: int) -> Reader | None:
        assert self.detector is not None
        source = open_cancellable(self._open_source, self._spec, lambda: self._cmd.stop)
        if source is None:
            return None
        try:
            if index > 0 and source.seekable:
                source.seek(min(index, (source.length or index + 1) - 1))
            reader = make_reader(source, self.detector, self.options.depth)
        except BaseException:
            source.close()
            raise
        pixels = self.options.pixels
        if self.options.interactive and pixels != "view":
            pixels = "keep"  # a viewer redraws what it shows
        self._flight = InFlight(self.detector, reader, pixels=pixels)
        self._holds_current = pixels == "view"
        if self.source_info is None:
            self.source_info = source_info(source)
            if self.options.tracking is not None:
                self.tracking = Tracking(self.options.tracking, frame_rate=self.source_info.fps)
            self.listener.source_opened(self.source_info)
        self._reader = reader
        reader.start()
        if self._cmd.stop:
            reader.stop()
        return reader

    def _close_reader(self) -> None:
        flight, self._flight = self._flight, None
        if flight is not None:
            flight.discard()
        reader = self._reader
        if reader is not None:
            self._dropped_before += reader.dropped
            self._reader = None
            reader.close(timeout=0.5)
            self.shortfall = reader.source.shortfall
            self.skipped = list(dict.fromkeys(self.skipped + reader.source.skipped_names))

    def _reopen(self, index: int) -> Reader | None:
        self._clock = None
        self._last_stats = 0.0  # the figures after a seek come with its first frame, not up to 0.5 s later
        if self.tracking is not None:
            self.tracking.reset()  # a jump in time: tracks from before would glue unrelated objects
        if self._seek_in_place(index):
            return self._reader
        self._close_reader()
        return self._open(index)

    def _seek_in_place(self, index: int) -> bool:
        """Seek without reopening where the reader can (a source decoded elsewhere: its
        decoder keeps running, so dragging the viewer's slider starts no process per
        position); the frames in flight are dropped first."""
        reader, flight = self._reader, self._flight
        if reader is None or flight is None or not reader.seeks_in_place:
            return False
        flight.discard()
        self.shortfall = reader.source.shortfall
        return reader.seek(index)

    def _reconnect(self, manual: bool) -> Reader | None:
        """Reopen a lost live source. A failed manual attempt is an error the user hears
        about; a failed automatic one plans the next, a little later each time."""
        self._set_state(State.LOADING)
        try:
            reader = self._reopen(0)
        except Exception as exc:
            reason = first_line(exc, typed=True)
            if manual:
                self.listener.error(reason)
                self._retries = 0
            self._schedule_retry(reason)
            self._set_state(State.LOST)
            return None
        if self._retry_at is not None or self._retries:
            self.listener.reconnecting(None, "")
        self._retry_at, self._retries = None, 0
        return reader

    def _schedule_retry(self, reason: str) -> None:
        if not (self.options.interactive and self.options.auto_reconnect):
            return
        delays = self.options.reconnect_delays
        delay = delays[min(self._retries, len(delays) - 1)]
        self._retries += 1
        self._retry_at = time.monotonic() + delay
        self.listener.reconnecting(delay, reason)

    def _retry_due(self) -> bool:
        return self._retry_at is not None and time.monotonic() >= self._retry_at

    def _idle_wait(self) -> float:
        if self._retry_at is None:
            return IDLE_WAIT_S
        return max(0.0, min(IDLE_WAIT_S, self._retry_at - time.monotonic()))

    def _finish_in_flight(self) -> None:
        while self._flight:
            self._show(self._flight.finish())

    # -- one frame --------------------------------------------------------------------------
    def _show(self, result: Result) -> None:
        if self.tracking is not None:
            result = self.tracking.apply(result)
        self.frames += 1
        previous, self._current = self._current, result
        if self._holds_current and previous is not None and previous.frame is not result.frame:
            previous.frame.settle(False)  # the player's hold; a viewer may still hold it
        self._count(result.detections)
        self._meter.tick()
        self.listener.result(result)
        self._stats.add_all(result.timings)
        if not self._described and self.detector is not None and self.detector.layout_settled:
            self._describe()  # raw or decoded is only known after one frame
        self._emit_stats()
        cmd, info = self._cmd, self.source_info
        if self.options.max_frames and self.frames >= self.options.max_frames:
            self.end = "max_frames"
            self._command(stop=True)
        elif info is None or cmd.paused:
            return
        elif info.images and self.options.interactive:
            if cmd.image_seconds <= 0:
                self.set_paused(True)  # each image waits for Play (or Right)
            else:
                self._sleep_until(time.perf_counter() + cmd.image_seconds)
        elif cmd.realtime and not info.live:
            self._pace(result.frame.timestamp)

    def _redo(self) -> None:
        """Settings changed while paused: run the frame on screen again, so a slider
        shows its effect at once."""
        if self._current is None or self.detector is None:
            return
        frame = self._current.frame
        if self._redo_buffer is None:
            self._redo_buffer = self.detector.allocate_input()
        t0 = time.perf_counter()
        detections = self.detector.detect(frame.host_image(), self._redo_buffer)
        shown = self._current
        if self.tracking is not None and shown.detections.tracked:
            detections = self.tracking.redone(shown, detections)  # the ids stay on what is shown
        self.listener.redone(Result(frame, detections, {"infer": time.perf_counter() - t0},
                                    overlay=shown.overlay))

    def _pace(self, timestamp: float) -> None:
        """Hold a file to its own frame rate, waking early for any command."""
        now = time.perf_counter()
        if self._clock is None:
            self._clock = (now, timestamp)
            return
        due = self._clock[0] + (timestamp - self._clock[1])
        if due - now > CATCH_UP_S or now - due > CATCH_UP_S:
            self._clock = (now, timestamp)  # seeked, looped or fell behind
            return
        self._sleep_until(due)

    def _sleep_until(self, due: float) -> None:
        """Wait until perf_counter() reaches `due`, waking early for a seek, a step back,
        a pause or a stop (other commands are taken after the wait)."""
        cmd = self._cmd
        generation = cmd.generation
        while not cmd.stop and (left := due - time.perf_counter()) > 0:
            cmd.wait(generation, left)
            if cmd.generation != generation:
                if cmd.seek is not None or cmd.back or cmd.paused or cmd.stop:
                    return
                generation = cmd.generation

    def _count(self, detections: Detections) -> None:
        assert self.detector is not None
        for cid in detections.class_ids:
            label = self.detector.label(int(cid))
            self._totals[label] = self._totals.get(label, 0) + 1

    def _emit_stats(self, force: bool = False) -> None:
        now = time.perf_counter()
        if not force and now - self._last_stats < STATS_EVERY_S:
            self._stats_pending = True
            return
        self._last_stats = now
        self._stats_pending = False
        frame_counts: dict[str, int] = {}
        if self._current is not None and self.detector is not None:
            for cid in self._current.detections.class_ids:
                label = self.detector.label(int(cid))
                frame_counts[label] = frame_counts.get(label, 0) + 1
        self.listener.stats(RunStats(
            fps=self._meter.fps, frames=self.frames, dropped=self.dropped, stages=self._stats.summary(),
            frame_counts=frame_counts, totals=dict(self._totals),
            counts=self.tracking.counts(self.detector.names) if self.tracking and self.detector else {},
        ))

    @property
    def stage_stats(self) -> StageStats:
        return self._stats
