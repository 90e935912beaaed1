"""Which decoder a run's source is opened with (`--decode`)."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TYPE_CHECKING

if TYPE_CHECKING:  # the command line imports this module for its choices: decoders load when used
    from trt_viewer.backends.base import DeviceContext
    from trt_viewer.core.sources import Source

LOGGER = logging.getLogger(__name__)

# auto: NVDEC where the backend runs on the GPU and PyNvVideoCodec can decode the file,
# else cpu; cpu: FFmpeg on the CPU, a video file in a decoder process of its own; thread:
# FFmpeg in a thread of this process (the way before the decoder process, kept for
# comparison and for where no process can be started); nvdec: the GPU's decoder, frames
# left on the GPU. Cameras, streams and images are decoded as before whatever the choice.
DECODE_CHOICES = ("auto", "cpu", "thread", "nvdec")


def source_opener(decode: str = "auto", decode_threads: int | None = None,
                  device: DeviceContext | None = None) -> Callable[[str], Source]:
    """open_source() for the decoder chosen. A local video file opens on NVDEC (nvdec, or
    auto with a GPU `device`), else in a decoder process, else in a thread; each step
    down says why in one log line (a warning where the user asked for what failed)."""
    from trt_viewer.core.sources import open_source
    from trt_viewer.run.decode_process import DecoderProcessUnavailable, ProcessSource, decodes_in_process

    if decode not in DECODE_CHOICES:
        raise ValueError(f"decode must be one of {', '.join(DECODE_CHOICES)}, not {decode!r}")
    told: set[str] = set()  # one line per reason, not one per reopen (a loop, a seek)

    def say(level: int, message: str) -> None:
        if message not in told:
            told.add(message)
            LOGGER.log(level, message)

    def opened(spec: str) -> Source:
        if not decodes_in_process(spec):  # a camera, stream, image or folder
            return open_source(spec, decode_threads)
        if decode in ("auto", "nvdec") and (device is not None or decode == "nvdec"):
            from trt_viewer.run.nvdec import AUTO_CODECS, NvdecSource, NvdecUnavailable

            try:
                if device is None:
                    raise NvdecUnavailable("this backend takes frames in host memory, not on the GPU")
                return NvdecSource(spec, device, AUTO_CODECS if decode == "auto" else None)
            except NvdecUnavailable as exc:
                say(logging.WARNING if decode == "nvdec" else logging.INFO, f"decoding {spec} on the CPU: {exc}")
        if decode != "thread":
            try:
                return ProcessSource(spec, decode_threads)
            except DecoderProcessUnavailable as exc:
                # A warning where asked for; with auto, a platform without it (Windows, a
                # frozen app) should not hear about it at every open.
                say(logging.WARNING if decode == "cpu" else logging.INFO,
                    f"decoding {spec} in a thread: no decoder process could be started ({exc})")
        return open_source(spec, decode_threads)

    return opened
