"""The built-in demo: a YOLOX-Nano trained on generated scenes, and a clip to run it on.

The model and its names ship in the package's assets; the clip is rendered from the
scene generator on first use into the user's cache, so it costs nothing to ship and is
the same on every machine.
"""

from __future__ import annotations

import os
import tempfile
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from pathlib import Path
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import numpy as np

    from trt_viewer.demo.scenes import SceneVideo

ASSETS = Path(__file__).resolve().parent.parent.parent / "assets"
PACKAGED_ASSETS = Path(__file__).resolve().parent / "assets"

# Bump VIDEO_VERSION whenever the generator's output changes, so stale caches are redone.
VIDEO_VERSION = 3
VIDEO_SEED = 90210  # training draws from other seeds, so the clip is footage it never saw
VIDEO_SIZE = (1280, 720)
VIDEO_FPS = 30
VIDEO_SECONDS = 24


def _asset(name: str) -> Path:
    """An asset from the installed package if it carries one, else from the source tree."""
    for folder in (PACKAGED_ASSETS, ASSETS):
        if (folder / name).is_file():
            return folder / name
    return ASSETS / name


def demo_model_path() -> Path:
    return _asset("demo.onnx")


def demo_names_path() -> Path:
    return _asset("demo.names")


def demo_names() -> list[str]:
    return [n.strip() for n in demo_names_path().read_text().splitlines() if n.strip()]


def cache_dir() -> Path:
    base = os.environ.get("XDG_CACHE_HOME") or str(Path.home() / ".cache")
    return Path(base) / "trt_viewer"


def demo_video_path() -> Path:
    w, h = VIDEO_SIZE
    return cache_dir() / f"demo_v{VIDEO_VERSION}_{VIDEO_SEED}_{w}x{h}.mp4"


Progress = Callable[[int, int], None]  # (frames done, frames in all)


def ensure_demo_video(progress: Progress | None = None) -> Path:
    """The demo clip, rendered on first call and reused afterwards; `progress` hears about
    each frame of a render."""
    path = demo_video_path()
    if path.is_file() and path.stat().st_size > 0:
        return path
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        return _render_into(path, progress)
    except OSError:
        # An unusable cache (read-only home, a file in the way) must not stop the demo.
        fallback = Path(tempfile.gettempdir()) / "trt_viewer" / path.name
        if fallback.is_file() and fallback.stat().st_size > 0:
            return fallback
        fallback.parent.mkdir(parents=True, exist_ok=True)
        return _render_into(fallback, progress)


def _render_into(path: Path, progress: Progress | None = None) -> Path:
    # A temp name in the same folder, then a rename: a reader (or a second process doing
    # the same) never sees a half-written file. The suffix tells OpenCV the container.
    # An interrupt (Ctrl+C, or SIGTERM/SIGHUP, which the CLI turns into one) still
    # removes the temp file here: no orphan is left in the cache.
    fd, tmp = tempfile.mkstemp(prefix=path.stem + ".", suffix=".part.mp4", dir=path.parent)
    os.close(fd)
    try:
        write_video(Path(tmp), VIDEO_SEED, VIDEO_SIZE, VIDEO_FPS, VIDEO_SECONDS * VIDEO_FPS, progress)
        os.replace(tmp, path)
    finally:
        if os.path.exists(tmp):
            os.unlink(tmp)
    return path


def _rendered_ahead(clip: SceneVideo, n_frames: int, ahead: int = 8) -> Iterator[np.ndarray]:
    """Frames in order, rendered a few ahead on worker threads (bounded, so a slow
    encoder never piles up frames in memory)."""
    workers = max(1, min(4, (os.cpu_count() or 2) - 1))
    with ThreadPoolExecutor(max_workers=workers) as pool:
        pending: deque[Future[np.ndarray]] = deque()
        for i in range(n_frames):
            pending.append(pool.submit(lambda k: clip.frame(k).image, i))
            if len(pending) > ahead:
                yield pending.popleft().result()
        while pending:
            yield pending.popleft().result()


def write_video(path: Path, seed: int, size: tuple[int, int], fps: int, n_frames: int,
                progress: Progress | None = None) -> None:
    import cv2

    from trt_viewer.demo.scenes import SceneVideo

    clip = SceneVideo(seed, size[0], size[1], n_frames, float(fps))
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter.fourcc(*"mp4v"), fps, size)
    if not writer.isOpened():
        raise RuntimeError(f"OpenCV cannot write mp4v video to {path}")
    try:
        # Rendering and encoding each take about half the time; OpenCV releases the GIL
        # in both, so rendering ahead on a thread nearly halves the wait.
        for done, image in enumerate(_rendered_ahead(clip, n_frames), 1):
            writer.write(image)
            if progress is not None:
                progress(done, n_frames)
    finally:
        writer.release()
    if path.stat().st_size == 0:
        raise RuntimeError(f"OpenCV wrote an empty video to {path}")
