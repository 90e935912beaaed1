"""A still image as H.264 frames: the GPU NVDEC test's file with strong detections (dog.jpg:
dog, bicycle, car at 0.8 and above), where people.mp4's are weak (at most 0.38 for
YOLOX-Nano at 416) and move with a level of difference in the pixels.
    python tools/make_still_video.py ../shared/media/dog.jpg .gpudata/media/dog.mp4
"""

from __future__ import annotations

import sys
from fractions import Fraction

import av
import cv2


def main(src: str, dst: str, frames: int = 60) -> None:
    image = cv2.imread(src)
    if image is None:
        sys.exit(f"cannot read image {src}")
    h, w = image.shape[:2]
    image = image[: h - h % 2, : w - w % 2]  # 4:2:0 takes even sides
    with av.open(dst, "w") as out:
        stream = out.add_stream("libx264", rate=Fraction(30))
        stream.height, stream.width = image.shape[:2]
        stream.pix_fmt = "yuv420p"
        stream.options = {"crf": "18"}
        for _ in range(frames):
            for packet in stream.encode(av.VideoFrame.from_ndarray(image, format="bgr24")):
                out.mux(packet)
        for packet in stream.encode():
            out.mux(packet)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
