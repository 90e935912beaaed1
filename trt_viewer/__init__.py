"""trt_viewer: real-time YOLOX detection on TensorRT engines and ONNX models."""

import os as _os

# OpenCV's worker threads spin for a while after each parallel call before they sleep (read
# once, when OpenCV loads, so set before anything imports cv2). At hundreds of frames a
# second a pool of one thread per core then never sleeps: on the H200 machine's 16 cores it
# burned about 10 ms of CPU per frame and slowed the video decoder beside it by a third
# (docs/performance.md). Sleeping workers cost a wake-up instead. A value set by the user wins.
for _name in ("OPENCV_THREAD_POOL_ACTIVE_WAIT_WORKER", "OPENCV_THREAD_POOL_ACTIVE_WAIT_MAIN"):
    _os.environ.setdefault(_name, "0")

__version__ = "0.1.0"
