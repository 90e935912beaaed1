"""The desktop viewer: a thin PySide6 layer over trt_viewer.core.

One QThread (worker.py) owns the backend, the source reader and the detector; the window
(window.py) is made of small parts: its run (run_control.py) only sends the worker
commands, and the display (display.py) shows the newest frame it publishes.
"""
