"""people.mp4 scaled to 1920x1080 as H.264 (the GPU benchmarks' real-video file).

ffmpeg -i people.mp4 -vf scale=1920:1080 -frames:v 600 -c:v libx264 people_1080p.mp4 does
the same; this uses PyAV's bundled FFmpeg, for machines without the ffmpeg command.
    python tools/make_1080p.py ../shared/media/people.mp4 .gpudata/media/people_1080p.mp4
"""

from __future__ import annotations

import sys
from collections.abc import Iterator

import cv2
import numpy as np
from encoding import encode


def main(src: str, dst: str, frames: int = 600) -> None:
    capture = cv2.VideoCapture(src)
    fps = capture.get(cv2.CAP_PROP_FPS) or 30.0

    def scaled() -> Iterator[np.ndarray]:
        for _ in range(frames):
            ok, image = capture.read()
            if not ok:
                return
            yield cv2.resize(image, (1920, 1080), interpolation=cv2.INTER_LINEAR)

    # A file like a camera's: B-frames, CABAC.
    encode(dst, scaled(), fps, options={"crf": "20", "preset": "medium"})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
