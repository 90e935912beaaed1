"""Small video files of the kinds a user may hand the GPU's decoder, from dog.jpg (the GPU
NVDEC tests' fallback cases, tests/test_gpu_nvdec.py): H.264 4:4:4 (NVDEC decodes 4:2:0
and 4:2:2 H.264 only), H.264 10-bit, HEVC, VP9, AV1, MPEG-4 Part 2, Motion JPEG, a file cut
in the middle and a text file named .mp4.
    python tools/make_nvdec_cases.py ../shared/media/dog.jpg .gpudata/media/nvdec_cases
"""

from __future__ import annotations

import sys
from pathlib import Path

import cv2
import numpy as np
from encoding import encode

CASES = {  # file name: (encoder, pixel format, options)
    "h264_444.mp4": ("libx264", "yuv444p", {"crf": "20"}),
    "h264_10bit.mp4": ("libx264", "yuv420p10le", {"crf": "20"}),
    "hevc.mp4": ("libx265", "yuv420p", {"crf": "24"}),
    "vp9.webm": ("libvpx-vp9", "yuv420p", {"crf": "30", "b": "0"}),
    "av1.mp4": ("libsvtav1", "yuv420p", {"crf": "35"}),
    "mpeg4.avi": ("mpeg4", "yuv420p", {"qscale": "3"}),
    "mjpeg.avi": ("mjpeg", "yuvj420p", {}),
}
FRAMES = 20


def main(src: str, dst: str) -> None:
    image = cv2.imread(src)
    if image is None:
        sys.exit(f"cannot read image {src}")
    image = image[:576, :768]
    folder = Path(dst)
    folder.mkdir(parents=True, exist_ok=True)
    for name, (encoder, pix_fmt, options) in CASES.items():
        try:
            panned = (np.roll(image, 4 * i, axis=1) for i in range(FRAMES))  # a pan, so frames differ
            encode(str(folder / name), panned, 10.0, encoder, pix_fmt, options)
        except Exception as exc:  # an encoder this PyAV lacks: that case is left out
            print(f"{name}: not made ({exc})")
    whole = (folder / "hevc.mp4").read_bytes()
    (folder / "cut.mp4").write_bytes(whole[: len(whole) // 2])
    (folder / "not_video.mp4").write_text("this is not a video\n")


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
