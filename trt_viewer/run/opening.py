"""Open a source in a helper thread, so a stop is not held up by a camera that takes
seconds to answer (OpenCV waits up to its open timeout)."""

from __future__ import annotations

import threading
from collections.abc import Callable

from trt_viewer.core.sources import Source

POLL_S = 0.05


class Opening:
    def __init__(self, opener: Callable[[str], Source], spec: str) -> None:
        self._lock = threading.Lock()
        self._abandoned = False
        self.source: Source | None = None
        self.error: BaseException | None = None
        self.done = threading.Event()
        self._thread = threading.Thread(
            target=self._run, args=(opener, spec), name="trt-viewer-open", daemon=True
        )
        self._thread.start()

    def _run(self, opener: Callable[[str], Source], spec: str) -> None:
        try:
            source = opener(spec)
        except BaseException as exc:
            self.error = exc
            self.done.set()
            return
        with self._lock:
            if self._abandoned:
                source.close()  # nobody will take it: release the device here
            else:
                self.source = source
        self.done.set()

    def abandon(self) -> None:
        with self._lock:
            self._abandoned = True
            source, self.source = self.source, None
        if source is not None:  # opened just before the stop was seen
            source.close()


def open_cancellable(
    opener: Callable[[str], Source], spec: str, cancelled: Callable[[], bool]
) -> Source | None:
    """The opened source; None if cancelled first. Re-raises the opener's error."""
    opening = Opening(opener, spec)
    while not opening.done.wait(POLL_S):
        if cancelled():
            opening.abandon()
            return None
    if opening.error is not None:
        raise opening.error
    if cancelled():
        assert opening.source is not None
        opening.source.close()
        return None
    return opening.source
