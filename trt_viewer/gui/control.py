"""Commands from the GUI thread to the worker: plain fields behind one condition.

Every change bumps a generation counter and wakes the worker, so a paused worker reacts
to a step, a seek or a slider at once instead of on its next poll.
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass, field
from pathlib import Path

from trt_viewer.core.yolox import PostprocessConfig


@dataclass
class Controls:
    paused: bool = False
    loop: bool = False
    realtime: bool = False
    config: PostprocessConfig = field(default_factory=PostprocessConfig)
    preset: str = "auto"
    stop: bool = False
    steps: int = 0
    seek: int | None = None
    reconnect: bool = False
    refresh: bool = False  # settings changed: redo the frame on screen if paused
    # kind ('record' | 'export') -> a path to start writing to, or None to stop.
    outputs: dict[str, Path | None] = field(default_factory=dict)
    view: tuple[int, int, float] = (0, 0, 1.0)  # the view's size in device pixels, and its ratio
    generation: int = 0
    cond: threading.Condition = field(default_factory=threading.Condition, repr=False)

    def update(self, **changes: object) -> None:
        with self.cond:
            for key, value in changes.items():
                setattr(self, key, value)
            self.generation += 1
            self.cond.notify_all()

    def request_output(self, kind: str, path: Path | None) -> None:
        with self.cond:
            self.outputs[kind] = path
            self.generation += 1
            self.cond.notify_all()

    def add_step(self) -> None:
        with self.cond:
            self.steps += 1
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
