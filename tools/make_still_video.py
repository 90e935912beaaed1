"""A still image as H.264 frames: the GPU NVDEC test's file with strong detections (dog.jpg:
dog, bicycle, car at 0.8 and above), where people.mp4's are weak (at most 0.38 for
YOLOX-Nano at 416) and move with a level of difference in the pixels.
    python tools/make_still_video.py ../shared/media/dog.jpg .gpudata/media/dog.mp4
"""

from __future__ import annotations

import sys

import cv2
from encoding import encode


def main(src: str, dst: str, frames: int = 60) -> None:
    image = cv2.imread(src)
    if image is None:
        sys.exit(f"cannot read image {src}")
    h, w = image.shape[:2]
    image = image[: h - h % 2, : w - w % 2]  # 4:2:0 takes even sides
    encode(dst, (image for _ in range(frames)), 30.0, options={"crf": "18"})


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
