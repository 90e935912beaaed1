"""trt_viewer: real-time YOLOX detection on TensorRT engines and ONNX models."""

__version__ = "0.1.0"
