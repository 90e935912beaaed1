"""Per-stage timings (p50/p95) and a frames-per-second meter."""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Iterable

import numpy as np

STAGES = ("read", "preprocess", "infer", "postprocess", "draw", "write")


class StageStats:
    """Durations per stage in seconds, the last `window` frames of each kept."""

    def __init__(self, window: int = 20000) -> None:
        self.window = window
        self._times: dict[str, deque[float]] = {}

    def add(self, stage: str, seconds: float) -> None:
        q = self._times.get(stage)
        if q is None:
            q = self._times[stage] = deque(maxlen=self.window)
        q.append(seconds)

    def add_all(self, timings: dict[str, float]) -> None:
        for stage, seconds in timings.items():
            self.add(stage, seconds)

    def stages(self) -> list[str]:
        known = [s for s in STAGES if s in self._times]
        return known + sorted(set(self._times) - set(known))

    def percentiles(self, stage: str, qs: Iterable[float] = (50, 95)) -> list[float]:
        """Milliseconds at the given percentiles."""
        values = np.fromiter(self._times.get(stage, ()), np.float64)
        if values.size == 0:
            return [0.0 for _ in qs]
        return [float(v) * 1e3 for v in np.percentile(values, list(qs))]

    def summary(self) -> dict[str, dict[str, float]]:
        out = {}
        for stage in self.stages():
            p50, p95 = self.percentiles(stage)
            out[stage] = {"p50_ms": round(p50, 3), "p95_ms": round(p95, 3)}
        return out

    def format(self) -> str:
        return " | ".join(
            f"{stage} {v['p50_ms']:.2f}/{v['p95_ms']:.2f} ms" for stage, v in self.summary().items()
        )


class FpsMeter:
    """Frames per second over a sliding time window, and over the whole run."""

    def __init__(self, window_s: float = 1.0) -> None:
        self.window_s = window_s
        self._stamps: deque[float] = deque()
        self.count = 0
        self.started: float | None = None

    def tick(self, now: float | None = None) -> None:
        now = time.perf_counter() if now is None else now
        if self.started is None:
            self.started = now
        self.count += 1
        self._stamps.append(now)
        while self._stamps and now - self._stamps[0] > self.window_s:
            self._stamps.popleft()

    @property
    def fps(self) -> float:
        if len(self._stamps) < 2:
            return 0.0
        span = self._stamps[-1] - self._stamps[0]
        return (len(self._stamps) - 1) / span if span > 0 else 0.0

    def overall(self, now: float | None = None) -> float:
        if self.started is None or self.count == 0:
            return 0.0
        elapsed = (time.perf_counter() if now is None else now) - self.started
        return self.count / elapsed if elapsed > 0 else 0.0
