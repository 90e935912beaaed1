"""The pure core: numpy and OpenCV only (no Qt, TensorRT or pycuda import)."""
