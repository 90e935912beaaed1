"""The run layer: one loop for the viewer and the CLI, free of Qt, TensorRT and pycuda.

A Player reads a source, keeps frames in flight through a Detector's backend and reports
through a Listener; the viewer's QThread and `trt-viewer run` are both thin adapters of it.
"""
