"""Which decoder a run's source is opened with (`--decode`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports this module for its choices: decoders load when used
    from trt_viewer.core.sources import Source

LOGGER = logging.getLogger(__name__)

# auto: the best this machine has; cpu: FFmpeg on the CPU, a video file in a decoder
# process of its own; thread: FFmpeg in a thread of this process (the way before the
# decoder process, kept for comparison and for where no process can be started).
DECODE_CHOICES = ("auto", "cpu", "thread")


def source_opener(decode: str = "auto", decode_threads: int | None = None) -> Callable[[str], Source]:
    """open_source() for the decoder chosen: a local video file opens in a decoder process
    (falling back to a thread, with one log line, where none can be started)."""
    from trt_viewer.core.sources import open_source
    from trt_viewer.run.decode_process import DecoderProcessUnavailable, ProcessSource, decodes_in_process

    if decode not in DECODE_CHOICES:
        raise ValueError(f"decode must be one of {', '.join(DECODE_CHOICES)}, not {decode!r}")

    def opened(spec: str) -> Source:
        if decode != "thread" and decodes_in_process(spec):
            try:
                return ProcessSource(spec, decode_threads)
            except DecoderProcessUnavailable as exc:
                LOGGER.warning("decoding %s in a thread: no decoder process could be started (%s)", spec, exc)
        return open_source(spec, decode_threads)

    return opened
