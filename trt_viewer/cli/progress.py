"""A progress bar on stderr: redrawn in place on a terminal, a line every 10% otherwise."""

from __future__ import annotations

import sys
import time
from typing import TextIO


class Progress:
    """label: what is counted, in the lines written off a terminal ("progress" for a run)."""

    def __init__(self, total: int | None, stream: TextIO | None = None, min_interval: float = 0.1,
                 label: str = "progress") -> None:
        self.total = total if total and total > 0 else None
        self.label = label
        self.stream = stream or sys.stderr
        self.tty = bool(getattr(self.stream, "isatty", lambda: False)())
        self.min_interval = min_interval
        self._last = 0.0
        self._last_decile = -1
        self._started = time.perf_counter()
        self._drawn = False

    def update(self, done: int) -> None:
        if self.total is None:
            return
        if self.tty:
            now = time.perf_counter()
            if now - self._last >= self.min_interval or done >= self.total:
                self._last = now
                self._draw(done, now)
            return
        decile = min(10, done * 10 // self.total)
        if decile > self._last_decile:
            self._last_decile = decile
            self.stream.write(f"{self.label} {decile * 10:3d}% ({done}/{self.total} frames)\n")
            self.stream.flush()

    def _draw(self, done: int, now: float) -> None:
        assert self.total is not None
        frac = min(1.0, done / self.total)
        width = 30
        filled = int(frac * width)
        rate = done / max(now - self._started, 1e-9)
        eta = (self.total - done) / rate if rate > 0 else 0.0
        bar = "#" * filled + "-" * (width - filled)
        label = "" if self.label == "progress" else f"{self.label} "
        self.stream.write(
            f"\r{label}[{bar}] {frac * 100:5.1f}% {done}/{self.total} {rate:6.1f} FPS ETA {eta:5.1f}s"
        )
        self.stream.flush()
        self._drawn = True

    def finish(self) -> None:
        if self._drawn:
            self.stream.write("\n")
            self.stream.flush()
            self._drawn = False
