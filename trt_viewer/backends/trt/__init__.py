"""The TensorRT side of trt_viewer, in small modules; TensorRT and pycuda load lazily.

- modules:    importing tensorrt and pycuda, with one line saying what is missing
- log:        TensorRT's logger into Python logging, and the reasons behind its failures
- cuda:       the device's primary context and the pinned/device buffers of one engine
- lanes:      two frames in flight: per-frame buffers and events, three streams
- gpu_letterbox: the letterbox as one CUDA kernel (compiled once per process with nvcc)
- frame_buffer: page-locked buffers for raw frames, filled by the reader thread
- plan:       engine files, with or without an Ultralytics-style metadata prefix
- engine:     deserialising an engine and reading its I/O tensors and profiles
- onnx_model: what an ONNX file declares, without TensorRT
- fp16:       ONNX to FP16 (I/O kept float32), for TensorRT without an FP16 builder flag
- builder:    `trt-viewer build`; progress: its progress display; calibrator: INT8 data
- report:     `trt-viewer inspect`
- nvdec_check: the child process that tries NVDEC on a file's first frame (run/nvdec_probe.py)
"""
