"""What one run is asked to do (RunSpec) and what it reports about its model and source."""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from trt_viewer.core.sources import URL_PATTERN
from trt_viewer.core.yolox import PostprocessConfig
from trt_viewer.run.tracking import TrackingOptions


@dataclass(frozen=True)
class RunSpec:
    model: str
    source: str
    preset: str = "auto"
    config: PostprocessConfig = field(default_factory=PostprocessConfig)
    loop: bool = False
    realtime: bool = False
    start_paused: bool = False
    image_seconds: float = 0.0  # folders of images: how long each stays while playing; 0 pauses on each
    input_size: tuple[int, int] | None = None
    names_file: Path | None = None  # class names, one per line (None: the model's own, by core.names)
    tracking: TrackingOptions | None = None  # track (and count) from the first frame
    decode: str = "auto"  # the decoder for video files (run.decoding.DECODE_CHOICES; PlayOptions.decode)


@dataclass(frozen=True)
class SourceInfo:
    spec: str
    live: bool
    length: int | None
    fps: float | None
    seekable: bool
    size: tuple[int, int] | None = None  # (W, H) of the first frame, once known
    images: bool = False  # a folder (or list) of images: each frame is a file of its own
    # What decodes it (source_decoder): "nvdec", "cpu (process)" or "cpu (thread)"; "" unknown.
    decoder: str = ""


def model_info(backend: Any, detector: Any) -> dict[str, Any]:
    """backend.describe() plus what the detector settled: names, layout, preset."""
    info = dict(backend.describe())
    info.update(
        names=list(detector.names),
        names_source=detector.names_source,
        layout=detector.layout,
        preset=detector.preset.name,
    )
    return info


def source_info(source: Any) -> SourceInfo:
    return SourceInfo(
        spec=source.spec, live=bool(source.live), length=source.length,
        fps=source.fps, seekable=bool(source.seekable), images=bool(source.image_files),
        decoder=source_decoder(source),
    )


def source_decoder(source: Any) -> str:
    """Which decoder run.decoding opened `source` with (Source.decoder): a decoding that
    fell back (NVDEC to the CPU, a process to a thread) is seen here as what it became."""
    return str(source.decoder)


def display_name(spec: str) -> str:
    """A source's short name for titles, menus and messages."""
    spec = spec.strip()
    if re.fullmatch(r"\d+", spec) and not Path(spec).exists():  # a file named 20240501 is a file
        return f"Camera {spec}"
    if URL_PATTERN.match(spec):
        return spec
    return Path(spec).name or spec
