"""The desktop viewer: a thin PySide6 layer over trt_viewer.core.

One QThread (worker.py) owns the backend, the source reader and the detector; the window
(window.py) only sends it commands and shows the newest frame it publishes.
"""
