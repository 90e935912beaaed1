"""What `trt-viewer build` shows while TensorRT works, through its IProgressMonitor.

TensorRT reports nested phases, each with a number of steps, from its own threads. On a
terminal one status line is redrawn (the phase path and its step count); otherwise each
top-level phase is printed once when it starts, so logs stay short.
"""

from __future__ import annotations

import sys
import threading
import time
from typing import TYPE_CHECKING, TextIO

if TYPE_CHECKING:
    import tensorrt as trt


class BuildProgress:
    def __init__(self, stream: TextIO | None = None, min_interval: float = 0.1) -> None:
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval
        self.cancelled = threading.Event()
        self.phases_seen: list[str] = []
        self._lock = threading.Lock()
        self._stack: list[tuple[str, int, int]] = []  # (phase, steps done, steps)
        self._last = 0.0
        self._drawn = False
        self._started = time.monotonic()

    def note(self, text: str) -> None:
        with self._lock:
            self._clear_line()
            self.stream.write(text + "\n")
            self.stream.flush()

    def phase_start(self, phase: str, parent: str | None, steps: int) -> None:
        with self._lock:
            self.phases_seen.append(phase)
            if parent is None:
                self._stack = []
            else:
                while self._stack and self._stack[-1][0] != parent:
                    self._stack.pop()
            self._stack.append((phase, 0, max(int(steps), 1)))
            if not self.tty and parent is None:
                self.stream.write(f"  {phase}...\n")
                self.stream.flush()
            self._draw(force=True)

    def step_complete(self, phase: str, step: int) -> bool:
        with self._lock:
            for i, (name, _, steps) in enumerate(self._stack):
                if name == phase:
                    self._stack[i] = (name, min(int(step) + 1, steps), steps)
                    del self._stack[i + 1 :]
                    break
            self._draw()
        return not self.cancelled.is_set()  # False asks TensorRT to stop the build

    def phase_finish(self, phase: str) -> None:
        with self._lock:
            for i, (name, _, _) in enumerate(self._stack):
                if name == phase:
                    del self._stack[i:]
                    break
            self._draw()

    def finish(self) -> None:
        with self._lock:
            self._clear_line()

    @property
    def elapsed(self) -> float:
        return time.monotonic() - self._started

    def _draw(self, force: bool = False) -> None:
        if not self.tty or not self._stack:
            return
        now = time.monotonic()
        if not force and now - self._last < self.min_interval:
            return
        self._last = now
        path = " > ".join(f"{name} {done}/{steps}" for name, done, steps in self._stack)
        line = f"[{self.elapsed:6.1f}s] {path}"
        self.stream.write("\r\x1b[2K" + line[:160])
        self.stream.flush()
        self._drawn = True

    def _clear_line(self) -> None:
        if self._drawn:
            self.stream.write("\r\x1b[2K")
            self.stream.flush()
            self._drawn = False


def progress_monitor(progress: BuildProgress) -> trt.IProgressMonitor:
    """A tensorrt.IProgressMonitor feeding `progress` (TensorRT 10 and later have one)."""
    import tensorrt as trt

    class Monitor(trt.IProgressMonitor):
        def __init__(self) -> None:
            trt.IProgressMonitor.__init__(self)

        def phase_start(self, phase_name: str, parent_phase: str, num_steps: int) -> None:
            progress.phase_start(phase_name, parent_phase, num_steps)

        def step_complete(self, phase_name: str, step: int) -> bool:
            return progress.step_complete(phase_name, step)

        def phase_finish(self, phase_name: str) -> None:
            progress.phase_finish(phase_name)

    return Monitor()
