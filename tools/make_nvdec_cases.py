"""Small video files of the kinds a user may hand the GPU's decoder, from dog.jpg (the GPU
NVDEC tests' fallback cases, tests/test_gpu_nvdec.py): H.264 (4:2:0 8-bit, what NVDEC
takes), H.264 4:4:4 (NVDEC decodes 4:2:0 and 4:2:2 H.264 only), H.264 10-bit, HEVC, VP9,
AV1, MPEG-4 Part 2, Motion JPEG, a file cut in the middle and a text file named .mp4.

Also `reference.npz`: each file's frames as FFmpeg (PyAV) decodes them, before any colour
conversion, for the GPU test to hold NVDEC's planes against: per frame the SHA-256 of the
Y plane and of the interleaved UV plane (NV12's layout), and the Y plane averaged over
16x16 blocks (a frame's place in the pan shows there, and how far two decodings drift).
The decoded planes themselves would not travel to the GPU machine (13 MB per file).
    python tools/make_nvdec_cases.py ../shared/media/dog.jpg .gpudata/media/nvdec_cases
"""

from __future__ import annotations

import hashlib
import sys
from pathlib import Path

import av
import cv2
import numpy as np
from encoding import encode

CASES = {  # file name: (encoder, pixel format, options)
    "h264.mp4": ("libx264", "yuv420p", {"crf": "20"}),
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
    reference: dict[str, np.ndarray] = {}
    for name in CASES:
        if (folder / name).is_file():
            reference.update({f"{name}:{key}": value for key, value in planes(folder / name).items()})
    np.savez_compressed(folder / "reference.npz", **reference)


def digest(plane: np.ndarray) -> np.ndarray:
    return np.frombuffer(hashlib.sha256(np.ascontiguousarray(plane).tobytes()).digest(), np.uint8)


def planes(path: Path) -> dict[str, np.ndarray]:
    """The 8-bit 4:2:0 frames of `path` as FFmpeg decodes them: digests of Y and of UV
    interleaved, and Y's 16x16 block means (module docstring); other formats: nothing."""
    y_sums, uv_sums, blocks = [], [], []
    with av.open(str(path)) as container:
        for frame in container.decode(video=0):
            if frame.format.name not in ("yuv420p", "yuvj420p"):
                return {}
            h, w = frame.height, frame.width
            yuv = frame.to_ndarray()  # Y over U over V, rows of w, w/2 and w/2
            y = yuv[:h]
            u = yuv[h:h + h // 4].reshape(h // 2, w // 2)
            v = yuv[h + h // 4:].reshape(h // 2, w // 2)
            uv = np.stack([u, v], axis=-1).reshape(h // 2, w)
            y_sums.append(digest(y))
            uv_sums.append(digest(uv))
            blocks.append(cv2.resize(y.astype(np.float32), (w // 16, h // 16), interpolation=cv2.INTER_AREA))
    return {"y": np.array(y_sums), "uv": np.array(uv_sums), "blocks": np.array(blocks)}


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
